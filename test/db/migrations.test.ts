import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, schemaVersion, MIGRATIONS, migrate } from '../../src/db/index.ts';

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
