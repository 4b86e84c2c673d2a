/**
 * The sandbox's error codes, registered in the one catalogue when this module loads (src/errors/index.ts). A run
 * never throws them at its caller: it returns `{ ok: false, code, reason }`, and the evaluation of a proposal
 * records them. The statuses are for when one does reach an HTTP answer (a proposal whose script or transcript
 * is refused at submission, as an AgentError the caller raises with the code and reason).
 */
import { defineErrors, type CodesOf } from '../errors/index.ts';

export const SANDBOX_ERRORS = {
  SANDBOX_BAD_SCRIPT: { status: 400, description: 'The provider script does not load as an ES module with the required exports, or is larger than the limit.' },
  SANDBOX_BAD_META: { status: 400, description: 'The provider script\'s `meta` is malformed, or a host in it is not a plain host[:port].' },
  SANDBOX_BAD_TRANSCRIPT: { status: 400, description: 'The transcript is not a valid storj-transcript/1 document.' },
  SANDBOX_NO_SUCH_CALL: { status: 422, description: 'The provider script does not export the call asked for (fund and destroy are optional).' },
  SANDBOX_SCRIPT_ERROR: { status: 422, description: 'The provider script threw or rejected during a call; the reason is its message.' },
  SANDBOX_BAD_RESULT: { status: 422, description: 'The value a provider script returned does not match the call\'s schema.' },
  SANDBOX_TIMEOUT: { status: 422, description: 'A call of the provider script ran past its deadline and was interrupted.' },
  SANDBOX_OUT_OF_MEMORY: { status: 422, description: 'A call of the provider script went over its memory limit.' },
  SANDBOX_STACK_OVERFLOW: { status: 422, description: 'A call of the provider script went over its stack limit.' },
  SANDBOX_KILLED: { status: 422, description: 'The sandbox process was killed (the wall-clock limit of a call) or died.' },
  SANDBOX_REPLAY_MISMATCH: { status: 422, description: 'In a replay, the script sent a request other than the transcript\'s next one, or left some unsent.' },
  SANDBOX_PAYMENT_REFUSED: { status: 422, description: 'A payment request is above the quote or the budget, or repeats an id already paid.' },
} as const;
defineErrors('sandbox', SANDBOX_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof SANDBOX_ERRORS> {}
}

export type SandboxErrorCode = keyof typeof SANDBOX_ERRORS;

/** A sandbox failure as a value: what every run returns instead of throwing. */
export interface SandboxFailure {
  ok: false;
  code: SandboxErrorCode;
  /** Says what went wrong, in words a proposer can act on; never holds a credential. */
  reason: string;
}

export function failure(code: SandboxErrorCode, reason: string): SandboxFailure {
  return { ok: false, code, reason };
}
