/**
 * The customer's path, the host module's only door: quotes with a fresh address each, uploads that become
 * visible only when whole and paid, metered downloads, the storage sweep, freezing and deletion, and prices
 * that follow operating cost (docs/payments.md tells how payments become balances). Money moves only through
 * the ledger; bytes only through the BlobStore.
 *
 * `Host` composes the pieces, each in its own file over one repository of prepared statements
 * (repository.ts): prices.ts, quotes.ts, uploads.ts, files.ts, downloads.ts (the metering state),
 * payments.ts (the payment sink) and retention.ts (sweep and deletion).
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';

export { HOST_SCHEMA } from './schema.ts';
export { Host } from './host.ts';
export { hostRoutes } from './routes.ts';
export { computePrices, quoteAmountSat, serviceCostMsat, P2WPKH_DUST_SAT } from './pricing.ts';
export { bip21, parseRange } from './uri.ts';
export type { HostDeps, HostEvents, PriceSet, Quote, UploadStatus } from './types.ts';
