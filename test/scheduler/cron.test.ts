// The one test on real time: the scheduler's timer really fires a started job, and a failure does not stop its
// schedule (test/scheduler/timers.test.ts has the timers on mocked time).
// It waits on what the job does, with a generous limit, and asserts that it ran, never how fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Scheduler, SystemClock } from '../../src/scheduler/index.ts';
import { deferred } from './helpers.ts';

void test("start() sets the jobs' timers on real time: an every-second job runs, fails, and runs again", async (t) => {
  const db = openAgentDb(':memory:');
  const clock = new SystemClock();
  // A success just now with a long period keeps the start-up catch-up out of it: every run below is a cron tick.
  db.prepare("INSERT INTO job_runs (job, started_at, finished_at, outcome) VALUES ('tick', ?, ?, 'ok')").run(
    BigInt(clock.now().getTime()),
    BigInt(clock.now().getTime()),
  );
  const lines: string[] = [];
  const scheduler = new Scheduler({ db, clock, log: (l) => lines.push(l) });
  t.after(async () => {
    await scheduler.stop();
    db.close();
  });

  const secondRun = deferred();
  let runs = 0;
  scheduler.add({
    name: 'tick',
    cron: '* * * * * *',
    everySeconds: 3600,
    run() {
      runs += 1;
      if (runs === 1) return Promise.reject(new Error('first tick fails'));
      secondRun.resolve();
      return Promise.resolve('second tick');
    },
  });
  scheduler.start();

  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the timer did not run the job twice within 30 s')), 30_000);
  });
  try {
    await Promise.race([secondRun.promise, limit]);
  } finally {
    clearTimeout(timer);
  }
  await scheduler.stop();

  assert.ok(runs >= 2);
  const outcomes = (db.prepare("SELECT outcome, detail FROM job_runs WHERE job = 'tick' ORDER BY id").all() as Array<{ outcome: string; detail: string | null }>);
  assert.deepEqual(outcomes.slice(0, 3), [
    { outcome: 'ok', detail: null }, // the seeded row
    { outcome: 'failed', detail: 'first tick fails' },
    { outcome: 'ok', detail: 'second tick' },
  ]);
  assert.equal(lines.filter((l) => l.includes('catching up')).length, 0, 'the runs came from the timer, not the catch-up');
});
