/**
 * Opens the local cloud for a directory: its state (made on the first start, with a wallet of its own whose
 * passphrase stays in the cloud's directory), its HTTP API, and the loop that watches invoices and servers.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EsploraClient } from '../../chain/index.ts';
import { Wallet } from '../../../wallet/index.ts';
import { Cloud, prepareDir, type Plan } from './cloud.ts';
import { STUB_ENTRY } from './image.ts';
import { buildCloudApp } from './routes.ts';
import { loadState, saveState, type CloudState } from './state.ts';

export const DEFAULT_CLOUD_PORT = 8430;

export interface OpenCloudOptions {
  dir: string;
  esploraUrl: string;
  /** 8430 by default; 0 for any free port. */
  port?: number;
  /** Between two passes over invoices and servers; 1000 ms by default. */
  pollMs?: number;
  storjEntry?: string;
  tamperedImage?: boolean;
  plans?: readonly Plan[];
  /** The system clock the cloud's clock is offset from (tests freeze it); Date.now by default. */
  systemNow?: () => number;
  log?: (line: string) => void;
}

export interface OpenCloud {
  url: string;
  cloud: Cloud;
  close(): Promise<void>;
}

/** The saved state, or a new one with a new wallet. The mnemonic is not kept: the passphrase opens the keystore. */
async function stateFor(dir: string): Promise<CloudState> {
  const saved = loadState(dir);
  if (saved) return saved;
  const walletDir = join(dir, 'wallet');
  const passphraseFile = join(walletDir, 'passphrase');
  // The passphrase is written before the keystore, and a first start cut short after it is resumed, not refused.
  let xpub: string;
  if (Wallet.exists(walletDir)) {
    xpub = (await Wallet.open({ dir: walletDir, passphrase: readFileSync(passphraseFile, 'utf8') })).accountXpub();
  } else {
    const passphrase = randomBytes(32).toString('hex');
    mkdirSync(walletDir, { recursive: true, mode: 0o700 });
    writeFileSync(passphraseFile, passphrase, { mode: 0o600 });
    xpub = (await Wallet.create({ dir: walletDir, passphrase, network: 'regtest' })).wallet.accountXpub();
  }
  const state: CloudState = { network: 'regtest', xpub, nextAddressIndex: 0, clockOffsetMs: 0, servers: {}, invoices: {} };
  saveState(dir, state);
  return state;
}

export async function openCloud(opts: OpenCloudOptions): Promise<OpenCloud> {
  prepareDir(opts.dir);
  const log = opts.log ?? (() => undefined);
  const state = await stateFor(opts.dir);
  const cloud = new Cloud({
    dir: opts.dir,
    state,
    chain: new EsploraClient({ baseUrl: opts.esploraUrl }),
    image: { storjEntry: opts.storjEntry ?? STUB_ENTRY, tampered: opts.tamperedImage === true },
    ...(opts.plans ? { plans: opts.plans } : {}),
    ...(opts.systemNow ? { systemNow: opts.systemNow } : {}),
    log,
  });
  const app = buildCloudApp(cloud, log);
  const address = await app.listen({ host: '127.0.0.1', port: opts.port ?? DEFAULT_CLOUD_PORT });
  const pollMs = opts.pollMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const loop = (): void => {
    cloud.tick().then(
      () => undefined,
      (e: unknown) => log(`pass failed: ${(e as Error).message}`),
    ).finally(() => {
      if (!closed) timer = setTimeout(loop, pollMs);
    });
  };
  loop();
  return {
    url: address,
    cloud,
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await app.close();
      await cloud.idle();
      await cloud.tick();
    },
  };
}
