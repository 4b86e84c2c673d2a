/**
 * Devnet: a real regtest chain (bcoin) behind an Esplora-compatible HTTP facade, with a faucet and
 * control endpoints. It plays the outside world for `npm start` and for the tests.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AgentError } from '../errors/index.ts';
import { MAX_SAT } from '../money/index.ts';
import { addressToScript, dustThreshold, scriptToAddress } from './address.ts';
import type { DevnetControl } from './control.ts';
import { buildFacade } from './facade.ts';
import type { PayOptions } from './faucet.ts';
import { RegtestNode } from './node.ts';

/** Segwit activates by BIP9 on regtest once 500 blocks exist (3 windows of 144 plus margin); the agent only uses segwit. */
const SEGWIT_READY_HEIGHT = 500;
/** Most blocks one mine() or reorg() call may make: 1000 take about a second and hold the node's lock meanwhile. */
const MAX_BLOCKS_PER_CALL = 1000;
const TXID = /^[0-9a-fA-F]{64}$/;
const FAUCET_KEY_FILE = 'faucet-key.json';

export interface DevnetStartOptions {
  /** Folder for the chain, the mempool and the faucet key; undefined = in memory, gone on close. */
  dir?: string;
  /** Interface to listen on; default 127.0.0.1 (the control endpoints have no authentication). */
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Blocks to mine at start; default: up to height 500 (so 500 on a new chain, nothing on a reopened one). */
  initialBlocks?: number;
  /** Receives background warnings of the node. */
  log?: (line: string) => void;
}

export class Devnet implements DevnetControl {
  /** Where the faucet's coins (every coinbase by default) go. */
  readonly faucetAddress: string;
  /** The HTTP facade (src/devnet/facade.ts). */
  private readonly app: FastifyInstance;
  /** http://HOST:PORT once listening. */
  private base = '';
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly node: RegtestNode,
    log: ((line: string) => void) | undefined,
  ) {
    const address = scriptToAddress(node.faucetScript);
    if (address === undefined) throw new AgentError('INTERNAL', 'the faucet script has no address');
    this.faucetAddress = address;
    this.app = buildFacade(node, this, log);
  }

  /** Base URL of the Esplora-compatible API, e.g. http://127.0.0.1:PORT/api */
  get url(): string {
    return `${this.base}/api`;
  }

  /** Base URL of the control endpoints, e.g. http://127.0.0.1:PORT/dev */
  get controlUrl(): string {
    return `${this.base}/dev`;
  }

  /**
   * Opens (or creates) the chain, mines the initial blocks and starts the HTTP facade.
   * @throws AgentError BAD_REQUEST for invalid options; Error when the chain database cannot be
   * opened (another process holds it) or the port cannot be bound.
   */
  static async start(opts: DevnetStartOptions = {}): Promise<Devnet> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AgentError('BAD_REQUEST', `port must be 0..65535, not ${port}`);
    if (opts.initialBlocks !== undefined) checkBlockCount(opts.initialBlocks, 'initialBlocks', 0);
    const dir = opts.dir === undefined ? undefined : resolve(opts.dir);
    const faucetKey = dir === undefined ? randomBytes(32) : await loadOrCreateFaucetKey(dir);
    const node = await RegtestNode.open({ dir, faucetKey, log: opts.log });
    let devnet: Devnet | undefined;
    try {
      const initial = opts.initialBlocks ?? Math.max(0, SEGWIT_READY_HEIGHT - node.height);
      if (initial > 0) await node.mine(initial);
      devnet = new Devnet(node, opts.log);
      await devnet.app.listen({ port, host });
      devnet.base = `http://${urlHost(host)}:${(devnet.app.server.address() as AddressInfo).port}`;
      return devnet;
    } catch (e) {
      await devnet?.app.close();
      await node.close();
      throw e;
    }
  }

  height(): number {
    return this.node.height;
  }

  tipHash(): string {
    return this.node.tipHash;
  }

  /**
   * The faucet pays `amountSat` to `address`; the transaction enters the mempool (not mined).
   * Safe to call many times in a row and concurrently: each pay spends coins no other pay spends.
   * `opts` makes payments the 0-conf policy must refuse: one that signals replacement (BIP125), or one
   * that spends an output of a faucet transaction still in the mempool.
   * @returns the txid.
   * @throws AgentError WALLET_BAD_ADDRESS, AMOUNT_INVALID, WALLET_DUST (below Core's dust limit), DEVNET_FAUCET_EMPTY.
   */
  async pay(address: string, amountSat: bigint, opts: PayOptions = {}): Promise<string> {
    const script = addressToScript(address);
    if (amountSat <= 0n || amountSat > MAX_SAT) throw new AgentError('AMOUNT_INVALID', `amountSat must be 1..${MAX_SAT}`);
    const dust = dustThreshold(script);
    if (amountSat < dust) throw new AgentError('WALLET_DUST', `${amountSat} sat is below the dust limit of ${dust} sat for this address`);
    return this.node.pay(script, amountSat, opts);
  }

  /**
   * Mines `blocks` blocks including the mempool's transactions; coinbases pay `toAddress` (default the faucet).
   * @throws AgentError BAD_REQUEST for a count outside 1..1000, WALLET_BAD_ADDRESS.
   */
  async mine(blocks: number, toAddress?: string): Promise<{ height: number; hashes: string[] }> {
    checkBlockCount(blocks, 'blocks', 1);
    const script = toAddress === undefined ? undefined : addressToScript(toAddress);
    return this.node.mine(blocks, script);
  }

  /**
   * Broadcasts a raw transaction (hex) to the mempool.
   * @returns the txid.
   * @throws AgentError CHAIN_TX_REJECTED with the node's reason (e.g. "mandatory-script-verify-flag-failed (...)").
   */
  async submitTx(hex: string): Promise<string> {
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new AgentError('CHAIN_TX_REJECTED', 'TX decode failed', { reason: 'TX decode failed', rpcCode: -22 });
    return this.node.submit(Buffer.from(hex, 'hex'));
  }

  /**
   * Rewinds `depth` blocks and mines a longer branch of `newBlocks` (default depth + 1). Rewound
   * transactions return to the mempool, except each txid in `doubleSpend` (a faucet payment, mined or
   * in the mempool): a conflicting spend of its faucet inputs is mined in the new branch instead.
   * @returns the new height and the removed block hashes (oldest first).
   * @throws AgentError BAD_REQUEST for bad numbers or a txid that cannot be double-spent, NOT_FOUND for an unknown txid.
   */
  async reorg(opts: { depth: number; newBlocks?: number; doubleSpend?: string[] }): Promise<{ height: number; removed: string[] }> {
    const { depth } = opts;
    checkBlockCount(depth, 'depth', 0);
    const newBlocks = opts.newBlocks ?? depth + 1;
    checkBlockCount(newBlocks, 'newBlocks', 1);
    const doubleSpend = opts.doubleSpend ?? [];
    for (const txid of doubleSpend) {
      if (typeof txid !== 'string' || !TXID.test(txid)) throw new AgentError('BAD_REQUEST', 'doubleSpend must hold 64-hex-digit txids');
    }
    return this.node.reorg(depth, newBlocks, [...new Set(doubleSpend.map((t) => t.toLowerCase()))]);
  }

  /** The faucet's address and what it can spend now (mature coins and unconfirmed change). */
  async faucet(): Promise<{ address: string; balanceSat: bigint }> {
    return { address: this.faucetAddress, balanceSat: await this.node.faucetBalance() };
  }

  /** Stops the HTTP facade and closes the chain cleanly. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.app.close();
      await this.node.close();
    })();
    return this.closing;
  }
}

function checkBlockCount(n: number, name: string, min: number): void {
  if (!Number.isSafeInteger(n) || n < min || n > MAX_BLOCKS_PER_CALL) {
    throw new AgentError('BAD_REQUEST', `${name} must be an integer from ${min} to ${MAX_BLOCKS_PER_CALL}`);
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The faucet's private key, kept in `dir/faucet-key.json` (mode 0600) so a reopened chain's coins
 * stay spendable. It is a regtest-only key: it guards play money on a private chain, which is why
 * it may sit in a plain file; never reuse it on a real network.
 */
async function loadOrCreateFaucetKey(dir: string): Promise<Buffer> {
  const file = join(dir, FAUCET_KEY_FILE);
  const existing = await readFaucetKey(file);
  if (existing) return existing;
  const key = randomBytes(32);
  await mkdir(dir, { recursive: true });
  const body = JSON.stringify(
    {
      network: 'regtest',
      privateKey: key.toString('hex'),
      note: 'Devnet faucet key. REGTEST ONLY: it holds play money on a private chain. Never use it on mainnet or testnet.',
    },
    null,
    2,
  );
  // Written whole to a temp file, then linked into place: a crash leaves no half key, and of two
  // processes starting on the same dir at once, the second gets EEXIST and reads the first's key
  // (a rename would let it silently replace the key the chain's coins are paid to).
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(body + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await unlink(tmp);
  }
  const stored = await readFaucetKey(file);
  if (!stored) throw new AgentError('INTERNAL', `${file} vanished while it was being created`);
  return stored;
}

/** @throws AgentError INTERNAL when the file exists but holds no key. */
async function readFaucetKey(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let key: unknown;
  try {
    key = (JSON.parse(text) as { privateKey?: unknown }).privateKey;
  } catch {
    key = undefined;
  }
  if (typeof key !== 'string' || !/^[0-9a-f]{64}$/.test(key)) throw new AgentError('INTERNAL', `${file} does not hold a faucet key`);
  return Buffer.from(key, 'hex');
}
