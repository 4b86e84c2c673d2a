/**
 * What the agent needs from a Bitcoin chain backend. The Esplora client implements it against
 * mempool.space, a self-hosted electrs or the devnet facade; tests may implement it in memory.
 * Every value here has been parsed and checked by the implementation: callers never see a raw
 * backend answer.
 */

/** An unspent output paying an address. `blockHeight`/`blockHash` are set exactly when `confirmed`. */
export interface ChainUtxo {
  txid: string;
  vout: number;
  valueSat: bigint;
  confirmed: boolean;
  blockHeight?: number;
  blockHash?: string;
}

/** Where a transaction stands. `blockHeight`/`blockHash` are set exactly when `confirmed`. */
export interface TxStatus {
  confirmed: boolean;
  blockHeight?: number;
  blockHash?: string;
  /** Block header time, seconds since the epoch, when the backend gives it. */
  blockTime?: number;
}

/** An unconfirmed transaction touching an address, reduced to what payment matching and the 0-conf policy need. */
export interface MempoolTx {
  txid: string;
  /** Each input's outpoint and nSequence (covered by the txid check, like the outputs). */
  inputs: Array<{ txid: string; vout: number; sequence: number }>;
  /** The transaction signals replacement (BIP125: some input's nSequence is below 0xfffffffe). */
  rbf: boolean;
  /** `scriptHex` is authoritative (it is covered by the txid check); `address` is the backend's rendering of it. */
  outputs: Array<{ scriptHex: string; address?: string; valueSat: bigint }>;
}

/**
 * A Bitcoin chain backend. Every method takes an optional AbortSignal; when it aborts, the call
 * rejects promptly with the signal's reason and nothing is retried.
 */
export interface ChainBackend {
  /** Height of the best block. */
  getTipHeight(signal?: AbortSignal): Promise<number>;
  /** Hash of the best block (lowercase hex, display byte order). */
  getTipHash(signal?: AbortSignal): Promise<string>;
  /** Hash of the best-chain block at `height`; CHAIN_NOT_FOUND above the tip. */
  getBlockHash(height: number, signal?: AbortSignal): Promise<string>;
  /** The serialized block whose id is `hash`, checked against the hash and its merkle root. */
  getBlockRaw(hash: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** The serialized transaction `txid` (lowercase hex), checked to hash to `txid`. */
  getTxHex(txid: string, signal?: AbortSignal): Promise<string>;
  /** Confirmation status; a transaction the backend does not know is CHAIN_NOT_FOUND. */
  getTxStatus(txid: string, signal?: AbortSignal): Promise<TxStatus>;
  /** Unspent outputs paying `address`, confirmed and unconfirmed. */
  getAddressUtxos(address: string, signal?: AbortSignal): Promise<ChainUtxo[]>;
  /** Unconfirmed transactions touching `address` (Esplora returns at most 50, without paging). */
  getAddressMempoolTxs(address: string, signal?: AbortSignal): Promise<MempoolTx[]>;
  /** Sends a transaction once (never retried) and returns its txid. */
  broadcast(txHex: string, signal?: AbortSignal): Promise<string>;
  /** Confirmation target in blocks -> fee rate in sat per 1000 vbytes (may be empty, e.g. on regtest). */
  getFeeEstimates(signal?: AbortSignal): Promise<Map<number, bigint>>;
}
