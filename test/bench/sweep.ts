/**
 * The storage sweep over a million files (Ledger.sweepStorage: ledger entries, balances, freezing) against
 * the least any sweep could cost: one raw UPDATE of the balances of the same table. Both run on identical
 * copies of one database, opened the same way (openAgentDb: WAL, synchronous=FULL).
 */
import { copyFileSync, closeSync, fsyncSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from 'better-sqlite3';
import type { Db } from '../../src/db/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Ledger } from '../../src/ledger/index.ts';
import { computePrices } from '../../src/host/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { fmt, median, MB, progress, RUNS, verdict, type BenchResult } from './lib.ts';

const TARGET = 2;
/** STORJ_BENCH_SWEEP_FILES shrinks the table for a quick try of the benchmark itself; the figure is for 10^6. */
const FILES = Number(process.env.STORJ_BENCH_SWEEP_FILES ?? 1_000_000);
const HOUR_MS = 3_600_000;
/** Every 1000th file holds 1 msat, so this sweep freezes about 0.1% of the files, as a real one would some. */
const POOR_EVERY = 1000;
/** Headroom on disk: the base database and two copies of it at a time, with their WAL files. */
export const SWEEP_DISK_BYTES = 3 * 1024 ** 3;

/**
 * The raw reference: the same charge expression as the sweep's (src/ledger RATE_SQL and CHARGE_SQL, written
 * out again here; the run checks both leave identical balances, so a drift shows as an error).
 */
const RAW_SQL = `UPDATE file_accounts SET balance_msat = balance_msat - (((size * :price + 1073741824 - 1) / 1073741824) * (:now - charged_until) / 86400000), charged_until = :now
  WHERE closed_at IS NULL AND charged_until < :now`;

/** The price per GiB-day the agent charges with the default config on an empty disk. */
function defaultPrice(): bigint {
  const c = loadConfig({ env: {}, readFile: false });
  return computePrices({
    hostingCostSatPerMonth: c.hostingCostSatPerMonth,
    capacityBytes: c.capacityBytes,
    targetUtilisationBps: c.targetUtilisationBps,
    marginBps: c.marginBps,
    bandwidthCostSatPerGib: c.bandwidthCostSatPerGib,
    usedBytes: 0n,
    feeRateSatPerKvb: 1000n,
  }).storageMsatPerGibDay;
}

/**
 * A database with the real migrations holding FILES active files, each with its address row (files.address
 * references wallet_addresses), its account (file_accounts) and its opening payment in the ledger, last charged
 * an hour before `now`. Ids,
 * content hashes and txids are random, as real ones are, so index inserts land all over their B-trees.
 */
function buildBase(path: string, now: number): void {
  const db = openAgentDb(path);
  try {
    const created = BigInt(now - 24 * HOUR_MS);
    const params = { n: BigInt(FILES), created, charged: BigInt(now - HOUR_MS), poor: BigInt(POOR_EVERY) };
    db.transaction(() => {
      db.exec('CREATE TEMP TABLE seq (i INTEGER PRIMARY KEY, fid TEXT NOT NULL)');
      db.prepare('INSERT INTO temp.seq (i, fid) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) SELECT i, lower(hex(randomblob(11))) FROM n').run({ n: params.n });
      db.prepare(
        `INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at)
         SELECT 0, i, 'bcrt1q' || printf('%038d', i), unhex(printf('0014%040x', i)), 'upload', :created FROM temp.seq`,
      ).run({ created });
      db.prepare(
        `INSERT INTO files (seq, id, address, state, size, sha256, created_at, completed_at)
         SELECT i, fid, 'bcrt1q' || printf('%038d', i), 'active', (i * 2654435761) % 67108864 + 1, lower(hex(randomblob(32))), :created, :created FROM temp.seq`,
      ).run({ created });
      db.prepare(
        `INSERT INTO file_accounts (seq, file_id, size, balance_msat, charged_from, charged_until)
         SELECT i, fid, (i * 2654435761) % 67108864 + 1, CASE WHEN i % :poor = 0 THEN 1 ELSE 10000000 END, :created, :charged FROM temp.seq`,
      ).run({ created, charged: params.charged, poor: params.poor });
      db.prepare(
        `INSERT INTO ledger_entries (file_id, kind, ref, amount_msat, at)
         SELECT fid, 'payment', lower(hex(randomblob(32))) || ':0/0', CASE WHEN i % :poor = 0 THEN 1 ELSE 10000000 END, :created FROM temp.seq`,
      ).run({ created, poor: params.poor });
      db.exec('DROP TABLE temp.seq');
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** A fresh copy of the base, flushed to disk so no write-back of it lands inside a timed run. */
function freshCopy(base: string, to: string): void {
  removeDb(to);
  copyFileSync(base, to);
  const fd = openSync(to, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/** What a sweep leaves behind, to check the raw UPDATE computed the same balances. */
function outcome(db: Db): string {
  const r = db.prepare('SELECT count(*) AS n, sum(balance_msat) AS total, min(charged_until) AS lo, max(charged_until) AS hi FROM file_accounts').get() as Record<string, bigint>;
  return `${r.n} files, balances ${r.total}, charged_until ${r.lo}..${r.hi}`;
}

interface Timed {
  sql: string;
  params: unknown[];
  ms: number;
  changes: number;
}

/**
 * `db` with every statement prepared through it timed when run, so the real sweep can be taken apart without
 * copying its SQL here.
 */
function timedDb(db: Db, out: Timed[]): Db {
  const bindTo = (target: object, v: unknown): unknown => (typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v);
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'prepare') return bindTo(target, Reflect.get(target, prop, target));
      return (sql: string) => {
        const st = target.prepare(sql);
        return new Proxy(st, {
          get(s, p) {
            if (p !== 'run') return bindTo(s, Reflect.get(s, p, s));
            return (...params: unknown[]): RunResult => {
              const t0 = performance.now();
              const r = s.run(...params);
              out.push({ sql, params, ms: performance.now() - t0, changes: r.changes });
              return r;
            };
          },
        });
      };
    },
  });
}

function plan(db: Db, t: Timed): string {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${t.sql}`).all(...t.params) as Array<{ detail: string }>;
  return rows.map((r) => r.detail).join('; ');
}

/** A short name for one of the sweep's statements, for the breakdown. */
function label(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  const into = /^INSERT (?:OR \w+ )?INTO (\w+)/.exec(s);
  if (into) return `INSERT into ${into[1]}`;
  const update = /^UPDATE (\w+) SET (\w+)/.exec(s);
  if (update) return `UPDATE ${update[1]}.${update[2]}`;
  return s.slice(0, 40);
}

export async function benchSweep(root: string): Promise<BenchResult> {
  const now = Date.now();
  const price = defaultPrice();
  const params = { now: BigInt(now), price };
  const base = join(root, 'sweep-base.db');
  progress(`sweep: building a database of ${FILES.toLocaleString('en')} files`);
  const t0 = performance.now();
  buildBase(base, now);
  progress(`sweep: built in ${fmt((performance.now() - t0) / 1000, 1)} s, ${fmt(statSync(base).size / MB)} MB`);
  // Yield once, so progress output and signals get through between the long synchronous steps.
  await new Promise((r) => setImmediate(r));

  const sweepCopy = join(root, 'sweep-run.db');
  const rawCopy = join(root, 'raw-run.db');
  const runSweep = (): { ms: number; state: string } => {
    freshCopy(base, sweepCopy);
    const db = openAgentDb(sweepCopy);
    try {
      const t = performance.now();
      const r = new Ledger(db).sweepStorage(new Date(now), price);
      const ms = performance.now() - t;
      if (r.files !== FILES) throw new Error(`the sweep charged ${r.files} files, not ${FILES}`);
      return { ms, state: outcome(db) };
    } finally {
      db.close();
      removeDb(sweepCopy);
    }
  };
  const runRaw = (): { ms: number; state: string } => {
    freshCopy(base, rawCopy);
    const db = openAgentDb(rawCopy);
    try {
      const t = performance.now();
      const r = db.prepare(RAW_SQL).run(params);
      const ms = performance.now() - t;
      if (r.changes !== FILES) throw new Error(`the raw UPDATE changed ${r.changes} rows, not ${FILES}`);
      return { ms, state: outcome(db) };
    } finally {
      db.close();
      removeDb(rawCopy);
    }
  };

  const sweeps: number[] = [];
  const raws: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    progress(`sweep: run ${i + 1} of ${RUNS}`);
    // Alternate which goes first, so a drift in the machine's state hits both.
    const order = i % 2 === 0 ? (['sweep', 'raw'] as const) : (['raw', 'sweep'] as const);
    const states: Record<string, string> = {};
    for (const which of order) {
      const r = which === 'sweep' ? runSweep() : runRaw();
      (which === 'sweep' ? sweeps : raws).push(r.ms);
      states[which] = r.state;
      await new Promise((res) => setImmediate(res));
    }
    if (states.sweep !== states.raw) throw new Error(`the raw UPDATE and the sweep disagree:\n  sweep ${states.sweep}\n  raw   ${states.raw}`);
  }

  // One more run of each, taken apart: the time of each statement, and what is left for BEGIN/COMMIT (the WAL
  // fsync and the checkpoint that follows a large commit). Not part of the medians.
  progress('sweep: one more run of each, statement by statement');
  const details: string[] = [];
  {
    freshCopy(base, sweepCopy);
    const db = openAgentDb(sweepCopy);
    try {
      const timed: Timed[] = [];
      const t = performance.now();
      new Ledger(timedDb(db, timed)).sweepStorage(new Date(now), price);
      const total = performance.now() - t;
      const statements = timed.reduce((a, x) => a + x.ms, 0);
      details.push(`where the sweep's ${fmt(total / 1000, 2)} s go: ${timed.map((x) => `${label(x.sql)} ${fmt(x.ms / 1000, 2)} s (${x.changes} rows)`).join('; ')}; BEGIN/COMMIT ${fmt((total - statements) / 1000, 2)} s; WAL ${fmt(walBytes(sweepCopy) / MB)} MB`);
      for (const x of timed) details.push(`plan of ${label(x.sql)}: ${plan(db, x)}`);
    } finally {
      db.close();
      removeDb(sweepCopy);
    }
  }
  {
    freshCopy(base, rawCopy);
    const db = openAgentDb(rawCopy);
    try {
      const t = performance.now();
      db.exec('BEGIN');
      const st = db.prepare(RAW_SQL);
      const u0 = performance.now();
      st.run(params);
      const update = performance.now() - u0;
      db.exec('COMMIT');
      const total = performance.now() - t;
      details.push(`the raw UPDATE's ${fmt(total / 1000, 2)} s: statement ${fmt(update / 1000, 2)} s, BEGIN/COMMIT ${fmt((total - update) / 1000, 2)} s; WAL ${fmt(walBytes(rawCopy) / MB)} MB`);
      details.push(`plan of the raw UPDATE: ${plan(db, { sql: RAW_SQL, params: [params], ms: 0, changes: 0 })}`);
    } finally {
      db.close();
      removeDb(rawCopy);
    }
  }
  removeDb(base);

  const sweep = median(sweeps) / 1000;
  const raw = median(raws) / 1000;
  const ratio = sweep / raw;
  const pass = ratio <= TARGET;
  const files = FILES === 1_000_000 ? '1M' : FILES.toLocaleString('en');
  return {
    name: 'sweep',
    line: `sweep ${files} files: Ledger.sweepStorage ${fmt(sweep, 2)} s, raw UPDATE ${fmt(raw, 2)} s, ratio ${fmt(ratio, 2)}x (target <= ${TARGET}x) ${verdict(pass)}`,
    measured: `${fmt(sweep, 2)} s`,
    reference: `raw UPDATE ${fmt(raw, 2)} s`,
    ratio: `${fmt(ratio, 2)}x`,
    target: `<= ${TARGET}x`,
    pass,
    details: [`runs (s): sweep ${sweeps.map((m) => fmt(m / 1000, 2)).join(', ')}; raw ${raws.map((m) => fmt(m / 1000, 2)).join(', ')}; price ${price} msat/GiB-day, each file charged one hour`, ...details],
  };
}
