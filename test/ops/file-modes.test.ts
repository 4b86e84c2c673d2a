// Secrets at rest: the data dir holds every fileId (each a download link) in its database, so an agent that
// starts over a data dir left open by an older version (0755, with 0644 database files) closes it: the dir
// becomes 0700 and agent.db, its -wal and its -shm 0600. (A fresh `npm start` is in test/e2e/npm-start.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../../src/db/index.ts';
import { SCHEMAS } from '../../src/agent/modules.ts';
import { initTestDataDir, startTestAgent, tempDir } from '../helpers/agent.ts';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

test('a start over an old 0755 data dir with 0644 database files leaves the dir 0700 and the files 0600', async (t) => {
  const dataDir = tempDir(t, 'storj-ops-modes-');
  await initTestDataDir(dataDir);
  // What an older version left: a database in WAL mode whose -wal and -shm exist (a connection is open, as
  // with an agent killed mid-run), every file readable by anyone.
  const dbPath = join(dataDir, 'agent.db');
  const old = new Database(dbPath);
  t.after(() => old.close());
  old.pragma('journal_mode = WAL');
  old.defaultSafeIntegers(true);
  migrate(old, SCHEMAS);
  old.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('left', 'by an older version')").run();
  const files = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`];
  for (const f of files) {
    assert.ok(existsSync(f), `${f} exists before the start`);
    chmodSync(f, 0o644);
  }
  chmodSync(dataDir, 0o755);

  const a = await startTestAgent(t, { dataDir, init: false });
  assert.equal((await a.api('GET', '/v1/info')).status, 200);
  assert.equal(mode(dataDir), '0700', 'the data dir');
  for (const f of files) assert.equal(mode(f), '0600', f);
  // The agent writes (a quote), and what SQLite creates or rewrites stays 0600.
  assert.equal((await a.api('POST', '/v1/uploads', { size: 1000 })).status, 201);
  for (const f of files) assert.equal(mode(f), '0600', `${f} after a write`);
});
