/**
 * The append-only ledger of every file's prepaid balance (README.md, the opening lines), and the files' money:
 * each file has an account (the ledger's table file_accounts) holding its balance, the egress its downloads
 * hold, how far its storage is charged and since when it is overdrawn. Entries are never updated or deleted;
 * an account's balance is their running sum, changed only in the same transaction as an entry, and
 * `verifyBalances` proves the two agree. All functions are synchronous: each is one SQLite transaction (a
 * savepoint inside the caller's) with no await inside, so a kill -9 leaves either all of it or none.
 *
 * The host owns a file's life (pending, stored, deleted); the ledger owns whether its balance is below zero,
 * and since when. A stored file whose account is overdrawn is frozen (docs/ARCHITECTURE.md).
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

/** A file's money, as the host shows and meters it. */
export interface FileAccount {
  balanceMsat: bigint;
  /** Egress held by downloads in flight, as an earlier version wrote it (0 once those holds are released at start). */
  heldMsat: bigint;
  /** Where the next storage charge starts (null until the file is stored). */
  chargedUntil: Date | null;
  /** Since when the balance is below zero (null while it is zero or more): a stored file is frozen then. */
  overdrawnAt: Date | null;
  /** Storage owed since chargedUntil and not yet in the ledger (0 unless asked for with a price). */
  accruedMsat: bigint;
}

const date = (ms: bigint | null): Date | null => (ms === null ? null : new Date(Number(ms)));

export class Ledger {
  readonly #repo: LedgerRepository;
  #epoch = 0;

  constructor(db: Db) {
    this.#repo = new LedgerRepository(db);
  }

  /**
   * A number that moves with every write to an account (before it, whether or not it then commits): a copy of an
   * account kept in memory is stale once this has moved (the download fast path, src/host/hot-files.ts).
   */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Opens a file's account with a zero balance, not charged for storage yet. Called with the file's quote, in
   * its transaction, so a payment to the file's address always has an account to land in.
   * @throws Error when the file has an account already
   */
  openAccount(fileId: string, size: bigint): void {
    this.#repo.open(fileId, size);
  }

  /**
   * Starts charging a file's storage from `at` (its completion); an account below zero then counts as
   * overdrawn from `at`. False when it was started already or the account is closed.
   */
  startCharging(fileId: string, at: Date): boolean {
    this.#epoch++;
    return this.#repo.startCharging(fileId, BigInt(at.getTime()));
  }

  /** Closes a file's account when the file is deleted: it is charged no more. False when it was closed already. */
  closeAccount(fileId: string, at: Date): boolean {
    this.#epoch++;
    return this.#repo.close(fileId, BigInt(at.getTime()));
  }

  /**
   * A file's account; with `due`, also what it owes for storage since it was last charged at that price (one
   * read, on every metered download). Undefined for a file with no account.
   */
  account(fileId: string, due?: { now: Date; priceMsatPerGibDay: bigint }): FileAccount | undefined {
    const r = this.#repo.account(fileId, due && { now: BigInt(due.now.getTime()), price: due.priceMsatPerGibDay });
    if (!r) return undefined;
    return { balanceMsat: r.balance_msat, heldMsat: r.held_msat, chargedUntil: date(r.charged_until), overdrawnAt: date(r.overdrawn_at), accruedMsat: r.accrued_msat };
  }

  /**
   * Gives back the hold of a download an earlier version of the agent wrote and a crash left open, without going
   * below zero. (Downloads hold in memory now: src/host/meter.ts.)
   */
  releaseStale(fileId: string, msat: bigint): void {
    this.#epoch++;
    this.#repo.releaseStale(fileId, msat);
  }

  /** Stored files not deleted whose balance has been below zero since `cutoff` or earlier (the deletion job's). */
  overdrawnSince(cutoff: Date): string[] {
    return this.#repo.overdrawnSince(BigInt(cutoff.getTime()));
  }

  /**
   * Records an entry and moves the balance with it, once: a second call with the same (file, kind, ref) does
   * nothing and returns false. A balance that goes below zero marks the account overdrawn (a stored file
   * freezes); one that comes back to zero or above clears it (the file thaws). Must be called inside a
   * transaction when combined with other writes; on its own it is atomic.
   * @throws Error when the file has no account (nothing is recorded)
   */
  record(e: Entry & { kind: RecordKind }): boolean {
    this.#epoch++;
    return this.#repo.record({ fileId: e.fileId, kind: e.kind, ref: e.ref, amountMsat: e.amountMsat, at: BigInt(e.at.getTime()) });
  }

  /**
   * Records many entries in one transaction (a group commit: the metered downloads' charges, src/host/meter.ts),
   * each as `record` would, once by (file, kind, ref): either all of them are written or none.
   * @returns for each entry, whether it was recorded now (false: it was already)
   * @throws Error when a file has no account (nothing is recorded)
   */
  recordAll(es: ReadonlyArray<Entry & { kind: RecordKind }>): boolean[] {
    this.#epoch++;
    return this.#repo.recordAll(es.map((e) => ({ fileId: e.fileId, kind: e.kind, ref: e.ref, amountMsat: e.amountMsat, at: BigInt(e.at.getTime()) })));
  }

  /**
   * Charges stored files for the time since each was last charged, in set-based SQL (one INSERT ... SELECT of
   * charges appended in account order, one UPDATE of balances, then the accounts gone below zero marked
   * overdrawn through the `file_accounts_overdrawing` partial index), not a loop in JS. A file is charged once it has gone `minPeriodMs`
   * uncharged, or, while active, at once when the charge would take it below zero, so the ledger grows by
   * about a row per file per period while a file that runs out of money still freezes on time. A period is charged once:
   * charged_until moves to `now`. A sweep that charges nothing leaves no trace.
   */
  sweepStorage(now: Date, priceMsatPerGibDay: bigint, minPeriodMs = 0n): { files: number; frozen: number } {
    this.#epoch++;
    return this.#repo.sweep(BigInt(now.getTime()), priceMsatPerGibDay, minPeriodMs);
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
