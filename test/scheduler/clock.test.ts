import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/modules.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { DevClock, SystemClock } from '../../src/scheduler/index.ts';
import { FixedClock, T0 } from './helpers.ts';

void test('SystemClock gives a valid Date', () => {
  const now = new SystemClock().now();
  assert.ok(now instanceof Date);
  assert.ok(Number.isFinite(now.getTime()));
});

void test('DevClock is its base plus an offset that advance() grows, and it never goes back', () => {
  const base = new FixedClock(T0);
  const clock = new DevClock({ base });
  assert.equal(clock.now().getTime(), T0);
  assert.equal(clock.advance(3600).getTime(), T0 + 3_600_000);
  assert.equal(clock.advance(0.5).getTime(), T0 + 3_600_500);
  assert.equal(clock.offsetMs, 3_600_500);
  base.ms += 10; // the base keeps running underneath the offset
  assert.equal(clock.now().getTime(), T0 + 3_600_510);

  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 200 * 365 * 86_400]) {
    assert.throws(() => clock.advance(bad), (e) => isAgentError(e, 'BAD_REQUEST'), String(bad));
  }
  assert.equal(clock.offsetMs, 3_600_500, 'a refused advance moves nothing');
});

void test('DevClock keeps its offset in the meta table across a reopen of an on-disk database', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.db');

  const db1 = openAgentDb(path);
  const c1 = new DevClock({ db: db1, base: new FixedClock(T0) });
  c1.advance(86_400);
  c1.advance(60);
  db1.close();

  const db2 = openAgentDb(path);
  t.after(() => db2.close());
  const c2 = new DevClock({ db: db2, base: new FixedClock(T0) });
  assert.equal(c2.offsetMs, 86_460_000);
  assert.equal(c2.now().getTime(), T0 + 86_460_000);
  assert.deepEqual(db2.prepare("SELECT value FROM meta WHERE key = 'dev_clock_offset_ms'").get(), { value: '86460000' });
});

void test('DevClock without a database starts at offset zero; a corrupt persisted offset is refused', () => {
  assert.equal(new DevClock({ base: new FixedClock(T0) }).offsetMs, 0);
  const db = openAgentDb(':memory:');
  try {
    assert.equal(new DevClock({ db }).offsetMs, 0, 'nothing persisted yet');
    db.prepare("INSERT INTO meta (key, value) VALUES ('dev_clock_offset_ms', '-5')").run();
    assert.throws(() => new DevClock({ db }), (e) => isAgentError(e, 'INTERNAL'));
  } finally {
    db.close();
  }
});
