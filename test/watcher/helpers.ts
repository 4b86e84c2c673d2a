// Shared pieces of the payment watcher's tests: wallet addresses in a real database, a sink that records
// what it is told, and a chain backend proxy that counts requests (to show detection cost does not grow
// with the number of addresses).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import { Psbt, networks, payments } from 'bitcoinjs-lib';
import { openAgentDb } from '../../src/agent/modules.ts';
import type { Db } from '../../src/db/index.ts';
import { AgentError } from '../../src/errors/index.ts';
import { after, before } from 'node:test';
import { Devnet } from '../../src/devnet/index.ts';
import { EsploraClient } from '../../src/chain/index.ts';
import type { ChainBackend, ChainUtxo, MempoolTx, PaymentSink, TxStatus, WatchedPayment } from '../../src/chain/index.ts';

interface TestContext {
  after: (fn: () => unknown) => void;
}

/**
 * One in-memory devnet for a whole test file (started before its tests, closed after), with an Esplora client
 * on it; `use` receives both once the devnet is up.
 */
export function withDevnet(use: (devnet: Devnet, chain: EsploraClient) => void): void {
  let devnet: Devnet | undefined;
  before(async () => {
    devnet = await Devnet.start();
    use(devnet, new EsploraClient({ baseUrl: devnet.url }));
  });
  after(() => devnet?.close());
}

/** A fresh database in a temp folder (a file, so a test can reopen it as a restarted agent would). */
export function tempDbPath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-watcher-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'agent.db');
}

export function memoryDb(t: TestContext): Db {
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  return db;
}

export interface Key {
  address: string;
  script: Buffer;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A new P2WPKH regtest key and address, recorded in wallet_addresses as an upload address. */
export function addKey(db: Db): Key {
  // tiny-secp256k1 directly: ecpair's bundled typings do not resolve under NodeNext (its .d.ts import without extensions).
  let privateKey = randomBytes(32);
  while (!ecc.isPrivate(privateKey)) privateKey = randomBytes(32); // a scalar outside 1..n-1: about 2^-128 likely
  const publicKey = ecc.pointFromScalar(privateKey, true);
  if (!publicKey) throw new Error('no public key');
  const p = payments.p2wpkh({ pubkey: publicKey, network: networks.regtest });
  if (!p.address || !p.output) throw new Error('p2wpkh gave no address');
  const next = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS idx FROM wallet_addresses WHERE chain = 0').get() as { idx: bigint };
  const script = Buffer.from(p.output);
  db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, ?, ?, ?, 'upload', ?)").run(
    next.idx,
    p.address,
    script,
    0n, // when it was handed out: nothing the watcher reads, so no clock is asked
  );
  return { address: p.address, script, publicKey, privateKey };
}

/** A new upload address of the wallet (see addKey). */
export function addAddress(db: Db): string {
  return addKey(db).address;
}

/** A signed transaction spending one P2WPKH output of `key` to `toScript` (value minus `feeSat`). */
export function spendHex(key: Key, outpoint: { txid: string; vout: number; valueSat: bigint }, toScript: Uint8Array, feeSat: bigint): string {
  const psbt = new Psbt({ network: networks.regtest });
  psbt.addInput({ hash: outpoint.txid, index: outpoint.vout, witnessUtxo: { script: key.script, value: outpoint.valueSat } });
  psbt.addOutput({ script: toScript, value: outpoint.valueSat - feeSat });
  psbt.signInput(0, { publicKey: key.publicKey, sign: (hash: Uint8Array) => ecc.sign(hash, key.privateKey) });
  psbt.finalizeAllInputs();
  return psbt.extractTransaction().toHex();
}

/**
 * `count` dormant addresses in one INSERT ... SELECT: random P2WPKH scripts no one pays. The address text
 * is a placeholder, which is all the watcher needs of an address it never matches.
 */
export function addDormantAddresses(db: Db, count: number): void {
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at)
     SELECT 1, i, 'dormant' || i, x'0014' || randomblob(20), 'upload', 0 FROM n`,
  ).run(count);
}

export class RecordingSink implements PaymentSink {
  readonly counted: WatchedPayment[] = [];
  readonly reversed: WatchedPayment[] = [];
  onCounted(p: WatchedPayment): void {
    this.counted.push(p);
  }
  onReversed(p: WatchedPayment): void {
    this.reversed.push(p);
  }
}

/** Every call is forwarded and counted by method name. */
export class CountingChain implements ChainBackend {
  readonly calls = new Map<string, number>();
  constructor(private readonly inner: ChainBackend) {}

  total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }
  reset(): void {
    this.calls.clear();
  }
  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  getTipHeight(signal?: AbortSignal): Promise<number> {
    this.count('getTipHeight');
    return this.inner.getTipHeight(signal);
  }
  getTipHash(signal?: AbortSignal): Promise<string> {
    this.count('getTipHash');
    return this.inner.getTipHash(signal);
  }
  getBlockHash(height: number, signal?: AbortSignal): Promise<string> {
    this.count('getBlockHash');
    return this.inner.getBlockHash(height, signal);
  }
  getBlockRaw(hash: string, signal?: AbortSignal): Promise<Uint8Array> {
    this.count('getBlockRaw');
    return this.inner.getBlockRaw(hash, signal);
  }
  getTxHex(txid: string, signal?: AbortSignal): Promise<string> {
    this.count('getTxHex');
    return this.inner.getTxHex(txid, signal);
  }
  getTxStatus(txid: string, signal?: AbortSignal): Promise<TxStatus> {
    this.count('getTxStatus');
    return this.inner.getTxStatus(txid, signal);
  }
  getAddressUtxos(address: string, signal?: AbortSignal): Promise<ChainUtxo[]> {
    this.count('getAddressUtxos');
    return this.inner.getAddressUtxos(address, signal);
  }
  getAddressMempoolTxs(address: string, signal?: AbortSignal): Promise<MempoolTx[]> {
    this.count('getAddressMempoolTxs');
    return this.inner.getAddressMempoolTxs(address, signal);
  }
  broadcast(txHex: string, signal?: AbortSignal): Promise<string> {
    this.count('broadcast');
    return this.inner.broadcast(txHex, signal);
  }
  getFeeEstimates(signal?: AbortSignal): Promise<Map<number, bigint>> {
    this.count('getFeeEstimates');
    return this.inner.getFeeEstimates(signal);
  }
}

export interface PaymentRow {
  txid: string;
  vout: bigint;
  address: string;
  value_sat: bigint;
  state: 'mempool' | 'confirmed' | 'reversed';
  block_height: bigint | null;
  counted: bigint;
  spent_by: string | null;
}

/** The payment rows of one transaction (usually one: the output paying us). */
function paymentsOf(db: Db, txid: string): PaymentRow[] {
  return db
    .prepare('SELECT txid, vout, address, value_sat, state, block_height, counted, spent_by FROM payments WHERE txid = ? ORDER BY vout')
    .all(txid) as PaymentRow[];
}

/** The one payment row of `txid`; throws when there is not exactly one. */
export function paymentOf(db: Db, txid: string): PaymentRow {
  const rows = paymentsOf(db, txid);
  if (rows.length !== 1 || !rows[0]) throw new Error(`expected one payment row for ${txid}, found ${rows.length}`);
  return rows[0];
}

/** A backend that lags `lag` blocks behind the real one, as a second electrs instance still indexing would. */
export class LaggingChain extends CountingChain {
  lag = 0;
  constructor(private readonly real: ChainBackend) {
    super(real);
  }
  override async getTipHeight(signal?: AbortSignal): Promise<number> {
    return (await super.getTipHeight(signal)) - this.lag;
  }
  override async getBlockHash(height: number, signal?: AbortSignal): Promise<string> {
    if (height > (await this.real.getTipHeight(signal)) - this.lag) throw new AgentError('CHAIN_NOT_FOUND', `no block at height ${height}`);
    return super.getBlockHash(height, signal);
  }
}
