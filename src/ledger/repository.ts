/**
 * Every statement the ledger runs (its tables ledger_entries, storage_sweeps and storage_charges, and the
 * balance, state and charged_until columns of files that move with them; created in ./schema.ts),
 * prepared once when the ledger is built, with the rows they return typed. The ledger's transactions are
 * made once here too: better-sqlite3's db.transaction returns a function that can be called again, and runs
 * as a savepoint when a transaction is already open (the payment watcher's, a download's settlement). None
 * of them awaits (src/db/index.ts).
 */
import type { Db } from '../db/index.ts';
import { DAY_MS, GIB, type AccountEntryKind, type EntryKind } from './types.ts';

/** A file's entry as `entries` reads it: its own entries and its storage charges, in one shape. */
export interface EntryRow {
  kind: EntryKind;
  ref: string;
  amount_msat: bigint;
  at: bigint;
}

/** A file whose balance disagrees with the sum of its entries and storage charges. */
export interface BalanceMismatch {
  fileId: string;
  balanceMsat: bigint;
  sumMsat: bigint;
}

/** An entry to record, its time in ms since the epoch. */
interface NewEntry {
  fileId: string;
  kind: Exclude<EntryKind, 'storage'>;
  ref: string;
  amountMsat: bigint;
  at: bigint;
}

interface SweepParams {
  now: bigint;
  price: bigint;
  due: bigint;
  sweep: number | bigint;
}

// The per-day rate as SQL over the files row and :price (msat per GiB-day), mirroring storageMsatPerDay
// (src/ledger/index.ts). Multiplying size by price first stays far inside 2^63 (a 4 GiB file at 10^9
// msat/GiB-day is 4.3e18), and charging rate x elapsed / day keeps every intermediate below 2^63 for
// centuries of elapsed time.
const RATE_SQL = `((size * :price + ${GIB} - 1) / ${GIB})`;
const CHARGE_SQL = `(${RATE_SQL} * (:now - charged_until) / ${DAY_MS})`;

// The files a sweep charges. With no minimum period every stored file is due, and the balance test would only
// cost time. A frozen file is already frozen: it waits for its period like any other, so its debt grows by
// whole periods rather than by an hour's charge, rounded down (to nothing, for a small file), at every run.
const DUE_ALL = "state IN ('active', 'frozen') AND charged_until < :now";
const DUE_PERIOD = `${DUE_ALL} AND (charged_until <= :due OR (state = 'active' AND balance_msat - ${CHARGE_SQL} < 0))`;

export class LedgerRepository {
  // record
  readonly #insert;
  readonly #apply;
  readonly #freeze;
  readonly #thaw;
  readonly #record;
  // the sweep, in its two forms: every stored file due, or only those whose period is up
  readonly #insertSweep;
  readonly #dropSweep;
  readonly #charge: { all: ReturnType<typeof prepareSweep>; period: ReturnType<typeof prepareSweep> };
  readonly #freezeOverdrawn;
  readonly #sweep;
  // reads
  readonly #accrued;
  readonly #reversals;
  readonly #totalBalance;
  readonly #verify;
  readonly #entries;

  constructor(db: Db) {
    this.#insert = db.prepare<[string, string, string, bigint, bigint]>('INSERT OR IGNORE INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES (?, ?, ?, ?, ?)');
    this.#apply = db.prepare<[bigint, string]>('UPDATE files SET balance_msat = balance_msat + ? WHERE id = ?');
    this.#freeze = db.prepare<[bigint, string]>("UPDATE files SET state = 'frozen', frozen_at = ? WHERE id = ? AND state = 'active' AND balance_msat < 0");
    this.#thaw = db.prepare<[string]>("UPDATE files SET state = 'active', frozen_at = NULL WHERE id = ? AND state = 'frozen' AND balance_msat >= 0");
    this.#record = db.transaction((e: NewEntry): boolean => {
      const r = this.#insert.run(e.fileId, e.kind, e.ref, e.amountMsat, e.at);
      if (r.changes === 0) return false;
      this.#apply.run(e.amountMsat, e.fileId);
      this.#freeze.run(e.at, e.fileId);
      this.#thaw.run(e.fileId);
      return true;
    });

    this.#insertSweep = db.prepare<[bigint, bigint]>('INSERT INTO storage_sweeps (at, storage_msat_per_gib_day) VALUES (?, ?)');
    this.#dropSweep = db.prepare<[number | bigint]>('DELETE FROM storage_sweeps WHERE id = ?');
    this.#charge = { all: prepareSweep(db, DUE_ALL), period: prepareSweep(db, DUE_PERIOD) };
    this.#freezeOverdrawn = db.prepare<[bigint]>("UPDATE files INDEXED BY files_overdrawn SET state = 'frozen', frozen_at = ? WHERE state = 'active' AND balance_msat < 0");
    this.#sweep = db.transaction((at: bigint, price: bigint, minPeriodMs: bigint): { files: number; frozen: number } => {
      const sweep = this.#insertSweep.run(at, price).lastInsertRowid;
      const params: SweepParams = { now: at, price, due: at - minPeriodMs, sweep };
      const charge = minPeriodMs > 0n ? this.#charge.period : this.#charge.all;
      const ins = charge.insert.run(params);
      if (ins.changes === 0) {
        this.#dropSweep.run(sweep);
        return { files: 0, frozen: 0 };
      }
      charge.debit.run(params);
      const frozen = this.#freezeOverdrawn.run(at);
      return { files: ins.changes, frozen: frozen.changes };
    });

    // Every metered download asks it (src/host/downloads.ts).
    this.#accrued = db.prepare<{ id: string; now: bigint; price: bigint }, bigint>(`SELECT coalesce(${CHARGE_SQL}, 0) FROM files WHERE id = :id AND charged_until < :now`).pluck();
    this.#reversals = db.prepare<[string, string, string], bigint>("SELECT count(*) FROM ledger_entries WHERE file_id = ? AND kind = 'reversal' AND ref >= ? AND ref < ?").pluck();
    this.#totalBalance = db.prepare<[], bigint>("SELECT coalesce(sum(balance_msat), 0) AS total FROM files WHERE state <> 'deleted'").pluck();
    this.#verify = db.prepare<[], BalanceMismatch>(
      `SELECT f.id AS fileId, f.balance_msat AS balanceMsat, coalesce(e.total, 0) + coalesce(s.total, 0) AS sumMsat
       FROM files f
       LEFT JOIN (SELECT file_id, sum(amount_msat) AS total FROM ledger_entries GROUP BY file_id) e ON e.file_id = f.id
       LEFT JOIN (SELECT file_seq, sum(amount_msat) AS total FROM storage_charges GROUP BY file_seq) s ON s.file_seq = f.seq
       WHERE f.balance_msat != coalesce(e.total, 0) + coalesce(s.total, 0)`,
    );
    this.#entries = db.prepare<{ id: string }, EntryRow>(
      `SELECT kind, ref, amount_msat, at FROM (
         SELECT kind, ref, amount_msat, at, id AS ord FROM ledger_entries WHERE file_id = :id
         UNION ALL
         SELECT 'storage', coalesce(lag(s.at) OVER (ORDER BY s.at, s.id), f.completed_at) || '-' || s.at, c.amount_msat, s.at, NULL
         FROM storage_charges c JOIN files f ON f.seq = c.file_seq JOIN storage_sweeps s ON s.id = c.sweep_id WHERE f.id = :id
       ) ORDER BY at, ord`,
    );
  }

  /**
   * Appends an entry and moves the file's balance with it, freezing or thawing the file, in one transaction
   * (a savepoint inside an open one). False when (file, kind, ref) is already recorded: nothing changes.
   */
  record(e: NewEntry): boolean {
    return this.#record(e);
  }

  /**
   * Charges every due file for its time since charged_until, at `price` msat per GiB-day, in one transaction:
   * a sweep row, its charges appended in file order, the balances lowered, the files gone below zero frozen.
   * A sweep that charges nothing leaves no row.
   */
  sweep(at: bigint, price: bigint, minPeriodMs: bigint): { files: number; frozen: number } {
    return this.#sweep(at, price, minPeriodMs);
  }

  /** A file's storage charge since charged_until at `now` (ms), not yet in the ledger; 0 for an unknown file. */
  accruedMsat(fileId: string, now: bigint, price: bigint): bigint {
    return this.#accrued.get({ id: fileId, now, price }) ?? 0n;
  }

  /** How many reversal entries of the file have a ref in [from, to). */
  reversalCount(fileId: string, from: string, to: string): bigint {
    return this.#reversals.get(fileId, from, to) ?? 0n;
  }

  /** The sum of every balance but deleted files'. */
  totalBalanceMsat(): bigint {
    return this.#totalBalance.get() ?? 0n;
  }

  /** Files whose balance disagrees with the sum of their entries and storage charges. */
  balanceMismatches(): BalanceMismatch[] {
    return this.#verify.all();
  }

  /** A file's entries and storage charges, oldest first. */
  entries(fileId: string): EntryRow[] {
    return this.#entries.all({ id: fileId });
  }
}

/** The sweep's two statements over the files `due` selects: its charges appended in file order, then the balances lowered. */
function prepareSweep(db: Db, due: string) {
  return {
    insert: db.prepare<SweepParams>(`INSERT INTO storage_charges (sweep_id, file_seq, amount_msat) SELECT :sweep, seq, -${CHARGE_SQL} FROM files WHERE ${due} ORDER BY seq`),
    debit: db.prepare<SweepParams>(`UPDATE files SET balance_msat = balance_msat - ${CHARGE_SQL}, charged_until = :now WHERE ${due}`),
  };
}

/** An account's entry as `AccountRepository.entries` reads it. */
export interface AccountEntryRow {
  kind: AccountEntryKind;
  ref: string;
  amount_sat: bigint;
  at: bigint;
}

/** An account whose balance disagrees with the sum of its entries. */
export interface AccountMismatch {
  account: string;
  balanceSat: bigint;
  sumSat: bigint;
}

/** The statements over `accounts` and `account_entries` (./schema.ts, migration 3), prepared once. */
export class AccountRepository {
  readonly #open;
  readonly #insert;
  readonly #apply;
  readonly #record;
  readonly #balance;
  readonly #entries;
  readonly #count;
  readonly #verify;

  constructor(db: Db) {
    this.#open = db.prepare<[string, string, bigint]>('INSERT OR IGNORE INTO accounts (id, kind, created_at) VALUES (?, ?, ?)');
    this.#insert = db.prepare<[string, string, string, bigint, bigint]>('INSERT OR IGNORE INTO account_entries (account, kind, ref, amount_sat, at) VALUES (?, ?, ?, ?, ?)');
    this.#apply = db.prepare<[bigint, string]>('UPDATE accounts SET balance_sat = balance_sat + ? WHERE id = ?');
    this.#record = db.transaction((account: string, kind: AccountEntryKind, ref: string, amountSat: bigint, at: bigint): boolean => {
      if (this.#insert.run(account, kind, ref, amountSat, at).changes === 0) return false;
      this.#apply.run(amountSat, account);
      return true;
    });
    this.#balance = db.prepare<[string], bigint>('SELECT balance_sat FROM accounts WHERE id = ?').pluck();
    this.#entries = db.prepare<[string], AccountEntryRow>('SELECT kind, ref, amount_sat, at FROM account_entries WHERE account = ? ORDER BY id');
    this.#count = db.prepare<[string, string, string, string], bigint>('SELECT count(*) FROM account_entries WHERE account = ? AND kind = ? AND ref >= ? AND ref < ?').pluck();
    this.#verify = db.prepare<[], AccountMismatch>(
      `SELECT a.id AS account, a.balance_sat AS balanceSat, coalesce(e.total, 0) AS sumSat
       FROM accounts a LEFT JOIN (SELECT account, sum(amount_sat) AS total FROM account_entries GROUP BY account) e ON e.account = a.id
       WHERE a.balance_sat != coalesce(e.total, 0)`,
    );
  }

  /** Makes the account if it does not exist (a second call does nothing). */
  open(account: string, kind: string, at: bigint): void {
    this.#open.run(account, kind, at);
  }

  /** Appends an entry and moves the balance with it (a savepoint inside an open transaction); false when already recorded. */
  record(account: string, kind: AccountEntryKind, ref: string, amountSat: bigint, at: bigint): boolean {
    return this.#record(account, kind, ref, amountSat, at);
  }

  /** The account's balance, undefined for an unknown account. */
  balance(account: string): bigint | undefined {
    return this.#balance.get(account);
  }

  entries(account: string): AccountEntryRow[] {
    return this.#entries.all(account);
  }

  /** How many entries of `kind` the account has with a ref in [from, to). */
  count(account: string, kind: AccountEntryKind, from: string, to: string): bigint {
    return this.#count.get(account, kind, from, to) ?? 0n;
  }

  mismatches(): AccountMismatch[] {
    return this.#verify.all();
  }
}
