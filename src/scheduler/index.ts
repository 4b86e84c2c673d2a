/**
 * Scheduler: the injected Clock (system time in production, a forward-only DevClock on devnet) and the job
 * scheduler that runs the agent's unattended work on its own timers, at the times the jobs' cron expressions name
 * in UTC (src/scheduler/cron.ts), and records every run in `job_runs`.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export { SCHEDULER_SCHEMA } from './schema.ts';
export { type Clock, SystemClock, DevClock } from './clock.ts';
export { Scheduler, type Job, type JobContext, type JobRun, type SchedulerOptions, type SchedulerLogLevel } from './scheduler.ts';
