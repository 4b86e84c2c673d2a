/**
 * The scheduler's table: every job run.
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER
 * satoshis/millisatoshis (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const SCHEDULER_SCHEMA: ModuleSchema = {
  module: 'scheduler',
  migrations: [
    {
      version: 1,
      name: 'job runs',
      legacy: 2,
      sql: `
      CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
        detail TEXT
      );
      CREATE INDEX job_runs_job ON job_runs (job, id);
    `,
    },
  ],
};
