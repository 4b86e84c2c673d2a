/**
 * The payment watcher's types (docs/payments.md), apart from its code so that its pieces (src/chain/watcher.ts,
 * follow.ts, mempool.ts, policy.ts, repository.ts) share them without importing each other in a cycle.
 */
import type { Db } from '../db/index.ts';
import type { ChainBackend } from './types.ts';

/** A payment as the sink sees it. `confirmations` is 0 in the mempool, else tip - blockHeight + 1. */
export interface WatchedPayment {
  txid: string;
  vout: number;
  address: string;
  valueSat: bigint;
  blockHeight: number | null;
  confirmations: number;
}

/**
 * Receives credits and their reversals. Called INSIDE the watcher's SQLite transaction (synchronously), so
 * a credit and the payment row commit together; a sink that throws rolls the whole step back, and the
 * watcher's sync() rejects with its error (the step is retried on the next pass).
 * The watcher reports payments to every address in `wallet_addresses`, the wallet's own change included:
 * the sink decides what an address is for.
 */
export interface PaymentSink {
  onCounted(p: WatchedPayment): void;
  onReversed(p: WatchedPayment): void;
}

/**
 * When a payment counts: at `required` confirmations; or, seen in the mempool (not signalling replacement, no
 * unconfirmed parent), at once while the address's counted payments not in a block, this one included, stay
 * within `zeroConfMaxSat` and the agent's stay within `zeroConfTotalMaxSat`. A payment in a block with fewer
 * than `required` confirmations waits for them. `required` 0 counts every payment on sight, caps or not.
 */
export interface ConfirmationPolicy {
  required: number;
  /** Most that counts unconfirmed toward one address (one file or quote). */
  zeroConfMaxSat: bigint;
  /** Most that counts unconfirmed across the agent; default `zeroConfMaxSat` (one address's worth). */
  zeroConfTotalMaxSat?: bigint;
}

export interface PaymentWatcherOptions {
  db: Db;
  chain: ChainBackend;
  /**
   * Which output scripts pay us: the address of one of ours, else undefined. The treasury keeps the address book
   * (Treasury.addressOfScript); it is asked once per output of every block, so it must be one indexed lookup.
   */
  ours: (script: Buffer) => string | undefined;
  policy: ConfirmationPolicy;
  sink: PaymentSink;
  now?: () => Date;
  /**
   * Addresses polled for 0-conf payments this pass, one request each: open quotes' (the host supplies a bounded
   * page of them per call, in turn, so quote spam cannot make a pass longer).
   */
  mempoolAddresses?: () => string[];
  /**
   * Whether a payment to `address` may ever count before its confirmations (default: every address may, within
   * the caps). A mempool transaction polled for one address may pay others of ours too; an address answered false
   * here (an investor's deposit, which must be confirmed) has its payment recorded as one that waits.
   */
  zeroConfAllowed?: (address: string) => boolean;
  /** How many recent block hashes are kept to find a fork point; a deeper reorg is REORG_TOO_DEEP. Default 144 (a day). */
  keepBlocks?: number;
  /** Where to begin when nothing has been scanned yet (e.g. the height at which the wallet was created); default: the tip. */
  startHeight?: () => number | undefined;
}

/** What one sync pass did. */
export interface SyncResult {
  /** Height of the last block the watcher has applied (the backend's tip when there is none yet). */
  tip: number;
  /** Blocks connected in this pass. */
  blocks: number;
  /** Outputs paying us recorded for the first time in this pass. */
  newPayments: number;
  /** Payments the policy accepted in this pass (sink.onCounted calls). */
  counted: number;
  /** Payments that became 'reversed' in this pass, counted or not. */
  reversed: number;
  /** Blocks disconnected by reorgs in this pass (the deepest one). */
  reorgDepth: number;
}

/** Totals for one address, in sat. Reversed payments are in none of them. */
export interface ReceivedTotals {
  /** Every payment seen, in the mempool or in a block. */
  receivedSat: bigint;
  /** Payments in a block of the best chain (at least one confirmation). */
  confirmedSat: bigint;
  /** Payments the confirmation policy has accepted (what uploads are gated on). */
  countedSat: bigint;
}

/** One of the wallet's coins. */
export interface UnspentPayment {
  txid: string;
  vout: number;
  address: string;
  valueSat: bigint;
  confirmed: boolean;
}

/** Sums of unspent coins, in sat; `coins` is how many there are. */
export interface CoinTotals {
  confirmedSat: bigint;
  unconfirmedSat: bigint;
  coins: number;
}

/** What one pass has done so far (SyncResult without its tip). */
export type Stats = Omit<SyncResult, 'tip'>;
