// The scheduler's hook for metrics and its log levels: every run is reported once it is recorded (ok and
// failed with a duration, skipped without one), failures are logged as warnings, and an observer that
// throws neither fails the run nor stops the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAgentDb } from '../../src/agent/modules.ts';
import { DevClock, Scheduler, type JobRun, type SchedulerLogLevel } from '../../src/scheduler/index.ts';
import { FixedClock, T0, deferred } from '../scheduler/helpers.ts';

test('the scheduler reports every run to onRun, and logs failures as warnings', async (t) => {
  const db = openAgentDb(':memory:');
  const clock = new DevClock({ db, base: new FixedClock(T0) });
  const runs: Array<{ run: JobRun; seconds: number | undefined }> = [];
  const lines: Array<{ line: string; level: SchedulerLogLevel }> = [];
  let throwing = false;
  const scheduler = new Scheduler({
    db,
    clock,
    log: (line, level) => lines.push({ line, level }),
    onRun: (run, seconds) => {
      runs.push({ run, seconds });
      if (throwing) throw new Error('a broken observer');
    },
  });
  t.after(async () => {
    await scheduler.stop();
    db.close();
  });
  const gate = deferred();
  scheduler.add({ name: 'good', cron: '0 0 * * *', everySeconds: 86_400, run: () => Promise.resolve('fine') });
  scheduler.add({ name: 'bad', cron: '0 0 * * *', everySeconds: 86_400, run: () => Promise.reject(new Error('it broke')) });
  scheduler.add({ name: 'slow', cron: '0 0 * * *', everySeconds: 86_400, run: async () => gate.promise });

  assert.equal((await scheduler.runNow('good')).outcome, 'ok');
  assert.equal((await scheduler.runNow('bad')).outcome, 'failed');
  const slow = scheduler.runNow('slow');
  assert.equal((await scheduler.runNow('slow')).outcome, 'skipped', 'a run while one is in flight is skipped');
  gate.resolve();
  assert.equal((await slow).outcome, 'ok');

  assert.deepEqual(
    runs.map((r) => [r.run.job, r.run.outcome, typeof r.seconds]),
    [
      ['good', 'ok', 'number'],
      ['bad', 'failed', 'number'],
      ['slow', 'skipped', 'undefined'],
      ['slow', 'ok', 'number'],
    ],
  );
  for (const r of runs) if (r.seconds !== undefined) assert.ok(r.seconds >= 0, 'a duration is never negative');
  assert.deepEqual(
    lines.filter((l) => l.line.includes('failed')).map((l) => l.level),
    ['warn'],
    'the failure is one warning',
  );

  throwing = true;
  const after = await scheduler.runNow('good');
  assert.equal(after.outcome, 'ok', 'a throwing observer does not fail the run');
  assert.equal(scheduler.lastRuns().find((r) => r.job === 'good')?.outcome, 'ok', 'and the run is recorded');
  assert.equal(runs.length, 5);
});
