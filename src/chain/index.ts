/**
 * The chain subsystem's only door: the ChainBackend interface, the Esplora client that
 * implements it, and the checks it applies to what goes in and comes out.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export { CHAIN_SCHEMA } from './schema.ts';
import { EsploraClient } from './esplora.ts';
import type { ChainBackend } from './types.ts';

export type { ChainBackend, ChainUtxo, MempoolTx, TxStatus } from './types.ts';
export { EsploraClient } from './esplora.ts';
export type { EsploraClientOptions } from './esplora.ts';
export { feeRateToSatPerKvb, isBlockHash, isHex, isTxid } from './validate.ts';
export { PaymentWatcher } from './watcher.ts';
export type { CoinTotals, ConfirmationPolicy, PaymentSink, UnspentPayment, WatchedPayment } from './watcher-types.ts';

/**
 * Picks the chain backend from configuration. Only Esplora exists today (mempool.space,
 * electrs, and the devnet facade all speak it); the retry policy keeps its defaults.
 * @throws AgentError CONFIG_INVALID for a URL that is not http(s) or a timeout out of range
 */
export function createChainBackend(config: { esploraUrl: string; timeoutMs?: number }): ChainBackend {
  return new EsploraClient({ baseUrl: config.esploraUrl, ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }) });
}
