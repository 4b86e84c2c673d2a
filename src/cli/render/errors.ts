/**
 * The one way a failed command ends: `error CODE: message` on stderr and a non-zero exit. CODE is the API's code
 * when the agent answered with one, else a code of the catalogue in src/errors: BAD_REQUEST for arguments
 * commander refuses, INTERNAL for anything thrown that is not an AgentError.
 */
import { CommanderError } from 'commander';
import { diskFullError, isAgentError } from '../../errors/index.ts';
import { RemoteError } from '../client/api.ts';

/** A failure as it is shown: its code, its message, and the extra fields of its body (a 402's address...). */
interface Failure {
  code: string;
  message: string;
  extra: Record<string, unknown>;
  /** Unexpected (INTERNAL): its stack goes to stderr after the line, for a bug report. */
  stack?: string;
}

const withoutError = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'error'));

/** What `e` says to the user, whatever was thrown. */
export function failure(e: unknown): Failure {
  if (e instanceof RemoteError) return { code: e.code, message: e.message, extra: withoutError(e.body) };
  const known = isAgentError(e) ? e : diskFullError(e);
  if (known) return { code: known.code, message: known.message, extra: withoutError(known.details ?? {}) };
  // commander's messages start with "error: ", which the line already says.
  // A command group run without its command: commander has printed the commands on offer.
  if (e instanceof CommanderError && e.code === 'commander.help') return { code: 'BAD_REQUEST', message: 'a command is required (see the list above)', extra: {} };
  if (e instanceof CommanderError) return { code: 'BAD_REQUEST', message: e.message.replace(/^error:\s*/i, ''), extra: {} };
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: message.trim() === '' ? 'an unexpected failure' : message, extra: {}, ...(e instanceof Error && e.stack ? { stack: e.stack } : {}) };
}

/**
 * Prints `error CODE: message` on stderr, and with --json also the error as the last JSON line on stdout, with
 * the body's extra fields (a 402's address, amount and bip21).
 */
export function reportError(e: unknown, json: boolean): void {
  const f = failure(e);
  process.stderr.write(`error ${f.code}: ${f.message}\n`);
  if (f.stack) process.stderr.write(`${f.stack}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: f.code, message: f.message }, ...f.extra }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}
