import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, moduleVersions, openDb, type ModuleSchema } from '../../src/db/index.ts';
import { openAgentDb, SCHEMAS } from '../../src/agent/modules.ts';
import { Ledger } from '../../src/ledger/index.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every module at its last version, src/db's own `meta` included. */
const LATEST: Record<string, number> = Object.fromEntries([['db', 1], ...SCHEMAS.map((s) => [s.module, s.migrations.length] as const)]);

test('an empty database is migrated to the latest version with WAL, FULL sync, foreign keys and safe integers', (t) => {
  const db = openAgentDb(join(tempDir(t), 'agent.db'));
  t.after(() => db.close());
  assert.deepEqual(moduleVersions(db), LATEST);
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

test('a module at an earlier version is upgraded and keeps its rows', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const old = openAgentDb(path, { upTo: { scheduler: 0, chain: 1 } });
  const { scheduler: _none, ...others } = LATEST;
  assert.deepEqual(moduleVersions(old), { ...others, chain: 1 });
  old.prepare("INSERT INTO meta (key, value) VALUES ('hello', 'world')").run();
  assert.throws(() => old.prepare('SELECT * FROM job_runs').all(), /no such table/);
  old.close();

  const db = openAgentDb(path);
  t.after(() => db.close());
  assert.deepEqual(moduleVersions(db), LATEST);
  assert.deepEqual(db.prepare("SELECT value FROM meta WHERE key = 'hello'").get(), { value: 'world' });
  assert.deepEqual(db.prepare('SELECT count(*) AS n FROM job_runs').get(), { n: 0n });
  assert.ok(db.prepare("SELECT 1 FROM pragma_table_info('payments') WHERE name = 'zero_conf'").get(), 'chain migration 2 ran');
});

test('each module\'s migrations are numbered 1..n without gaps, and every module has its own name', () => {
  for (const s of SCHEMAS) s.migrations.forEach((m, i) => assert.equal(m.version, i + 1, `${s.module}: ${m.name}`));
  assert.equal(new Set(SCHEMAS.map((s) => s.module)).size, SCHEMAS.length);
  const gap: ModuleSchema = { module: 'gap', migrations: [{ version: 2, name: 'two first', sql: 'SELECT 1' }] };
  assert.throws(() => openDb(':memory:', [...SCHEMAS, gap]), /numbered 2, not 1/);
});

test('a database newer than the code is refused rather than used: a module ahead of its list, a module unknown, a newer layout', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const db = openAgentDb(path);
  t.after(() => db.close());
  db.prepare("UPDATE schema_versions SET version = version + 1 WHERE module = 'host'").run();
  assert.throws(() => migrate(db, SCHEMAS), /"host" schema is at version 4, newer than this agent \(3\)/);
  db.prepare("UPDATE schema_versions SET version = version - 1 WHERE module = 'host'").run();
  db.prepare("INSERT INTO schema_versions (module, version) VALUES ('cloud', 1)").run();
  assert.throws(() => migrate(db, SCHEMAS), /a module "cloud" that this agent does not have/);
  db.prepare("DELETE FROM schema_versions WHERE module = 'cloud'").run();
  db.pragma('user_version = 9');
  assert.throws(() => migrate(db, SCHEMAS), /newer than this agent/);
});

test('a module\'s migrations run after those of the modules listed before it, in its own order', (t) => {
  const order: string[] = [];
  const db = openDb(':memory:', [
    { module: 'first', migrations: [{ version: 1, name: 'a', sql: "CREATE TABLE a (x); INSERT INTO a VALUES ('first 1')" }, { version: 2, name: 'b', sql: "INSERT INTO a VALUES ('first 2')" }] },
    { module: 'second', migrations: [{ version: 1, name: 'c', sql: "INSERT INTO a VALUES ('second 1')" }] },
  ]);
  t.after(() => db.close());
  for (const r of db.prepare('SELECT x FROM a ORDER BY rowid').all() as Array<{ x: string }>) order.push(r.x);
  assert.deepEqual(order, ['first 1', 'first 2', 'second 1']);
  assert.deepEqual(moduleVersions(db), { db: 1, first: 2, second: 1 });
});

test('a migration that waits for a later module\'s runs once that one has, and migrations that wait for each other are refused', () => {
  const order = (schemas: ModuleSchema[]): string[] => {
    const db = openDb(':memory:', [{ module: 'log', migrations: [{ version: 1, name: 'log', sql: 'CREATE TABLE log (x)' }] }, ...schemas]);
    const rows = (db.prepare('SELECT x FROM log ORDER BY rowid').all() as Array<{ x: string }>).map((r) => r.x);
    db.close();
    return rows;
  };
  const step = (module: string, version: number, after?: { module: string; version: number }) => ({ version, name: `${module} ${version}`, sql: `INSERT INTO log VALUES ('${module} ${version}')`, ...(after ? { after } : {}) });
  // first 2 waits for second 2; first 3 waits with it, in its module's order.
  assert.deepEqual(order([
    { module: 'first', migrations: [step('first', 1), step('first', 2, { module: 'second', version: 2 }), step('first', 3)] },
    { module: 'second', migrations: [step('second', 1), step('second', 2), step('second', 3)] },
    { module: 'third', migrations: [step('third', 1)] },
  ]), ['first 1', 'second 1', 'second 2', 'second 3', 'third 1', 'first 2', 'first 3']);
  assert.throws(() => order([
    { module: 'first', migrations: [step('first', 1, { module: 'second', version: 1 })] },
    { module: 'second', migrations: [step('second', 1, { module: 'first', version: 1 })] },
  ]), /wait for each other/);
  assert.throws(() => order([{ module: 'first', migrations: [step('first', 1, { module: 'second', version: 1 })] }]), /not another module's migration/);
  assert.throws(() => order([{ module: 'first', migrations: [step('first', 1, { module: 'first', version: 1 })] }]), /not another module's migration/);
});

test('the files\' money moves to the ledger\'s file_accounts before the host drops its columns, and every balance, hold and freeze is kept', (t) => {
  const path = join(tempDir(t), 'agent.db');
  // The host at 2 and the ledger at 3: the layout before the move.
  const old = openAgentDb(path, { upTo: { host: 2, ledger: 3 } });
  assert.deepEqual({ host: moduleVersions(old).host, ledger: moduleVersions(old).ledger }, { host: 2, ledger: 3 });
  const T0 = 1_767_225_600_000n;
  const day = 86_400_000n;
  old.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, 'bcrt1qa', x'00', 'upload', 0), (0, 1, 'bcrt1qb', x'01', 'upload', 0), (0, 2, 'bcrt1qc', x'02', 'upload', 0), (0, 3, 'bcrt1qd', x'03', 'upload', 0)").run();
  old.prepare(
    `INSERT INTO files (seq, id, address, state, size, sha256, balance_msat, held_msat, charged_until, frozen_at, deleted_at, created_at, completed_at) VALUES
       (1, 'active', 'bcrt1qa', 'active', 10, 'aa', 70, 5, :c1, NULL, NULL, 0, :t0),
       (2, 'frozen', 'bcrt1qb', 'frozen', 20, 'bb', -20, 0, :c1, :c1, NULL, 0, :t0),
       (3, 'pending', 'bcrt1qc', 'pending', 30, NULL, 40, 0, NULL, NULL, NULL, 0, NULL),
       (4, 'deleted', 'bcrt1qd', 'deleted', 40, 'dd', -30, 0, :c1, :c1, :c2, 0, :t0)`,
  ).run({ t0: T0, c1: T0 + day, c2: T0 + 2n * day });
  const sweep = old.prepare('INSERT INTO storage_sweeps (at, storage_msat_per_gib_day) VALUES (?, 1)').run(T0 + day).lastInsertRowid;
  old.prepare('INSERT INTO storage_charges (sweep_id, file_seq, amount_msat) VALUES (?, 1, -30), (?, 2, -40), (?, 4, -50)').run(sweep, sweep, sweep);
  old
    .prepare("INSERT INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES ('active', 'payment', 'tx:0/0', 100, :t0), ('frozen', 'payment', 'tx:1/0', 20, :t0), ('pending', 'payment', 'tx:2/0', 40, :t0), ('deleted', 'payment', 'tx:3/0', 20, :t0)")
    .run({ t0: T0 });
  const total = (sql: string) => (old.prepare(sql).get() as { n: bigint }).n;
  assert.equal(total('SELECT sum(balance_msat) AS n FROM files'), total('SELECT (SELECT sum(amount_msat) FROM ledger_entries) + (SELECT sum(amount_msat) FROM storage_charges) AS n'), 'the old layout is consistent');
  old.close();

  const db = openAgentDb(path);
  t.after(() => db.close());
  assert.deepEqual(moduleVersions(db), LATEST);
  const columns = (db.prepare("SELECT name FROM pragma_table_info('files')").all() as Array<{ name: string }>).map((r) => r.name);
  for (const c of ['balance_msat', 'held_msat', 'charged_until', 'frozen_at']) assert.ok(!columns.includes(c), `files.${c} is dropped`);
  assert.equal(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'files_overdrawn'").get(), undefined);
  assert.deepEqual(db.prepare('SELECT id, state FROM files ORDER BY seq').all(), [
    { id: 'active', state: 'active' },
    { id: 'frozen', state: 'active' },
    { id: 'pending', state: 'pending' },
    { id: 'deleted', state: 'deleted' },
  ], 'a frozen file is stored; its account says it is overdrawn');
  assert.deepEqual(db.prepare('SELECT seq, file_id, size, balance_msat, held_msat, charged_from, charged_until, overdrawn_at, closed_at FROM file_accounts ORDER BY seq').all(), [
    { seq: 1n, file_id: 'active', size: 10n, balance_msat: 70n, held_msat: 5n, charged_from: T0, charged_until: T0 + day, overdrawn_at: null, closed_at: null },
    { seq: 2n, file_id: 'frozen', size: 20n, balance_msat: -20n, held_msat: 0n, charged_from: T0, charged_until: T0 + day, overdrawn_at: T0 + day, closed_at: null },
    { seq: 3n, file_id: 'pending', size: 30n, balance_msat: 40n, held_msat: 0n, charged_from: null, charged_until: null, overdrawn_at: null, closed_at: null },
    { seq: 4n, file_id: 'deleted', size: 40n, balance_msat: -30n, held_msat: 0n, charged_from: T0, charged_until: T0 + day, overdrawn_at: T0 + day, closed_at: T0 + 2n * day },
  ]);
  const ledger = new Ledger(db);
  assert.deepEqual(ledger.verifyBalances(), [], 'every balance is still the sum of its entries and storage charges');
  assert.equal(ledger.totalBalanceMsat(), 70n - 20n + 40n, 'the deleted file is not counted');
  assert.deepEqual(ledger.account('frozen')?.overdrawnAt, new Date(Number(T0 + day)));
  assert.deepEqual(ledger.overdrawnSince(new Date(Number(T0 + 3n * day))), ['frozen'], 'the frozen file is deleted on time; the deleted one is not again');
  assert.deepEqual(ledger.entries('active').filter((e) => e.kind === 'storage').map((e) => e.ref), [`${T0}-${T0 + day}`]);
  // The sweep goes on from where the old one stopped.
  assert.deepEqual(ledger.sweepStorage(new Date(Number(T0 + 2n * day)), 1n), { files: 2, frozen: 0 });
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('a database of the one numbered list that came before (user_version 1 to 7) maps onto per-module versions and keeps its rows', (t) => {
  // What each number of the old list had applied, module by module.
  const expected: Record<number, Record<string, number>> = {
    1: { db: 1, treasury: 1 },
    2: { db: 1, treasury: 1, scheduler: 1 },
    3: { db: 1, treasury: 1, scheduler: 1, chain: 1 },
    4: { db: 1, treasury: 1, scheduler: 1, chain: 1, host: 1, ledger: 1 },
    5: { db: 1, treasury: 1, scheduler: 1, chain: 1, host: 2, ledger: 2 },
    6: { db: 1, treasury: 1, scheduler: 1, chain: 2, host: 2, ledger: 2 },
    7: { db: 1, treasury: 2, scheduler: 1, chain: 3, host: 2, ledger: 2 },
  };
  const dir = tempDir(t);
  for (let n = 1; n <= 7; n++) {
    const path = join(dir, `v${n}.db`);
    const old = openAgentDb(path, { legacy: n });
    assert.equal(old.pragma('user_version', { simple: true }), BigInt(n));
    assert.deepEqual(moduleVersions(old), {}, 'an old database has no schema_versions');
    old.prepare("INSERT INTO meta (key, value) VALUES ('left by', ?)").run(`version ${n}`);
    old.close();

    const mapped = new Database(path);
    mapped.defaultSafeIntegers(true);
    migrate(mapped, SCHEMAS, { upTo: Object.fromEntries(SCHEMAS.map((s) => [s.module, 0])) });
    assert.deepEqual(moduleVersions(mapped), expected[n], `user_version ${n} read as module versions`);
    mapped.close();

    const db = openAgentDb(path);
    assert.deepEqual(moduleVersions(db), LATEST, `from ${n}, every module upgraded`);
    assert.deepEqual(db.prepare("SELECT value FROM meta WHERE key = 'left by'").get(), { value: `version ${n}` });
    db.close();
  }
  // An old database at 7 and a new one have the same tables, indexes and columns.
  const schemaOf = (path: string) => {
    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();
    const columns = db.prepare("SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY t, p.cid").all();
    db.close();
    return { rows, columns };
  };
  const fresh = openAgentDb(join(dir, 'fresh.db'));
  fresh.close();
  assert.deepEqual(schemaOf(join(dir, 'v7.db')), schemaOf(join(dir, 'fresh.db')));
});

test('the ledger\'s migration 2 (number 5 of the old list) keeps every storage charge with its period and each balance the sum of its entries', (t) => {
  const path = join(tempDir(t), 'agent.db');
  const old = openAgentDb(path, { legacy: 4 });
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

  const db = openAgentDb(path);
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
