/** The chain backend's and the payment watcher's error codes. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const CHAIN_ERRORS = {
  CHAIN_UNAVAILABLE: { status: 503, description: 'The chain backend did not answer (network error, timeout, or 5xx after retries).' },
  CHAIN_BAD_RESPONSE: { status: 502, description: 'The chain backend answered with something malformed or inconsistent.' },
  CHAIN_NOT_FOUND: { status: 404, description: 'The chain backend does not know the block or transaction asked for.' },
  CHAIN_TX_REJECTED: { status: 422, description: 'The chain backend (the node) rejected a transaction; the message gives its reason.' },
  REORG_TOO_DEEP: { status: 500, description: 'The best chain no longer contains any block the payment watcher remembers (a reorg deeper than it keeps); an operator must check the chain backend.' },
} as const;
defineErrors('chain', CHAIN_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof CHAIN_ERRORS> {}
}
