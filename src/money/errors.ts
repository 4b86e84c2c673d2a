/** The money module's error code: an amount it cannot parse. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const MONEY_ERRORS = {
  AMOUNT_INVALID: { status: 400, description: 'An amount is not a valid non-negative integer of satoshis or a BTC string with at most 8 decimals.' },
} as const;
defineErrors('money', MONEY_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof MONEY_ERRORS> {}
}
