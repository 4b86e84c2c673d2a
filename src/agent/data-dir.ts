/**
 * The data dir: where each of its parts lives, its first-time setup (config file and wallet), and keeping it
 * the owner's only.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config, Network } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import { Wallet } from '../../wallet/index.ts';

/** Where each part of a data dir lives. */
export function paths(config: Config) {
  return {
    db: join(config.dataDir, 'agent.db'),
    wallet: join(config.dataDir, 'wallet'),
    devnet: join(config.dataDir, 'devnet'),
    blobs: join(config.dataDir, 'blobs'),
    configFile: join(config.dataDir, 'config.json'),
  };
}

/** Writes a file atomically with mode 0600 (it may hold the admin token, or a child's passphrase). */
export function writePrivate(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

/**
 * First-time setup of a data dir: the config file (network and a fresh admin token) and the wallet.
 * Returns the mnemonic, which the caller shows once and never stores in clear.
 * @throws AgentError WALLET_EXISTS when the data dir already has a wallet
 */
export async function initDataDir(opts: { dataDir: string; network: Network; passphrase: string; mnemonic?: string; kdf?: { N: number; r: number; p: number } }): Promise<{ mnemonic: string; nodeId: string; adminToken: string }> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const walletDir = join(opts.dataDir, 'wallet');
  if (Wallet.exists(walletDir)) throw new AgentError('WALLET_EXISTS', `a wallet already exists in ${walletDir}`);
  const configFile = join(opts.dataDir, 'config.json');
  const existing = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
  const adminToken = typeof existing.adminToken === 'string' && existing.adminToken.length >= 16 ? existing.adminToken : randomBytes(24).toString('base64url');
  writePrivate(configFile, `${JSON.stringify({ ...existing, network: opts.network, adminToken }, null, 2)}\n`);
  const { wallet, mnemonic } = await Wallet.create({ dir: walletDir, passphrase: opts.passphrase, network: opts.network, ...(opts.mnemonic ? { mnemonic: opts.mnemonic } : {}), ...(opts.kdf ? { kdf: opts.kdf } : {}) });
  return { mnemonic, nodeId: wallet.nodeId, adminToken };
}

/**
 * The data dir is the owner's only (0700): it holds the database (every fileId, each a download link), the
 * blobs and the wallet. Fixed at every start, so a dir made 0755 by an older version (or by hand) is closed.
 */
export function makeDataDirPrivate(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}
