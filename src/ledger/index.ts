/**
 * The append-only ledger of every file's prepaid balance (README.md, the opening lines). Entries are never
 * updated or deleted; `files.balance_msat` is their running sum, changed only in the same transaction as an
 * entry, and `verifyBalances` proves the two agree. All functions are synchronous: each is one SQLite
 * transaction with no await inside, so a kill -9 leaves either all of it or none.
 */
export { LEDGER_SCHEMA } from './schema.ts';
import type { Db } from '../db/index.ts';
import { LedgerRepository } from './repository.ts';
import { GIB, type EntryKind } from './types.ts';

export { DAY_MS, GIB } from './types.ts';
export { Accounts } from './accounts.ts';

/** Kinds recorded with `record`; storage charges are written only by the sweep. */
export type RecordKind = Exclude<EntryKind, 'storage'>;

export interface Entry {
  fileId: string;
  kind: EntryKind;
  ref: string;
  amountMsat: bigint;
  at: Date;
}

/**
 * A file's storage charge for one day in msat, rounded up: size x price per GiB-day. Stated once here and
 * mirrored in the sweep's SQL (`RATE_SQL` in src/ledger/repository.ts), which test/ledger checks against this function.
 */
export function storageMsatPerDay(size: bigint, priceMsatPerGibDay: bigint): bigint {
  return (size * priceMsatPerGibDay + GIB - 1n) / GIB;
}

/** Egress cost of `bytes` in msat, rounded up. */
export function egressMsat(bytes: bigint, priceMsatPerGib: bigint): bigint {
  return (bytes * priceMsatPerGib + GIB - 1n) / GIB;
}

export class Ledger {
  readonly #repo: LedgerRepository;

  constructor(db: Db) {
    this.#repo = new LedgerRepository(db);
  }

  /**
   * Records an entry and moves the balance with it, once: a second call with the same (file, kind, ref) does
   * nothing and returns false. A balance that goes negative freezes an active file; one that comes back to
   * zero or above thaws a frozen one. Must be called inside a transaction when combined with other writes;
   * on its own it is atomic.
   */
  record(e: Entry & { kind: RecordKind }): boolean {
    return this.#repo.record({ fileId: e.fileId, kind: e.kind, ref: e.ref, amountMsat: e.amountMsat, at: BigInt(e.at.getTime()) });
  }

  /**
   * Charges stored files for the time since each was last charged, in set-based SQL (one INSERT ... SELECT of
   * charges appended in file order, one UPDATE of balances, then the files gone below zero frozen through the
   * `files_overdrawn` partial index), not a loop in JS. A file is charged once it has gone `minPeriodMs`
   * uncharged, or, while active, at once when the charge would take it below zero, so the ledger grows by
   * about a row per file per period while a file that runs out of money still freezes on time. A period is charged once:
   * charged_until moves to `now`. A sweep that charges nothing leaves no trace.
   */
  sweepStorage(now: Date, priceMsatPerGibDay: bigint, minPeriodMs = 0n): { files: number; frozen: number } {
    return this.#repo.sweep(BigInt(now.getTime()), priceMsatPerGibDay, minPeriodMs);
  }

  /** What a file owes for storage since it was last charged, at `priceMsatPerGibDay` (not yet in the ledger). */
  accruedMsat(fileId: string, now: Date, priceMsatPerGibDay: bigint): bigint {
    return this.#repo.accruedMsat(fileId, BigInt(now.getTime()), priceMsatPerGibDay);
  }

  /** The sum of every balance but deleted files' (msat): what the agent holds for its customers (a metric). */
  totalBalanceMsat(): bigint {
    return this.#repo.totalBalanceMsat();
  }

  /** Files whose balance disagrees with the sum of their entries and storage charges (should always be empty). */
  verifyBalances(): Array<{ fileId: string; balanceMsat: bigint; sumMsat: bigint }> {
    return this.#repo.balanceMismatches();
  }

  /**
   * A file's entries, oldest first: payments, reversals and egress, and its storage charges (ref `<from>-<to>`,
   * each charge's period starting where the file's previous one ended, the first at its completion).
   */
  entries(fileId: string): Entry[] {
    return this.#repo.entries(fileId).map((r) => ({ fileId, kind: r.kind, ref: r.ref, amountMsat: r.amount_msat, at: new Date(Number(r.at)) }));
  }

  /**
   * How many times the payment at `outpoint` (`<txid>:<vout>`) to a file has been reversed: its entries' refs
   * are `<outpoint>/<k>` (src/host/payments.ts), found by a range over the (file, kind, ref) unique index.
   */
  reversalsOf(fileId: string, outpoint: string): bigint {
    // '0' is the character after '/', so [`<outpoint>/`, `<outpoint>0`) holds exactly the refs `<outpoint>/...`.
    return this.#repo.reversalCount(fileId, `${outpoint}/`, `${outpoint}0`);
  }
}
