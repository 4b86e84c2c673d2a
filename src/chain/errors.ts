/** The payment watcher's own error code (the chain backend's codes are shared by several modules: src/errors/index.ts). Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const CHAIN_ERRORS = {
  REORG_TOO_DEEP: { status: 500, description: 'The best chain no longer contains any block the payment watcher remembers (a reorg deeper than it keeps); an operator must check the chain backend.' },
} as const;
defineErrors('chain', CHAIN_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof CHAIN_ERRORS> {}
}
