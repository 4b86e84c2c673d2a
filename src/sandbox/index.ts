/**
 * The sandbox's only door: runs providers' scripts with nothing but the capabilities handed in, in QuickJS inside
 * a separate process (docs/sandbox.md).
 *
 * - `loadScript(source)`: the static checks, the meta and the exports.
 * - `runCall({...})`: one call in a process of its own. `SandboxSession` runs many calls in one process, for an
 *   evaluation.
 * - `parseTranscript`, `replayOf`, `ReplayTransport`, `sameJson`: the replay of an investor's transcript.
 * - `checkPayments`: the check every payment request passes before it is paid.
 */
import type { SandboxFailure } from './errors.ts';
import { SandboxSession, type CallOutcome, type LoadOutcome, type SandboxOptions } from './session.ts';
import type { CallArgs, CallName, CallResults } from './schemas.ts';
import type { Transport } from './transport.ts';

export { DEFAULT_LIMITS, resolveLimits } from './limits.ts';
export { checkPayments } from './payments.ts';
export { isPlainHost, type CallName, type CallResults, type ScriptMeta } from './schemas.ts';
export { SandboxSession, type CallOutcome, type LoadOutcome, type SandboxOptions } from './session.ts';
export { parseTranscript, replayOf, ReplayTransport, sameJson, type Transcript } from './transcript.ts';
export { netTransport, TransportError, type Transport } from './transport.ts';
export { evaluateScript, type Evaluation, type EvaluationCheck, type EvaluationInput } from './evaluate.ts';

// The rest of the door's API, for the proposals' evaluation and spawn (src/family), which nothing in this
// repository imports yet: tagged so that knip does not report it until then.
/** @public */
export type { SandboxErrorCode, SandboxFailure } from './errors.ts';
/** @public */
export type { SandboxLimits } from './limits.ts';
/** @public */
export type { PaymentCheck, PaymentLimits } from './payments.ts';
/** @public */
export { CALLS, type CallArgs, type Payment, type QuoteResult } from './schemas.ts';
/** @public */
export type { RequestRecord } from './session.ts';
/** @public */
export type { SendOptions } from './transport.ts';

/**
 * Loads a script in a sandbox process and stops it: its meta (hosts plain host[:port]), the required calls
 * exported, `destroy` exported exactly when `meta.canDestroy`. Never throws for anything in the script.
 * @throws RangeError for limits out of range
 */
export async function loadScript(source: string, opts: Pick<SandboxOptions, 'limits'> = {}): Promise<LoadOutcome> {
  const opened = await SandboxSession.open({ source, ...opts });
  if (!opened.ok) return opened;
  opened.session.close();
  return { ok: true, meta: opened.session.meta, calls: [...opened.session.calls], log: opened.log };
}

export type RunCallOptions<C extends CallName> = Omit<SandboxOptions, 'transport'> & { call: C; args: CallArgs[C]; transport: Transport };

/**
 * One call of a script in a process of its own, started and stopped here. Never throws for anything in the
 * script: every failure is `{ ok: false, code, reason }` with the log and requests so far.
 * @throws RangeError for limits or args out of range (a caller's mistake)
 */
export async function runCall<C extends CallName>(opts: RunCallOptions<C>): Promise<CallOutcome<CallResults[C]>> {
  const opened = await SandboxSession.open(opts);
  if (!opened.ok) return { ...(opened as SandboxFailure), log: opened.log, requests: [] };
  try {
    return await opened.session.call(opts.call, opts.args);
  } finally {
    opened.session.close();
  }
}
