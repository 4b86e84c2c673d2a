/**
 * A Host on its own, for the unit tests of its operations: a throwaway migrated database, the real Ledger and a
 * real FsBlobStore in a temp dir, and plain functions for what the chain would tell it (what arrived at an
 * address, the fee rate) and for the wallet's fresh addresses. The clock is a value the test moves.
 */
import { Readable } from 'node:stream';
import type { Db } from '../../src/db/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { loadConfig } from '../../src/config/index.ts';
import { FsBlobStore } from '../../src/storage/index.ts';
import { Host, type HostDeps, type HostEvents, type Quote } from '../../src/host/index.ts';
import { tempDir, type Ctx } from '../helpers/agent.ts';

const T0 = Date.UTC(2026, 0, 1);
export const DAY = 86_400_000;

interface Received {
  receivedSat: bigint;
  confirmedSat: bigint;
  countedSat: bigint;
}

export interface HostFixture {
  host: Host;
  db: Db;
  blobs: FsBlobStore;
  deps: HostDeps;
  /** The clock every part reads; move it with `advance`. */
  clock: { ms: number };
  advance(ms: number): void;
  /** What the "watcher" says arrived at each address. */
  received: Map<string, Received>;
  /** Pays `sat` to the quote's address, as the watcher would once it counts: totals, then the sink's credit. */
  pay(address: string, sat: bigint, opts?: { txid?: string; vout?: number; counted?: boolean }): void;
  /** What the host told its observer, in order. */
  events: string[];
  logs: string[];
  /** The fee rate the next price set is computed with (sat per 1000 vbytes). */
  feeRate: { satPerKvb: bigint };
  /** A second Host on the same database and blobs, as after a restart (with some dependencies replaced). */
  restart(replace?: Partial<HostDeps>): Host;
}

export interface FixtureOptions {
  /** Config values (as `loadConfig` overrides take them). */
  config?: Record<string, unknown>;
  freeBytes?: () => Promise<bigint>;
  storageProblems?: () => Promise<string[]>;
}

let txCounter = 0;

export function hostFixture(t: Ctx, opts: FixtureOptions = {}): HostFixture {
  const dir = tempDir(t, 'storj-host-');
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  const config = loadConfig({ env: { STORJ_DATA_DIR: dir }, readFile: false, overrides: { diskReserveBytes: 0, ...opts.config } });
  const blobs = new FsBlobStore({ dir: `${dir}/blobs` });
  const clock = { ms: T0 };
  const received = new Map<string, Received>();
  const events: string[] = [];
  const logs: string[] = [];
  const feeRate = { satPerKvb: 2_000n };
  let idx = 0;
  const observer: HostEvents = {
    ingress: (b) => events.push(`ingress ${b}`),
    egress: (b) => events.push(`egress ${b}`),
    credited: (s) => events.push(`credited ${s}`),
    reversed: (s) => events.push(`reversed ${s}`),
  };
  const deps: HostDeps = {
    db,
    config,
    blobs,
    now: () => new Date(clock.ms),
    newAddress: () => {
      const i = idx++;
      const address = `bcrt1qupload${String(i).padStart(30, '0')}`;
      db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, ?, ?, ?, 'upload', ?)").run(BigInt(i), address, Buffer.from(address), BigInt(clock.ms));
      return { address };
    },
    feeRate: () => Promise.resolve(feeRate.satPerKvb),
    received: (address) => received.get(address) ?? { receivedSat: 0n, confirmedSat: 0n, countedSat: 0n },
    events: observer,
    log: (line) => logs.push(line),
    ...(opts.freeBytes ? { freeBytes: opts.freeBytes } : {}),
    ...(opts.storageProblems ? { storageProblems: opts.storageProblems } : {}),
  };
  const host = new Host(deps);
  return {
    host,
    db,
    blobs,
    deps,
    clock,
    advance: (ms) => {
      clock.ms += ms;
    },
    received,
    pay: (address, sat, o = {}) => {
      const before = received.get(address) ?? { receivedSat: 0n, confirmedSat: 0n, countedSat: 0n };
      const counted = o.counted ?? true;
      received.set(address, { receivedSat: before.receivedSat + sat, confirmedSat: before.confirmedSat + sat, countedSat: before.countedSat + (counted ? sat : 0n) });
      if (counted) host.paymentSink.onCounted({ txid: o.txid ?? `${(++txCounter).toString(16).padStart(64, '0')}`, vout: o.vout ?? 0, address, valueSat: sat, blockHeight: 1, confirmations: 1 });
    },
    events,
    logs,
    feeRate,
    restart: (replace = {}) => new Host({ ...deps, ...replace }),
  };
}

/**
 * A file's row and its account, read straight from the database (what the host and the ledger wrote): a stored
 * file is frozen while its account is overdrawn (src/host/files.ts, fileState).
 */
export function fileRow(db: Db, id: string): { state: string; balance_msat: bigint; held_msat: bigint; sha256: string | null; frozen_at: bigint | null; deleted_at: bigint | null; charged_until: bigint | null } {
  return db
    .prepare(
      `SELECT CASE WHEN f.state = 'active' AND a.overdrawn_at IS NOT NULL THEN 'frozen' ELSE f.state END AS state, a.balance_msat, a.held_msat, f.sha256,
              CASE WHEN f.state = 'pending' THEN NULL ELSE a.overdrawn_at END AS frozen_at, f.deleted_at, a.charged_until
       FROM files f JOIN file_accounts a ON a.file_id = f.id WHERE f.id = ?`,
    )
    .get(id) as ReturnType<typeof fileRow>;
}

/** Quotes `body.length` bytes, pays the quote in full and uploads `body`: a stored, active file. */
export async function storedFile(f: HostFixture, body: Buffer, opts: { days?: number; downloads?: number; extraSat?: bigint } = {}): Promise<{ quote: Quote; fileId: string; sha256: string }> {
  const quote = await f.host.createUpload({ size: body.length, ...(opts.days ? { days: opts.days } : {}), ...(opts.downloads ? { downloads: opts.downloads } : {}) });
  f.pay(quote.address, quote.amountSat + (opts.extraSat ?? 0n));
  const r = await f.host.putUpload(quote.id, quote.uploadToken, bytes(body));
  return { quote, fileId: r.fileId, sha256: r.sha256 };
}

/** The AgentError code a promise or call rejects with. */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `not an AgentError: ${String(e)}`;
  }
  return 'no error';
}

/** Every byte a blob reader yields. */
export async function readAll(blob: { read(buf: Uint8Array): Promise<number>; close(): Promise<void> }): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = await blob.read(buf);
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  await blob.close();
  return Buffer.concat(parts);
}

/** A request body of these bytes, a stream as the HTTP layer hands one over. */
export function bytes(...chunks: Buffer[]): Readable {
  return Readable.from(chunks);
}
