/**
 * The job scheduler: a timer per job fires it on real time at the next time its cron expression names
 * (src/scheduler/cron.ts, in UTC), every run is recorded in `job_runs`, and on devnet `advance()` runs in virtual
 * time whatever fell due while the clock jumped. Jobs get their time from the injected Clock, never from the
 * system clock directly; only the timers read the system clock, to wake on real time.
 */
import { performance } from 'node:perf_hooks';
import type { Db } from '../db/index.ts';
import { AgentError, isAgentError } from '../errors/index.ts';
import { DevClock, type Clock } from './clock.ts';
import { nextCronRun, parseCron, type CronSchedule } from './cron.ts';
import { clip, describe } from './detail.ts';
import { JobRunsRepository, type JobOutcome, type RunRow } from './repository.ts';

/** What a job gets when it runs. */
export interface JobContext {
  /** The time of this run, from the scheduler's Clock (on devnet: the advanced time). */
  now: Date;
  /** Aborted when the scheduler stops; a job passes it to every request and returns (or throws) soon after. */
  signal: AbortSignal;
}

/**
 * A piece of unattended work.
 *
 * Contract: every job is idempotent. Running it twice in a row, or late, is harmless: the storage sweep
 * charges by period ("since last charged"), the payment watcher records each outpoint once, and so on. That
 * is what lets the scheduler run a job that was due several times over (after downtime, or across a devnet
 * `advance`) exactly once, rather than once per missed period.
 */
export interface Job {
  /** Unique; letters, digits, '.', '_' and '-' (it appears in `POST /v1/dev/jobs/:name`). */
  readonly name: string;
  /** A cron expression (5 fields, or 6 with seconds first; src/scheduler/cron.ts), read in UTC. */
  readonly cron: string;
  /** The period `cron` describes, in whole seconds; used to decide what is due in virtual time and at start. */
  readonly everySeconds: number;
  /** Does the work; the string returned is a short detail kept with the run. Throwing marks the run failed. */
  run(ctx: JobContext): Promise<string | void>;
}

/** One recorded run of a job. */
export type JobRun = {
  job: string;
  startedAt: Date;
  finishedAt?: Date;
  outcome: JobOutcome;
  detail?: string;
};

/** How much a scheduler log line matters: routine (a catch-up, a skip) or a failure. */
export type SchedulerLogLevel = 'info' | 'warn' | 'error';

export interface SchedulerOptions {
  db: Db;
  clock: Clock;
  /** Where failures, skips and late ticks go, one line each; default nowhere. */
  log?: (line: string, level: SchedulerLogLevel) => void;
  /**
   * Told of every run once it is recorded (metrics): `seconds` is how long a run that started took (measured
   * on the monotonic clock, not the injected Clock, which on devnet jumps), undefined for a skipped run.
   */
  onRun?: (run: JobRun, seconds: number | undefined) => void;
  /** Runs kept per job in `job_runs` (default 200); older ones are deleted as new ones are recorded. */
  keepRuns?: number;
}

const DEFAULT_KEEP_RUNS = 200;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The longest delay `setTimeout` keeps (about 24.8 days); a run further off is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A tick this late (the event loop was busy, the machine suspended) is logged. */
const LATE_MS = 1000;

interface Entry {
  readonly job: Job;
  /** `job.cron`, read in UTC: a local-time daily job would be skipped or doubled when daylight saving changes. */
  readonly schedule: CronSchedule;
  /** Clock time (ms) when added: the reference for `advance()` until the job has a recorded run. */
  readonly addedAtMs: number;
  /** The timer set for the next run, while started. */
  timer: NodeJS.Timeout | undefined;
}

interface Flight {
  readonly controller: AbortController;
  readonly startedAt: Date;
  done: Promise<JobRun>;
}

/**
 * Runs jobs on their schedule and records every run.
 *
 * Only the process that runs the jobs constructs a Scheduler: construction closes any run left 'running' as
 * interrupted, which would be wrong for runs of another live process sharing the database.
 */
export class Scheduler {
  readonly #clock: Clock;
  readonly #log: (line: string, level?: SchedulerLogLevel) => void;
  readonly #onRun: (run: JobRun, seconds: number | undefined) => void;
  readonly #jobs = new Map<string, Entry>();
  readonly #flights = new Map<string, Flight>();
  #state: 'idle' | 'started' | 'stopping' = 'idle';
  #stopped: Promise<void> | undefined;
  /** The start-up catch-up, and the catch-up of jobs added after start, run one after another. */
  #catchUp: Promise<void> = Promise.resolve();
  /** Advances run one at a time, so a job never sees the clock move under a concurrent advance. */
  #advancing: Promise<unknown> = Promise.resolve();

  readonly #runs: JobRunsRepository;
  readonly #closeInterrupted: () => void;
  #interruptedClosed = false;

  /**
   * Creates the scheduler and closes, as failed, the runs a killed process left 'running'.
   * @throws AgentError INTERNAL when `keepRuns` is not a positive integer; the database's error if it cannot
   * be written.
   */
  constructor(opts: SchedulerOptions) {
    this.#clock = opts.clock;
    const sink = opts.log;
    this.#log = (line, level = 'info') => {
      // A broken log sink must not turn a recorded failure into a crash.
      try {
        sink?.(line, level);
      } catch {
        /* nothing better to do */
      }
    };
    const onRun = opts.onRun;
    this.#onRun = (run, seconds) => {
      // Likewise for a broken observer: the run is recorded either way.
      try {
        onRun?.(run, seconds);
      } catch {
        /* nothing better to do */
      }
    };
    const keep = opts.keepRuns ?? DEFAULT_KEEP_RUNS;
    if (!Number.isSafeInteger(keep) || keep < 1) throw new AgentError('INTERNAL', 'keepRuns must be a positive integer', { keepRuns: keep });
    this.#runs = new JobRunsRepository(opts.db, keep);

    // Only runs recorded before this scheduler was made (by id, which only grows): a later retry must not
    // close a run of this process.
    const lastId = this.#runs.lastId();
    this.#closeInterrupted = () => {
      this.#runs.closeInterrupted(BigInt(this.#clock.now().getTime()), lastId);
      this.#interruptedClosed = true;
    };
    // A full disk must not keep the agent from starting: the records are closed at the next run that can write.
    try {
      this.#closeInterrupted();
    } catch (e) {
      this.#log(`scheduler: could not close the runs a previous process left running (${describe(e)}); retried at the next run`);
    }
  }

  /**
   * Registers a job. After `start()` it is scheduled (and caught up) at once.
   * @throws AgentError JOB_INVALID when the name is malformed or taken, the cron expression is invalid, or
   * `everySeconds` is not a positive integer; SCHEDULER_STOPPED after `stop()`.
   */
  add(job: Job): void {
    this.#assertNotStopped();
    if (typeof job.name !== 'string' || !NAME_RE.test(job.name)) {
      throw new AgentError('JOB_INVALID', 'a job name is 1-64 letters, digits, ".", "_" or "-"', { name: String(job.name) });
    }
    if (this.#jobs.has(job.name)) throw new AgentError('JOB_INVALID', `a job named ${job.name} is already added`, { name: job.name });
    let schedule: CronSchedule;
    try {
      schedule = parseCron(job.cron);
    } catch (e) {
      throw new AgentError('JOB_INVALID', `job ${job.name}: ${isAgentError(e) ? e.message : 'invalid cron expression'}`, { name: job.name, cron: String(job.cron).slice(0, 100) });
    }
    if (!Number.isSafeInteger(job.everySeconds) || job.everySeconds < 1) {
      throw new AgentError('JOB_INVALID', `job ${job.name}: everySeconds must be a positive integer`, { name: job.name });
    }
    const entry: Entry = { job, schedule, addedAtMs: this.#clock.now().getTime(), timer: undefined };
    this.#jobs.set(job.name, entry);
    if (this.#state === 'started') {
      this.#arm(entry);
      this.#queueCatchUp([entry]);
    }
  }

  /** The names of the jobs, in the order they were added. */
  jobs(): string[] {
    return [...this.#jobs.keys()];
  }

  /**
   * Sets every job's timer for its next run on real time, then runs once, one after another in the order added,
   * each job whose last successful run is older than its period (or that never succeeded): an agent that was
   * down for a day catches up at once instead of at the next tick. Calling it again does nothing.
   * @throws AgentError SCHEDULER_STOPPED after `stop()`.
   */
  start(): void {
    this.#assertNotStopped();
    if (this.#state === 'started') return;
    this.#state = 'started';
    for (const entry of this.#jobs.values()) this.#arm(entry);
    this.#queueCatchUp([...this.#jobs.values()]);
  }

  /**
   * Stops the timers, aborts the signal of every run in progress and waits for those runs (and any catch-up or
   * advance under way) to finish and be recorded. Final: a stopped scheduler does not start again.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#state = 'stopping';
    for (const entry of this.#jobs.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    const reason = new AgentError('SCHEDULER_STOPPED', 'aborted: the scheduler stopped');
    for (const flight of this.#flights.values()) flight.controller.abort(reason);
    const pending = [this.#catchUp, this.#advancing, ...[...this.#flights.values()].map((f) => f.done)];
    this.#stopped = Promise.allSettled(pending).then(() => undefined);
    return this.#stopped;
  }

  /**
   * Resolves when nothing is running: the catch-up is done and no run is in progress. For tests and for a
   * caller that wants the start-up catch-up finished before it goes on.
   */
  async idle(): Promise<void> {
    for (;;) {
      await this.#catchUp;
      await this.#advancing;
      const flights = [...this.#flights.values()];
      if (flights.length === 0) return;
      await Promise.allSettled(flights.map((f) => f.done));
    }
  }

  /**
   * Runs a job now and returns its recorded run. If the job is already running, records and returns a
   * 'skipped' run at once instead: a job never overlaps itself. A job that throws gives a 'failed' run, not a
   * rejection.
   * @throws AgentError JOB_NOT_FOUND for an unknown name; SCHEDULER_STOPPED after `stop()`; the database's
   * error if the run cannot be recorded.
   */
  async runNow(name: string): Promise<JobRun> {
    const entry = this.#jobs.get(name);
    if (!entry) throw new AgentError('JOB_NOT_FOUND', `no job named ${name}`, { name });
    return this.#execute(entry);
  }

  /**
   * Devnet: moves the DevClock forward by `seconds`, then runs once each job that is due at the new time (its
   * last run, or its addition if it never ran, is at least one period back), in the order added. A job
   * caught running is waited for, not skipped, since the advanced time must still be seen by a run.
   * Advances are serialized.
   * @throws AgentError DEVNET_ONLY unless the clock is a DevClock; BAD_REQUEST for a bad `seconds` (see
   * DevClock.advance); SCHEDULER_STOPPED after `stop()`.
   */
  async advance(seconds: number): Promise<{ now: Date; ran: JobRun[] }> {
    const clock = this.#clock;
    if (!(clock instanceof DevClock)) throw new AgentError('DEVNET_ONLY', 'the clock can only be advanced on devnet');
    this.#assertNotStopped();
    const result = this.#advancing.then(() => this.#advanceNow(clock, seconds));
    this.#advancing = result.catch(() => undefined);
    return result;
  }

  /** The latest run of every job that has one (the one in progress, if any), in the order jobs were added. */
  lastRuns(): JobRun[] {
    const out: JobRun[] = [];
    for (const name of this.#jobs.keys()) {
      const row = this.#runs.lastRun(name);
      if (row) out.push(toRun(row));
    }
    return out;
  }

  async #advanceNow(clock: DevClock, seconds: number): Promise<{ now: Date; ran: JobRun[] }> {
    this.#assertNotStopped();
    const now = clock.advance(seconds);
    const ran: JobRun[] = [];
    for (const entry of this.#jobs.values()) {
      for (let flight = this.#flights.get(entry.job.name); flight; flight = this.#flights.get(entry.job.name)) await flight.done;
      if (this.#state === 'stopping') break;
      const ref = this.#runs.lastAttemptStart(entry.job.name) ?? entry.addedAtMs;
      if (now.getTime() - ref < entry.job.everySeconds * 1000) continue;
      ran.push(await this.#execute(entry));
    }
    return { now, ran };
  }

  #queueCatchUp(entries: Entry[]): void {
    this.#catchUp = this.#catchUp.then(async () => {
      for (const entry of entries) {
        if (this.#state === 'stopping') return;
        // Caught per job, and nothing escapes: this chain has no other handler, and one job that cannot even
        // be recorded must not keep the others from catching up.
        try {
          const lastOk = this.#runs.lastOkStart(entry.job.name);
          if (lastOk !== undefined && this.#clock.now().getTime() - lastOk < entry.job.everySeconds * 1000) continue;
          this.#log(`scheduler: catching up job ${entry.job.name}`);
          await this.#execute(entry);
        } catch (e) {
          this.#log(`scheduler: catch-up of job ${entry.job.name} could not run: ${describe(e)}`, 'error');
        }
      }
    });
  }

  /** Sets the job's timer for `dueMs` (default its next run after now) on real time; not unref'd: `stop()` clears it. */
  #arm(entry: Entry, dueMs = nextCronRun(entry.schedule, Date.now())): void {
    const delay = Math.min(Math.max(dueMs - Date.now(), 0), MAX_TIMER_MS);
    entry.timer = setTimeout(() => this.#wake(entry, dueMs), delay);
  }

  /**
   * The timer fired: runs the job once if its time has come, however many of its times went by meanwhile (jobs are
   * idempotent; a run finding the job running is recorded as skipped), then sets the timer for the next run.
   */
  #wake(entry: Entry, dueMs: number): void {
    entry.timer = undefined;
    if (this.#state !== 'started') return;
    const now = Date.now();
    // Early: the delay was cut to MAX_TIMER_MS, or the system clock was set back. Wait for the rest.
    if (now < dueMs) return this.#arm(entry, dueMs);
    const name = entry.job.name;
    if (now - dueMs >= LATE_MS) this.#log(`scheduler: job ${name} runs ${((now - dueMs) / 1000).toFixed(1)} s after its time ${new Date(dueMs).toISOString()}`, 'warn');
    this.#execute(entry).catch((e: unknown) => this.#log(`scheduler: job ${name} could not run: ${describe(e)}`, 'error'));
    this.#arm(entry, nextCronRun(entry.schedule, now));
  }

  /**
   * Starts (or skips) one run. There is no await between the overlap check and registering the flight (an
   * async function runs synchronously up to its first await), so two triggers cannot both start the job.
   */
  async #execute(entry: Entry): Promise<JobRun> {
    this.#assertNotStopped();
    const name = entry.job.name;
    const startedAt = this.#clock.now();
    const startedMs = BigInt(startedAt.getTime());
    const current = this.#flights.get(name);
    if (current) {
      const detail = `still running (started ${current.startedAt.toISOString()})`;
      this.#runs.insert(name, startedMs, startedMs, 'skipped', detail);
      this.#log(`scheduler: job ${name} skipped: ${detail}`);
      const skipped: JobRun = { job: name, startedAt, finishedAt: startedAt, outcome: 'skipped', detail };
      this.#onRun(skipped, undefined);
      return skipped;
    }
    if (!this.#interruptedClosed) this.#closeInterrupted();
    const id = this.#runs.insert(name, startedMs, null, 'running', null);
    const flight: Flight = { controller: new AbortController(), startedAt, done: Promise.resolve({ job: name, startedAt, outcome: 'running' }) };
    this.#flights.set(name, flight);
    flight.done = this.#perform(entry.job, id, startedAt, flight.controller.signal);
    return await flight.done;
  }

  /** Runs the job and records how it ended. Never rejects. */
  async #perform(job: Job, id: bigint, startedAt: Date, signal: AbortSignal): Promise<JobRun> {
    let outcome: 'ok' | 'failed';
    let detail: string | undefined;
    const t0 = performance.now();
    try {
      // A copy, so a job that mutates its Date cannot change the recorded start.
      const result = await job.run({ now: new Date(startedAt.getTime()), signal });
      outcome = 'ok';
      detail = typeof result === 'string' ? clip(result) : undefined;
    } catch (e) {
      outcome = 'failed';
      detail = describe(e);
    }
    const seconds = (performance.now() - t0) / 1000;
    const finishedAt = this.#clock.now();
    try {
      this.#runs.finish(id, job.name, BigInt(finishedAt.getTime()), outcome, detail ?? null);
    } catch (e) {
      this.#log(`scheduler: could not record the end of job ${job.name}: ${describe(e)}`, 'error');
    }
    // Removed before anyone awaiting this run resumes, so they find the job free.
    this.#flights.delete(job.name);
    if (outcome === 'failed') this.#log(`scheduler: job ${job.name} failed: ${detail ?? ''}`, 'warn');
    const run: JobRun = { job: job.name, startedAt, finishedAt, outcome };
    if (detail !== undefined) run.detail = detail;
    this.#onRun(run, seconds);
    return run;
  }

  #assertNotStopped(): void {
    if (this.#state === 'stopping') throw new AgentError('SCHEDULER_STOPPED', 'the scheduler has stopped');
  }
}

function toRun(row: RunRow): JobRun {
  const run: JobRun = { job: row.job, startedAt: new Date(Number(row.started_at)), outcome: row.outcome };
  if (row.finished_at !== null) run.finishedAt = new Date(Number(row.finished_at));
  if (row.detail !== null) run.detail = row.detail;
  return run;
}
