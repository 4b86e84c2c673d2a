/** The code bundle's error codes. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const BUNDLE_ERRORS = {
  BUNDLE_INVALID: {
    status: 500,
    description: 'The agent\'s own source tree cannot be bundled: a file the bundle must hold is missing, or the tree holds a link or another entry that is neither a file nor a folder.',
  },
} as const;
defineErrors('bundle', BUNDLE_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof BUNDLE_ERRORS> {}
}
