import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, schemaVersion, MIGRATIONS, migrate } from '../../src/db/index.ts';
import { Ledger } from '../../src/ledger/index.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('an empty database is migrated to the latest version with WAL, FULL sync, foreign keys and safe integers', (t) => {
  const db = openDb(join(tempDir(t), 'agent.db'));
  t.after(() => db.close());
  assert.equal(schemaVersion(db), MIGRATIONS.length);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2n); // FULL
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1n);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as Array<{ name: string }>).map((r) => r.name);
  for (const name of ['meta', 'wallet_addresses', 'wallet_spends', 'job_runs']) assert.ok(tables.includes(name), `${name} exists`);
  // Safe integers: a value above 2^53 survives exactly.
  db.prepare('INSERT INTO wallet_spends (txid, amount_sat, at) VALUES (?, ?, ?)').run('a'.repeat(64), 2n ** 60n + 1n, 0n);
  const row = db.prepare('SELECT amount_sat FROM wallet_spends').get() as { amount_sat: bigint };
  assert.equal(row.amount_sat, 2n ** 60n + 1n);
});

test('a previous-version database is upgraded and keeps its rows', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const old = openDb(path, { upTo: 1 });
  assert.equal(schemaVersion(old), 1);
  old.prepare("INSERT INTO meta (key, value) VALUES ('hello', 'world')").run();
  assert.throws(() => old.prepare('SELECT * FROM job_runs').all(), /no such table/);
  old.close();

  const db = openDb(path);
  t.after(() => db.close());
  assert.equal(schemaVersion(db), MIGRATIONS.length);
  assert.deepEqual(db.prepare("SELECT value FROM meta WHERE key = 'hello'").get(), { value: 'world' });
  assert.deepEqual(db.prepare('SELECT count(*) AS n FROM job_runs').get(), { n: 0n });
});

test('migrations are numbered 1..n without gaps', () => {
  MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1, m.name));
});

test('a database newer than the code is refused rather than used', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const db = openDb(path);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  assert.throws(() => migrate(db), /newer than this agent/);
  db.close();
});

test('migration 5 keeps every storage charge with its period and each balance the sum of its entries', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const old = openDb(path, { upTo: 4 });
  const T0 = 1_767_225_600_000n; // 2026-01-01
  const day = 86_400_000n;
  old.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, 'bcrt1qa', x'00', 'upload', 0), (0, 1, 'bcrt1qb', x'01', 'upload', 0)").run();
  old.prepare(
    `INSERT INTO files (seq, id, address, state, size, sha256, balance_msat, charged_until, created_at, completed_at)
     VALUES (1, 'a', 'bcrt1qa', 'active', 10, 'aa', 70, :c2, 0, :t0), (2, 'b', 'bcrt1qb', 'frozen', 10, 'bb', -20, :c2, 0, :c1)`,
  ).run({ t0: T0, c1: T0 + day, c2: T0 + 2n * day });
  // File a charged by two sweeps, file b (completed a day later) by the second only.
  old.prepare(
    `INSERT INTO storage_charges (sweep_at, file_seq, from_at, amount_msat, freezes)
     VALUES (:c1, 1, :t0, -10, 0), (:c2, 1, :c1, -20, 0), (:c2, 2, :c1, -20, 1)`,
  ).run({ t0: T0, c1: T0 + day, c2: T0 + 2n * day });
  old.prepare("INSERT INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES ('a', 'payment', 'tx:0', 100, ?)").run(T0);
  old.close();

  const db = openDb(path);
  t.after(() => db.close());
  const ledger = new Ledger(db);
  assert.deepEqual(db.prepare('SELECT at, storage_msat_per_gib_day AS price FROM storage_sweeps ORDER BY id').all(), [
    { at: T0 + day, price: null },
    { at: T0 + 2n * day, price: null },
  ]);
  const storage = (id: string) => ledger.entries(id).filter((e) => e.kind === 'storage').map((e) => [e.ref, e.amountMsat]);
  assert.deepEqual(storage('a'), [[`${T0}-${T0 + day}`, -10n], [`${T0 + day}-${T0 + 2n * day}`, -20n]]);
  assert.deepEqual(storage('b'), [[`${T0 + day}-${T0 + 2n * day}`, -20n]]);
  assert.deepEqual(ledger.verifyBalances(), []);
});
