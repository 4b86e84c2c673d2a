import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/db/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { DevClock, Scheduler, SystemClock, type Job, type JobContext, type SchedulerOptions } from '../../src/scheduler/index.ts';
import { FixedClock, T0, deferred } from './helpers.ts';

interface Rig {
  db: Db;
  base: FixedClock;
  clock: DevClock;
  scheduler: Scheduler;
  lines: string[];
}

function rig(t: TestContext, opts: Partial<SchedulerOptions> = {}): Rig {
  const db = opts.db ?? openAgentDb(':memory:');
  const base = new FixedClock(T0);
  const clock = new DevClock({ db, base });
  const lines: string[] = [];
  const scheduler = new Scheduler({ db, clock, log: (l) => lines.push(l), ...opts });
  t.after(async () => {
    await scheduler.stop();
    db.close();
  });
  return { db, base, clock, scheduler, lines };
}

/** A job that records the time of each run and returns a detail. */
function recorder(name: string, everySeconds: number, seen: Date[] = []): Job & { seen: Date[] } {
  return {
    name,
    cron: '0 0 * * *',
    everySeconds,
    seen,
    run(ctx: JobContext) {
      seen.push(ctx.now);
      return Promise.resolve(`run ${seen.length}`);
    },
  };
}

type Row = { id: bigint; job: string; started_at: bigint; finished_at: bigint | null; outcome: string; detail: string | null };
function rows(db: Db, job?: string): Row[] {
  return (job === undefined
    ? db.prepare('SELECT * FROM job_runs ORDER BY id').all()
    : db.prepare('SELECT * FROM job_runs WHERE job = ? ORDER BY id').all(job)) as Row[];
}

void test('runNow records a running row, then ok with the detail the job returned', async (t) => {
  const { db, scheduler, base } = rig(t);
  const gate = deferred();
  scheduler.add({
    name: 'sweep',
    cron: '0 * * * *',
    everySeconds: 3600,
    async run() {
      await gate.promise;
      return 'charged 3 files';
    },
  });
  const pending = scheduler.runNow('sweep');
  assert.deepEqual(rows(db).map((r) => [r.job, r.outcome, r.finished_at]), [['sweep', 'running', null]]);
  assert.equal(scheduler.lastRuns()[0]?.outcome, 'running');

  base.ms += 1500; // the run takes 1.5 s of clock time
  gate.resolve();
  const run = await pending;
  assert.equal(run.outcome, 'ok');
  assert.equal(run.detail, 'charged 3 files');
  assert.equal(run.startedAt.getTime(), T0);
  assert.equal(run.finishedAt?.getTime(), T0 + 1500);
  const [row] = rows(db);
  assert.equal(row?.outcome, 'ok');
  assert.equal(row?.detail, 'charged 3 files');
  assert.equal(row?.started_at, BigInt(T0));
  assert.equal(row?.finished_at, BigInt(T0 + 1500));
  assert.deepEqual(scheduler.lastRuns(), [run]);
  assert.deepEqual(scheduler.jobs(), ['sweep']);
});

void test('a failing job is recorded failed with its message only, and its next run still happens', async (t) => {
  const { db, scheduler, lines } = rig(t);
  let calls = 0;
  scheduler.add({
    name: 'flaky',
    cron: '*/10 * * * * *',
    everySeconds: 10,
    run() {
      calls += 1;
      if (calls === 1) return Promise.reject(new Error('esplora said 503\n    at secretPath (/home/op/.keys:1:1)'));
      return Promise.resolve();
    },
  });
  const first = await scheduler.runNow('flaky');
  assert.equal(first.outcome, 'failed');
  assert.equal(first.detail, 'esplora said 503 at secretPath (/home/op/.keys:1:1)', 'the message, on one line');
  assert.ok(!rows(db)[0]?.detail?.includes('scheduler.ts'), 'no stack trace is stored');
  assert.ok(lines.some((l) => l.includes('flaky failed')), 'the failure is logged');

  const second = await scheduler.runNow('flaky');
  assert.equal(second.outcome, 'ok');
  assert.equal(second.detail, undefined);
  assert.deepEqual(rows(db).map((r) => r.outcome), ['failed', 'ok']);

  // A job that throws synchronously, or throws a non-Error, is still a recorded failure, not a crash.
  scheduler.add({
    name: 'sync-thrower',
    cron: '0 * * * *',
    everySeconds: 3600,
    run() {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a careless job is exactly what is tested
      throw 'plain string';
    },
  });
  const third = await scheduler.runNow('sync-thrower');
  assert.equal(third.outcome, 'failed');
  assert.equal(third.detail, 'plain string');
});

void test('a job never overlaps itself: a second trigger while it runs records a skipped run and returns at once', async (t) => {
  const { db, scheduler } = rig(t);
  const gate = deferred();
  let starts = 0;
  scheduler.add({
    name: 'watcher',
    cron: '*/10 * * * * *',
    everySeconds: 10,
    async run() {
      starts += 1;
      await gate.promise;
    },
  });
  const first = scheduler.runNow('watcher');
  const second = await scheduler.runNow('watcher');
  assert.equal(second.outcome, 'skipped');
  assert.match(second.detail ?? '', /^still running \(started 2024-01-01T00:00:00.000Z\)$/);
  assert.equal(starts, 1, 'the job body ran once');
  assert.equal(scheduler.lastRuns()[0]?.outcome, 'running', 'the run in progress says more than the skip');

  gate.resolve();
  assert.equal((await first).outcome, 'ok');
  assert.deepEqual(rows(db).map((r) => r.outcome), ['ok', 'skipped']);
  assert.equal(scheduler.lastRuns()[0]?.outcome, 'ok');
  // Free again: the next trigger runs.
  assert.equal((await scheduler.runNow('watcher')).outcome, 'ok');
  assert.equal(starts, 2);
});

void test('advance() runs each job that fell due once, not the others, with the advanced time as ctx.now', async (t) => {
  const { scheduler, clock } = rig(t);
  const fast = recorder('fast', 10);
  const hourly = recorder('hourly', 3600);
  const daily = recorder('daily', 86_400);
  scheduler.add(fast);
  scheduler.add(hourly);
  scheduler.add(daily);

  const r1 = await scheduler.advance(5);
  assert.equal(r1.now.getTime(), T0 + 5000);
  assert.deepEqual(r1.ran, [], 'nothing is due 5 s after the jobs were added');

  const r2 = await scheduler.advance(7200);
  assert.equal(r2.now.getTime(), T0 + 7_205_000);
  assert.deepEqual(r2.ran.map((r) => [r.job, r.outcome]), [['fast', 'ok'], ['hourly', 'ok']]);
  assert.equal(fast.seen.length, 1, 'once, not once per missed 10 s period');
  assert.equal(hourly.seen.length, 1, 'once, not twice for two missed hours');
  assert.equal(daily.seen.length, 0, 'not due yet');
  assert.equal(fast.seen[0]?.getTime(), T0 + 7_205_000);
  assert.equal(hourly.seen[0]?.getTime(), T0 + 7_205_000);
  assert.equal(clock.now().getTime(), T0 + 7_205_000);

  // The period now counts from the last run: 9 s later nothing is due, 10 s later the fast job is.
  assert.deepEqual((await scheduler.advance(9)).ran, []);
  assert.deepEqual((await scheduler.advance(1)).ran.map((r) => r.job), ['fast']);

  const r3 = await scheduler.advance(86_400);
  assert.deepEqual(r3.ran.map((r) => r.job), ['fast', 'hourly', 'daily']);
  assert.equal(daily.seen[0]?.getTime(), T0 + 7_215_000 + 86_400_000);
  assert.deepEqual(scheduler.lastRuns().map((r) => [r.job, r.startedAt.getTime()]), [
    ['fast', T0 + 93_615_000],
    ['hourly', T0 + 93_615_000],
    ['daily', T0 + 93_615_000],
  ]);
});

void test('advance() waits for a run in progress instead of skipping it, then runs the job at the new time', async (t) => {
  const { scheduler } = rig(t);
  const gate = deferred();
  const seen: number[] = [];
  scheduler.add({
    name: 'sweep',
    cron: '0 * * * *',
    everySeconds: 3600,
    async run(ctx) {
      seen.push(ctx.now.getTime());
      if (seen.length === 1) await gate.promise;
    },
  });
  const running = scheduler.runNow('sweep');
  const advanced = scheduler.advance(3600);
  gate.resolve();
  assert.equal((await running).outcome, 'ok');
  const { ran } = await advanced;
  assert.deepEqual(ran.map((r) => r.outcome), ['ok']);
  assert.deepEqual(seen, [T0, T0 + 3_600_000]);
});

void test('a job failing during advance() is recorded and the other due jobs still run', async (t) => {
  const { scheduler } = rig(t);
  scheduler.add({ name: 'broken', cron: '0 * * * *', everySeconds: 60, run: () => Promise.reject(new Error('no chain')) });
  const ok = recorder('ok', 60);
  scheduler.add(ok);
  const { ran } = await scheduler.advance(60);
  assert.deepEqual(ran.map((r) => [r.job, r.outcome, r.detail]), [['broken', 'failed', 'no chain'], ['ok', 'ok', 'run 1']]);
  // A failed run counts as the period's attempt: it is retried a period later, not on every advance.
  assert.deepEqual((await scheduler.advance(1)).ran, []);
  assert.deepEqual((await scheduler.advance(59)).ran.map((r) => r.job), ['broken', 'ok']);
});

void test('advance() needs a DevClock', async (t) => {
  const db = openAgentDb(':memory:');
  const scheduler = new Scheduler({ db, clock: new SystemClock() });
  t.after(async () => {
    await scheduler.stop();
    db.close();
  });
  await assert.rejects(scheduler.advance(60), (e) => isAgentError(e, 'DEVNET_ONLY') && e.status === 404);
});

void test('runs a killed process left running are closed as failed at construction', (t) => {
  const db = openAgentDb(':memory:');
  db.prepare("INSERT INTO job_runs (job, started_at, outcome) VALUES ('sweep', ?, 'running')").run(BigInt(T0 - 60_000));
  db.prepare("INSERT INTO job_runs (job, started_at, finished_at, outcome, detail) VALUES ('watcher', ?, ?, 'ok', 'fine')").run(BigInt(T0 - 5000), BigInt(T0 - 4000));
  const { scheduler } = rig(t, { db });
  scheduler.add(recorder('sweep', 3600));
  scheduler.add(recorder('watcher', 10));

  const [sweep, watcher] = rows(db);
  assert.equal(sweep?.outcome, 'failed');
  assert.equal(sweep?.detail, 'interrupted (process ended)');
  assert.equal(sweep?.finished_at, BigInt(T0));
  assert.equal(watcher?.outcome, 'ok', 'finished runs are left alone');
  assert.equal(watcher?.detail, 'fine');
  assert.deepEqual(scheduler.lastRuns(), [
    { job: 'sweep', startedAt: new Date(T0 - 60_000), finishedAt: new Date(T0), outcome: 'failed', detail: 'interrupted (process ended)' },
    { job: 'watcher', startedAt: new Date(T0 - 5000), finishedAt: new Date(T0 - 4000), outcome: 'ok', detail: 'fine' },
  ]);
});

void test('a database that cannot be written at construction does not stop the scheduler: the interrupted run is closed at the next run', async (t) => {
  const db = openAgentDb(':memory:');
  db.prepare("INSERT INTO job_runs (job, started_at, outcome) VALUES ('sweep', ?, 'running')").run(BigInt(T0 - 60_000));
  // What a full disk does to every write (SQLITE_FULL), for job_runs only.
  db.exec("CREATE TRIGGER test_full BEFORE UPDATE ON job_runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  const { scheduler, lines } = rig(t, { db });
  scheduler.add(recorder('sweep', 3600));
  assert.equal(rows(db, 'sweep')[0]?.outcome, 'running');
  assert.ok(lines.some((l) => l.includes('could not close the runs a previous process left running')), lines.join('\n'));

  db.exec('DROP TRIGGER test_full');
  assert.equal((await scheduler.runNow('sweep')).outcome, 'ok');
  const [interrupted, run] = rows(db, 'sweep');
  assert.equal(interrupted?.outcome, 'failed');
  assert.equal(interrupted?.detail, 'interrupted (process ended)');
  assert.equal(run?.outcome, 'ok', 'a run of this scheduler is not taken for an interrupted one');
});

void test('runNow on an unknown job is JOB_NOT_FOUND (404)', async (t) => {
  const { scheduler } = rig(t);
  scheduler.add(recorder('sweep', 3600));
  await assert.rejects(scheduler.runNow('swep'), (e) => isAgentError(e, 'JOB_NOT_FOUND') && e.status === 404 && e.details?.['name'] === 'swep');
});

void test('add() refuses a bad name, a taken name, an invalid cron expression and a bad period', (t) => {
  const { scheduler } = rig(t);
  scheduler.add(recorder('sweep', 3600));
  const bad: Job[] = [
    { ...recorder('sweep', 3600) },
    { ...recorder('has space', 3600) },
    { ...recorder('', 3600) },
    { ...recorder('x', 3600), cron: '61 * * * *' },
    { ...recorder('y', 3600), cron: 'every hour' },
    { ...recorder('z', 0) },
    { ...recorder('w', 1.5) },
  ];
  for (const job of bad) {
    assert.throws(() => scheduler.add(job), (e) => isAgentError(e, 'JOB_INVALID'), `${job.name} / ${job.cron} / ${job.everySeconds}`);
  }
  assert.deepEqual(scheduler.jobs(), ['sweep']);
});

void test('job_runs is pruned to the newest runs of each job, keeping a run in progress and the last success', async (t) => {
  const { db, scheduler } = rig(t, { keepRuns: 5 });
  let fail = false;
  scheduler.add({ name: 'a', cron: '0 * * * *', everySeconds: 3600, run: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve()) });
  scheduler.add(recorder('b', 3600));
  for (let i = 0; i < 8; i++) await scheduler.runNow('a');
  await scheduler.runNow('b');
  const aIds = rows(db, 'a').map((r) => r.id);
  assert.equal(aIds.length, 5);
  assert.deepEqual(aIds, [4n, 5n, 6n, 7n, 8n], 'the newest five');
  assert.equal(rows(db, 'b').length, 1, 'pruning one job leaves the others alone');

  fail = true;
  for (let i = 0; i < 7; i++) await scheduler.runNow('a');
  const a = rows(db, 'a');
  assert.deepEqual(a.map((r) => r.outcome), ['ok', 'failed', 'failed', 'failed', 'failed', 'failed'], 'the last success survives');
  assert.equal(a[0]?.id, 8n);
});

void test('job_runs keeps 200 runs per job by default', async (t) => {
  const { db, scheduler } = rig(t);
  scheduler.add(recorder('a', 3600));
  for (let i = 0; i < 203; i++) await scheduler.runNow('a');
  const count = db.prepare("SELECT count(*) AS n FROM job_runs WHERE job = 'a'").get() as { n: bigint };
  assert.equal(count.n, 200n);
});

void test('stop() aborts the signal of a run in progress and waits until it is recorded', async (t) => {
  const { db, scheduler } = rig(t);
  const reachedAbort = deferred();
  const release = deferred();
  let signal: AbortSignal | undefined;
  scheduler.add({
    name: 'slow',
    cron: '0 * * * *',
    everySeconds: 3600,
    async run(ctx) {
      signal = ctx.signal;
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      reachedAbort.resolve();
      await release.promise; // cleaning up after the abort
      throw ctx.signal.reason;
    },
  });
  const run = scheduler.runNow('slow');
  let stopped = false;
  const stopping = scheduler.stop().then(() => {
    stopped = true;
  });
  await reachedAbort.promise;
  assert.equal(signal?.aborted, true);
  await new Promise((r) => setImmediate(r));
  assert.equal(stopped, false, 'stop() is still waiting for the run');
  assert.equal(rows(db)[0]?.outcome, 'running');

  release.resolve();
  await stopping;
  assert.equal(stopped, true);
  const [row] = rows(db);
  assert.equal(row?.outcome, 'failed');
  assert.equal(row?.detail, 'aborted: the scheduler stopped');
  assert.equal((await run).outcome, 'failed');

  await assert.rejects(scheduler.runNow('slow'), (e) => isAgentError(e, 'SCHEDULER_STOPPED') && e.status === 503);
  assert.throws(() => scheduler.start(), (e) => isAgentError(e, 'SCHEDULER_STOPPED'));
  assert.equal(rows(db).length, 1, 'nothing ran after stop');
});

void test('start() catches up every job whose last success is older than its period, once, and no other', async (t) => {
  const db = openAgentDb(':memory:');
  const ins = db.prepare('INSERT INTO job_runs (job, started_at, finished_at, outcome, detail) VALUES (?, ?, ?, ?, NULL)');
  ins.run('stale', BigInt(T0 - 86_400_000), BigInt(T0 - 86_400_000), 'ok'); // a day ago, hourly job
  ins.run('fresh', BigInt(T0 - 60_000), BigInt(T0 - 60_000), 'ok'); // a minute ago, hourly job
  ins.run('retry', BigInt(T0 - 7_200_000), BigInt(T0 - 7_200_000), 'ok'); // 2 h ago, then failed recently
  ins.run('retry', BigInt(T0 - 60_000), BigInt(T0 - 60_000), 'failed');
  const { scheduler, lines } = rig(t, { db });
  const stale = recorder('stale', 3600);
  const fresh = recorder('fresh', 3600);
  const retry = recorder('retry', 3600);
  const never = recorder('never', 86_400);
  for (const j of [stale, fresh, retry, never]) scheduler.add(j);

  scheduler.start();
  scheduler.start(); // a second call does nothing more
  await scheduler.idle();
  assert.equal(stale.seen.length, 1);
  assert.equal(fresh.seen.length, 0);
  assert.equal(retry.seen.length, 1, 'the last success, not the last attempt, is what counts at start');
  assert.equal(never.seen.length, 1);
  assert.equal(stale.seen[0]?.getTime(), T0, 'ctx.now comes from the injected clock');
  assert.equal(lines.filter((l) => l.includes('catching up')).length, 3);

  // A job added after start is scheduled and caught up too.
  const late = recorder('late', 60);
  scheduler.add(late);
  await scheduler.idle();
  assert.equal(late.seen.length, 1);
});

void test('a restarted devnet agent keeps its advanced time and measures periods in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-sched-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.db');

  const db1 = openAgentDb(path);
  const s1 = new Scheduler({ db: db1, clock: new DevClock({ db: db1, base: new FixedClock(T0) }) });
  s1.add(recorder('sweep', 3600));
  await s1.advance(86_400 + 3600);
  await s1.stop();
  db1.close();

  // Same wall time after the restart: the clock stays a day and an hour ahead, so the run 0 s ago is fresh.
  const db2 = openAgentDb(path);
  const clock2 = new DevClock({ db: db2, base: new FixedClock(T0) });
  const s2 = new Scheduler({ db: db2, clock: clock2 });
  t.after(async () => {
    await s2.stop();
    db2.close();
  });
  const sweep = recorder('sweep', 3600);
  s2.add(sweep);
  assert.equal(clock2.now().getTime(), T0 + 90_000_000);
  s2.start();
  await s2.idle();
  assert.equal(sweep.seen.length, 0, 'not caught up: its last run is 0 s old in devnet time');
  const { ran } = await s2.advance(3600);
  assert.deepEqual(ran.map((r) => r.startedAt.getTime()), [T0 + 93_600_000]);
});
