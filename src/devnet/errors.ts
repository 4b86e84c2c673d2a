/** The devnet's error codes (the embedded regtest chain, run as its own process). Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';
// The wallet's codes for an address or an amount it cannot pay, which the devnet's faucet raises as the wallet
// would (src/devnet/address.ts), are in the catalogue wherever the devnet runs.
import '../../wallet/index.ts';

const DEVNET_ERRORS = {
  DEVNET_FAUCET_EMPTY: { status: 409, description: 'The devnet faucet cannot cover this payment and its fee; mine more blocks.' },
  DEVNET_START_FAILED: { status: 500, description: 'The devnet process did not start or did not answer in time; its log is in the devnet folder.' },
} as const;
defineErrors('devnet', DEVNET_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof DEVNET_ERRORS> {}
}
