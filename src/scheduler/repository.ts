/**
 * Every statement the scheduler runs: the job runs it records (`job_runs`) and the devnet clock's offset (a
 * row of `meta`), both created in ./schema.ts. Each is prepared once when its repository is built,
 * with the rows it returns typed, so a run compiles nothing and the scheduler's whole use of the database can
 * be read here.
 */
import { MetaStore, type Db } from '../db/index.ts';

export type JobOutcome = 'ok' | 'failed' | 'skipped' | 'running';

/** A row of job_runs. */
export interface RunRow {
  job: string;
  started_at: bigint;
  finished_at: bigint | null;
  outcome: JobOutcome;
  detail: string | null;
}

/** The job runs: recorded, closed, pruned to the newest `keep` per job, and read back. */
export class JobRunsRepository {
  readonly #closeInterrupted;
  readonly #lastId;
  readonly #prune;
  readonly #insert;
  readonly #update;
  readonly #lastOk;
  readonly #lastAttempt;
  readonly #lastRun;
  readonly #insertTx: (job: string, startedAt: bigint, finishedAt: bigint | null, outcome: JobOutcome, detail: string | null) => bigint;
  readonly #finishTx: (id: bigint, job: string, finishedAt: bigint, outcome: JobOutcome, detail: string | null) => void;

  /** `keep`: the runs kept per job; older ones are deleted as new ones are recorded. */
  constructor(db: Db, keep: number) {
    // Only runs up to a given id: a later retry must not close a run of this process.
    this.#closeInterrupted = db.prepare(
      "UPDATE job_runs SET outcome = 'failed', finished_at = ?, detail = 'interrupted (process ended)' WHERE outcome = 'running' AND id <= ?",
    );
    this.#lastId = db.prepare('SELECT coalesce(max(id), 0) AS id FROM job_runs');
    // Keeps the newest `keep` rows of a job, and never deletes a run still in progress (its end is yet to be
    // written) nor the latest successful one (start-up catch-up measures the period from it).
    this.#prune = db.prepare(`
      DELETE FROM job_runs
      WHERE job = @job AND outcome <> 'running'
        AND id <= (SELECT id FROM job_runs WHERE job = @job ORDER BY id DESC LIMIT 1 OFFSET @keep)
        AND id IS NOT (SELECT id FROM job_runs WHERE job = @job AND outcome = 'ok' ORDER BY id DESC LIMIT 1)`);
    this.#insert = db.prepare('INSERT INTO job_runs (job, started_at, finished_at, outcome, detail) VALUES (?, ?, ?, ?, ?)');
    this.#update = db.prepare('UPDATE job_runs SET finished_at = ?, outcome = ?, detail = ? WHERE id = ?');
    this.#lastOk = db.prepare("SELECT started_at FROM job_runs WHERE job = ? AND outcome = 'ok' ORDER BY id DESC LIMIT 1");
    this.#lastAttempt = db.prepare("SELECT started_at FROM job_runs WHERE job = ? AND outcome IN ('ok', 'failed') ORDER BY id DESC LIMIT 1");
    // A run in progress, or the last one that finished, says more than a tick skipped because of it.
    this.#lastRun = db.prepare(
      "SELECT job, started_at, finished_at, outcome, detail FROM job_runs WHERE job = ? ORDER BY outcome = 'skipped', id DESC LIMIT 1",
    );
    const keepRuns = BigInt(keep);
    this.#insertTx = db.transaction((job: string, startedAt: bigint, finishedAt: bigint | null, outcome: JobOutcome, detail: string | null) => {
      const id = this.#insert.run(job, startedAt, finishedAt, outcome, detail).lastInsertRowid;
      this.#prune.run({ job, keep: keepRuns });
      return BigInt(id);
    });
    this.#finishTx = db.transaction((id: bigint, job: string, finishedAt: bigint, outcome: JobOutcome, detail: string | null) => {
      this.#update.run(finishedAt, outcome, detail, id);
      this.#prune.run({ job, keep: keepRuns });
    });
  }

  /** The highest run id recorded so far (0 when none). */
  lastId(): bigint {
    return (this.#lastId.get() as { id: bigint }).id;
  }

  /** Closes as failed ("interrupted") every run up to `upToId` still marked running. */
  closeInterrupted(finishedAt: bigint, upToId: bigint): void {
    this.#closeInterrupted.run(finishedAt, upToId);
  }

  /** Records a run and prunes the job's old ones, in one transaction; returns the run's id. */
  insert(job: string, startedAt: bigint, finishedAt: bigint | null, outcome: JobOutcome, detail: string | null): bigint {
    return this.#insertTx(job, startedAt, finishedAt, outcome, detail);
  }

  /** Writes how a run ended and prunes the job's old runs, in one transaction. */
  finish(id: bigint, job: string, finishedAt: bigint, outcome: JobOutcome, detail: string | null): void {
    this.#finishTx(id, job, finishedAt, outcome, detail);
  }

  /** The start (ms) of the job's latest successful run. */
  lastOkStart(job: string): number | undefined {
    return startOf(this.#lastOk.get(job));
  }

  /** The start (ms) of the job's latest run that finished, successfully or not. */
  lastAttemptStart(job: string): number | undefined {
    return startOf(this.#lastAttempt.get(job));
  }

  /** The job's latest run: the one in progress or the last finished, before a skipped one. */
  lastRun(job: string): RunRow | undefined {
    return this.#lastRun.get(job) as RunRow | undefined;
  }
}

function startOf(row: unknown): number | undefined {
  return row ? Number((row as { started_at: bigint }).started_at) : undefined;
}

/** The meta key holding a DevClock's offset, so a restarted (or kill -9'd) devnet agent keeps its time. */
const OFFSET_KEY = 'dev_clock_offset_ms';

/** The devnet clock's persisted offset: one row of `meta`, its value the offset in milliseconds as text. */
export class ClockOffsetRepository {
  readonly #meta;

  constructor(db: Db) {
    this.#meta = new MetaStore(db);
  }

  /** The key the offset is kept under, for messages. */
  get key(): string {
    return OFFSET_KEY;
  }

  /** The stored offset as written, undefined when none was ever stored. */
  read(): string | undefined {
    return this.#meta.get(OFFSET_KEY);
  }

  write(offsetMs: number): void {
    this.#meta.set(OFFSET_KEY, String(offsetMs));
  }
}
