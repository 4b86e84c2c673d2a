/**
 * wallet/: key custody. The only code in the project that ever sees a private key or the seed; the rest
 * of the agent gets addresses, the account xpub, the nodeId, identity signatures and signed
 * transactions through this door and nothing else.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export { Wallet } from './wallet.ts';
export { xpubReceiveAddress } from './watch-only.ts';
export { identityMessage, verifyIdentity } from './identity.ts';
export { canonicalJson, ProposerKey, verifySignedFields } from './signed.ts';
export { MemorySpendLog, SpendPolicy } from './policy.ts';
export type { SpendLog } from './policy.ts';
export { dustThresholdSat, isAddressFor, P2WPKH_DUST_SAT, P2WPKH_INPUT_VBYTES, sweepFeeSat } from './tx.ts';
export type { WalletUtxo } from './tx.ts';
export { signedRegistration, type SignedRegistration } from './signed.ts';
