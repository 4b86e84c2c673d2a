/** The scheduler's error codes. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const SCHEDULER_ERRORS = {
  JOB_NOT_FOUND: { status: 404, description: 'No scheduled job has this name.' },
  JOB_INVALID: { status: 500, description: 'A job definition is invalid (its name, cron expression or period, or a name already taken); a programming error.' },
  SCHEDULER_STOPPED: { status: 503, description: 'The scheduler has stopped (the agent is shutting down); no new job run starts.' },
} as const;
defineErrors('scheduler', SCHEDULER_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof SCHEDULER_ERRORS> {}
}
