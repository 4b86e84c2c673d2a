// The health report's reasons, each from its real source (statfs, a write to the database, the chain), and the
// disk ballast a start on a full disk gives back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Health, releaseBallastIfFull } from '../../src/agent/health.ts';
import { tempDir } from '../helpers/agent.ts';

const alive = () => Promise.resolve(1);

void test('ok, or degraded with each reason: disk below the reserve, a database that cannot be written, a chain that does not answer', async (t) => {
  const dataDir = tempDir(t);
  const db = openAgentDb(join(dataDir, 'agent.db'));
  t.after(() => db.close());
  const base = { db, dataDir, ballastBytes: 0, cacheMs: 0 };

  assert.deepEqual(await new Health({ ...base, reserveBytes: 0n, chainAlive: alive }).report(), { status: 'ok', reasons: [] });
  const low = new Health({ ...base, reserveBytes: 2n ** 62n, chainAlive: alive });
  assert.deepEqual(await low.report(), { status: 'degraded', reasons: ['disk_low'] });
  assert.deepEqual(await low.storage(), ['disk_low']);
  const noChain = new Health({ ...base, reserveBytes: 0n, chainAlive: () => Promise.reject(new Error('refused')) });
  assert.deepEqual(await noChain.report(), { status: 'degraded', reasons: ['chain_unavailable'] });
  assert.deepEqual(await noChain.storage(), [], 'the chain is no reason to refuse uploads');

  // What a full disk does to the probe's write (SQLITE_FULL), for the meta table only.
  db.exec("CREATE TRIGGER test_full BEFORE INSERT ON meta BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  const h = new Health({ ...base, reserveBytes: 0n, chainAlive: alive });
  assert.deepEqual(await h.report(), { status: 'degraded', reasons: ['database_not_writable'] });
  db.exec('DROP TRIGGER test_full');
  assert.deepEqual(await h.report(), { status: 'ok', reasons: [] }, 'recovers by itself');
});

void test('the ballast is laid down when there is room, and released only when the disk is fuller than its size', async (t) => {
  const dataDir = tempDir(t);
  const db = openAgentDb(join(dataDir, 'agent.db'));
  t.after(() => db.close());
  const ballast = join(dataDir, 'disk-ballast');
  await new Health({ db, dataDir, reserveBytes: 0n, chainAlive: alive, ballastBytes: 64 * 1024, cacheMs: 0 }).storage();
  assert.equal(statSync(ballast).size, 64 * 1024);
  assert.equal(statSync(ballast).mode & 0o777, 0o600);
  assert.equal(await releaseBallastIfFull(dataDir, 64 * 1024), false, 'this disk has room: kept');
  assert.ok(existsSync(ballast));
  // A ballast "larger than the free space" stands for a full disk.
  assert.equal(await releaseBallastIfFull(dataDir, Number.MAX_SAFE_INTEGER), true);
  assert.ok(!existsSync(ballast));
});
