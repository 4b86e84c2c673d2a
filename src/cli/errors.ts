/** The customer CLI's error codes: failures on the client's side of the API, where the agent is the untrusted party. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const CLI_ERRORS = {
  AGENT_UNREACHABLE: { status: 503, description: 'The agent did not answer (connection refused, timeout, or a transfer that stalled).' },
  AGENT_BAD_RESPONSE: { status: 502, description: 'The agent answered with something malformed or inconsistent (a missing field, a body of the wrong length, no sha256 ETag).' },
  HASH_MISMATCH: { status: 502, description: 'The bytes do not hash to the sha256 the agent gave (a download\'s ETag, an upload\'s receipt); a download is deleted, nothing is kept.' },
} as const;
defineErrors('cli', CLI_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof CLI_ERRORS> {}
}
