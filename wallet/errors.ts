/** Key custody's error codes: the keystore, the passphrase and the spend policy. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../src/errors/index.ts';

const WALLET_ERRORS = {
  WALLET_EXISTS: { status: 409, description: 'A wallet already exists in this data directory.' },
  WALLET_NOT_FOUND: { status: 404, description: 'No wallet exists in this data directory: run `storj init`.' },
  WALLET_BAD_PASSPHRASE: { status: 401, description: 'The passphrase does not open the keystore.' },
  WALLET_KEYSTORE_CORRUPT: { status: 500, description: 'The keystore file is unreadable or has been tampered with.' },
  WALLET_BAD_MNEMONIC: { status: 400, description: 'The mnemonic is not a valid BIP39 phrase.' },
  WALLET_INSUFFICIENT_FUNDS: { status: 402, description: 'The wallet cannot cover the amount plus the fee.' },
  WALLET_POLICY_REFUSED: { status: 403, description: 'The spend policy refuses this payment (per-transaction or per-day cap).' },
  WALLET_BAD_ADDRESS: { status: 400, description: 'The address is not valid for this network.' },
  WALLET_DUST: { status: 400, description: 'The amount is below the dust limit.' },
  WALLET_SIGN_FAILED: { status: 500, description: 'The wallet could not sign an input it was asked to sign.' },
  WALLET_BAD_ARGUMENT: { status: 400, description: 'A wallet call got an argument it cannot use: a derivation index or chain out of range, a fee rate out of bounds, a malformed UTXO, an empty passphrase.' },
} as const;
defineErrors('wallet', WALLET_ERRORS);

declare module '../src/errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof WALLET_ERRORS> {}
}
