// The scheduler's own timers (src/scheduler/scheduler.ts) on mocked time: node:test's MockTimers stands in for
// setTimeout and Date, so a run a year away, a tick that finds the job running and a late tick are seen exactly,
// without waiting. test/scheduler/cron.test.ts runs a job on real time.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Scheduler, SystemClock, type Job } from '../../src/scheduler/index.ts';
import { deferred } from './helpers.ts';

/** A scheduler on the (mocked) system clock whose job succeeded just now, so the start-up catch-up leaves it be. */
function rig(t: TestContext, job: Job): { scheduler: Scheduler; lines: string[]; outcomes: () => Array<{ started_at: bigint; outcome: string }> } {
  const db = openAgentDb(':memory:');
  db.defaultSafeIntegers(true);
  const now = BigInt(Date.now());
  db.prepare("INSERT INTO job_runs (job, started_at, finished_at, outcome) VALUES (?, ?, ?, 'ok')").run(job.name, now, now);
  const lines: string[] = [];
  const scheduler = new Scheduler({ db, clock: new SystemClock(), log: (l) => lines.push(l) });
  scheduler.add(job);
  t.after(async () => {
    await scheduler.stop();
    db.close();
  });
  const outcomes = (): Array<{ started_at: bigint; outcome: string }> =>
    db.prepare('SELECT started_at, outcome FROM job_runs WHERE job = ? ORDER BY id').all(job.name) as Array<{ started_at: bigint; outcome: string }>;
  return { scheduler, lines, outcomes };
}

void test('a run more than 2^31-1 ms away is waited for in steps, and runs once, at its time', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2024-01-01T00:00:01Z') });
  const seen: string[] = [];
  const { scheduler, lines, outcomes } = rig(t, {
    name: 'yearly',
    cron: '0 0 1 1 *',
    everySeconds: 366 * 86_400,
    run: ({ now }) => {
      seen.push(now.toISOString());
      return Promise.resolve();
    },
  });
  scheduler.start();
  await scheduler.idle();
  assert.deepEqual(seen, [], 'no catch-up: it succeeded just now');

  // The first timer can be set for 2^31-1 ms (24.8 days) at most: it fires, finds the run still ahead, re-arms.
  t.mock.timers.tick(2 ** 31 - 1);
  await scheduler.idle();
  assert.deepEqual(seen, []);
  const due = Date.parse('2025-01-01T00:00:00Z');
  t.mock.timers.tick(due - Date.now() - 1);
  await scheduler.idle();
  assert.deepEqual(seen, [], 'not a millisecond early');
  t.mock.timers.tick(1);
  await scheduler.idle();
  assert.deepEqual(seen, ['2025-01-01T00:00:00.000Z']);
  // And the timer is set again, for the next year.
  t.mock.timers.tick(Date.parse('2026-01-01T00:00:00Z') - Date.now());
  await scheduler.idle();
  assert.deepEqual(seen, ['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
  assert.deepEqual(outcomes().map((r) => r.outcome), ['ok', 'ok', 'ok']);
  assert.deepEqual(lines, []);
});

void test('a tick that finds the job running is recorded as skipped; a late tick runs once and is logged; stop() clears the timer', async (t) => {
  const T0 = Date.parse('2024-01-01T00:00:00Z');
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const gate = deferred();
  let runs = 0;
  const { scheduler, lines, outcomes } = rig(t, {
    name: 'tick',
    cron: '*/10 * * * * *',
    everySeconds: 10,
    run: async () => {
      runs += 1;
      if (runs === 1) await gate.promise;
    },
  });
  scheduler.start();
  await scheduler.idle();

  t.mock.timers.tick(10_000); // 00:00:10: the first run starts and waits on the gate
  assert.equal(runs, 1);
  t.mock.timers.tick(10_000); // 00:00:20: still running, so skipped
  assert.equal(runs, 1);
  gate.resolve();
  await scheduler.idle();
  assert.ok(lines.some((l) => l.startsWith('scheduler: job tick skipped: still running (started 2024-01-01T00:00:10.000Z)')), lines.join('\n'));

  // 65 s go by at once (the process was suspended, or its event loop busy): the 00:00:30 tick comes 55 s late,
  // runs once for the six times that went by, and the next is at the next multiple of 10 s, 00:01:30.
  t.mock.timers.tick(65_001);
  await scheduler.idle();
  assert.equal(runs, 2);
  assert.ok(lines.includes('scheduler: job tick runs 55.0 s after its time 2024-01-01T00:00:30.000Z'), lines.join('\n'));
  t.mock.timers.tick(4_998);
  await scheduler.idle();
  assert.equal(runs, 2, 'the next tick is 00:01:30');
  t.mock.timers.tick(1);
  await scheduler.idle();
  assert.equal(runs, 3);

  assert.deepEqual(
    outcomes().slice(1).map((r) => [new Date(Number(r.started_at)).toISOString().slice(11, 23), r.outcome]),
    [
      ['00:00:10.000', 'ok'],
      ['00:00:20.000', 'skipped'],
      ['00:01:25.001', 'ok'],
      ['00:01:30.000', 'ok'],
    ],
  );

  await scheduler.stop();
  t.mock.timers.tick(3_600_000);
  assert.equal(runs, 3, 'no run after stop()');
});
