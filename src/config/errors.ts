/** The configuration's error code: a value it cannot use. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const CONFIG_ERRORS = {
  CONFIG_INVALID: { status: 500, description: 'A configuration value is invalid; the message names the key.' },
} as const;
defineErrors('config', CONFIG_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof CONFIG_ERRORS> {}
}
