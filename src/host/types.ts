/**
 * The host's public types and the dependencies handed to it, in a file of their own so that every piece
 * (prices, quotes, uploads, files, downloads, payments, retention) and the facade in index.ts share them
 * without importing one another.
 */
import type { Db } from '../db/index.ts';
import type { Config } from '../config/index.ts';
import type { BlobReader, BlobStore } from '../storage/index.ts';
import type { Prices } from './pricing.ts';

export type UploadState = 'awaiting_payment' | 'paid' | 'complete' | 'expired';
export type FileState = 'active' | 'frozen' | 'deleted';

export interface HostDeps {
  db: Db;
  config: Config;
  blobs: BlobStore;
  now: () => Date;
  /** A fresh address of the agent's wallet for a new upload (recorded in wallet_addresses). */
  newAddress: () => { address: string };
  /** Current fee rate in sat per 1000 vbytes (for the minimum deposit). */
  feeRate: () => Promise<bigint>;
  /** What has arrived at an address under the confirmation policy (from the payment watcher). */
  received: (address: string) => { receivedSat: bigint; confirmedSat: bigint; countedSat: bigint };
  random?: (bytes: number) => Buffer;
  /**
   * Why the agent cannot take new uploads now (a disk below its reserve, a database it cannot write); empty
   * when it can. A quote is refused with DEGRADED while this is not empty.
   */
  storageProblems?: () => Promise<string[]>;
  /**
   * Free bytes on the filesystem that holds the blobs (statfs); default the store's usage(), whose first call
   * walks every blob.
   */
  freeBytes?: () => Promise<bigint>;
  /** Where a write that failed and will be retried is reported (never silently lost). */
  log?: (line: string) => void;
  /** Told as bytes and payments move (the metrics); optional, and never able to fail the work it reports. */
  events?: HostEvents;
}

/** What the host tells an observer (src/metrics): bytes stored and sent, payments credited and reversed. */
export interface HostEvents {
  ingress(bytes: number): void;
  egress(bytes: number): void;
  credited(sat: bigint): void;
  reversed(sat: bigint): void;
}

export interface Quote {
  id: string;
  address: string;
  amountSat: bigint;
  bip21: string;
  expiresAt: Date;
  uploadToken: string;
}

export interface UploadStatus {
  id: string;
  state: UploadState;
  amountSat: bigint;
  receivedSat: bigint;
  confirmedSat: bigint;
  fileId?: string;
}

export interface FileView {
  fileId: string;
  size: number;
  sha256: string;
  filename: string | null;
  contentType: string | null;
  state: FileState;
  balanceMsat: bigint;
  address: string;
  bip21: string;
  fundedUntil: Date;
  deleteAt?: Date;
  /** What a download of the whole file would be refused with (402 amountSat), when it would be. */
  downloadTopUpSat?: bigint;
}

/** What HEAD and a GET before streaming need of a file. */
export interface FileHead {
  size: number;
  sha256: string;
  contentType: string | null;
  filename: string | null;
  state: FileState;
}

/** A metered download under way: the blob to stream, the range, and the one settle call it must end with. */
export interface Download {
  blob: BlobReader;
  start: number;
  end: number;
  size: number;
  partial: boolean;
  sha256: string;
  contentType: string | null;
  filename: string | null;
  /** Charges the bytes actually sent and releases the hold; a second call does nothing. Never throws. */
  settle: (bytesSent: number) => void;
}

/** A row of price_sets: the prices and how they were derived. */
export interface PriceSet extends Prices {
  id: bigint;
  computedAt: Date;
  derivation: Record<string, string>;
}

/** A request for a quote (POST /v1/uploads). */
export interface UploadRequest {
  size: number;
  days?: number;
  downloads?: number;
  filename?: string;
  contentType?: string;
}

/** Calls the observer, if any; an observer's failure is not the customer's. */
export function tell(events: HostEvents | undefined, fn: (events: HostEvents) => void): void {
  if (!events) return;
  try {
    fn(events);
  } catch {
    /* a metric missed */
  }
}
