/**
 * Every statement the ledger runs (its tables file_accounts, ledger_entries, storage_sweeps, storage_charges,
 * accounts and account_entries; created in ./schema.ts), prepared once when the ledger is built, with the rows
 * they return typed. The ledger's transactions are made once here too: better-sqlite3's db.transaction returns
 * a function that can be called again, and runs as a savepoint when a transaction is already open (the payment
 * watcher's, a download's settlement). None of them awaits (src/db/index.ts).
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

/** A file's account as the host reads it, with its storage charge accrued since charged_until (0 when not asked). */
export interface FileAccountRow {
  balance_msat: bigint;
  held_msat: bigint;
  charged_until: bigint | null;
  overdrawn_at: bigint | null;
  accrued_msat: bigint;
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

// The per-day rate as SQL over the file_accounts row and :price (msat per GiB-day), mirroring storageMsatPerDay
// (src/ledger/index.ts). Multiplying size by price first stays far inside 2^63 (a 4 GiB file at 10^9
// msat/GiB-day is 4.3e18), and charging rate x elapsed / day keeps every intermediate below 2^63 for
// centuries of elapsed time.
const RATE_SQL = `((size * :price + ${GIB} - 1) / ${GIB})`;
const CHARGE_SQL = `(${RATE_SQL} * (:now - charged_until) / ${DAY_MS})`;

// The accounts a sweep charges: those of stored files (charged_until is NULL until a file has its bytes) not
// deleted (closed). With no minimum period every one is due, and the balance test would only cost time. An
// overdrawn (frozen) file waits for its period like any other, so its debt grows by whole periods rather than
// by an hour's charge, rounded down (to nothing, for a small file), at every run.
const DUE_ALL = 'closed_at IS NULL AND charged_until < :now';
const DUE_PERIOD = `${DUE_ALL} AND (charged_until <= :due OR (overdrawn_at IS NULL AND balance_msat - ${CHARGE_SQL} < 0))`;

export class LedgerRepository {
  // accounts
  readonly #open;
  readonly #startCharging;
  readonly #close;
  readonly #releaseStale;
  // record
  readonly #insert;
  readonly #recordAll;
  readonly #balanceOf;
  readonly #setBalance;
  // the sweep, in its two forms: every stored file due, or only those whose period is up
  readonly #insertSweep;
  readonly #dropSweep;
  readonly #charge: { all: ReturnType<typeof prepareSweep>; period: ReturnType<typeof prepareSweep> };
  readonly #markOverdrawn;
  readonly #sweep;
  // reads
  readonly #account;
  readonly #accountDue;
  readonly #overdrawnSince;
  readonly #reversals;
  readonly #totalBalance;
  readonly #verify;
  readonly #entries;

  constructor(db: Db) {
    this.#open = db.prepare<[string, bigint]>('INSERT INTO file_accounts (file_id, size) VALUES (?, ?)');
    // A balance reversed below zero before the file was stored counts as overdrawn from the file's completion,
    // when its grace period starts.
    this.#startCharging = db.prepare<{ id: string; at: bigint }>(
      `UPDATE file_accounts SET charged_from = :at, charged_until = :at, overdrawn_at = CASE WHEN balance_msat < 0 THEN :at END
       WHERE file_id = :id AND charged_until IS NULL AND closed_at IS NULL`,
    );
    this.#close = db.prepare<[bigint, string]>('UPDATE file_accounts SET closed_at = ? WHERE file_id = ? AND closed_at IS NULL');
    this.#releaseStale = db.prepare<[bigint, string]>('UPDATE file_accounts SET held_msat = max(0, held_msat - ?) WHERE file_id = ?');

    this.#insert = db.prepare<[string, string, string, bigint, bigint]>('INSERT OR IGNORE INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES (?, ?, ?, ?, ?)');
    // One entry, or a group commit of download charges (src/host/meter.ts): one transaction, each entry inserted
    // once, and each file's account moved once by all of its new entries (#applyAll).
    this.#recordAll = db.transaction((es: readonly NewEntry[]): boolean[] => {
      const applied = es.map((e) => this.#insert.run(e.fileId, e.kind, e.ref, e.amountMsat, e.at).changes > 0);
      const byFile = new Map<string, NewEntry[]>();
      es.forEach((e, i) => {
        if (!applied[i]) return;
        const list = byFile.get(e.fileId);
        if (list) list.push(e);
        else byFile.set(e.fileId, [e]);
      });
      for (const [fileId, list] of byFile) this.#applyAll(fileId, list);
      return applied;
    });
    this.#balanceOf = db.prepare<[string], { balance_msat: bigint; overdrawn_at: bigint | null }>('SELECT balance_msat, overdrawn_at FROM file_accounts WHERE file_id = ?');
    this.#setBalance = db.prepare<[bigint, bigint | null, string]>('UPDATE file_accounts SET balance_msat = ?, overdrawn_at = ? WHERE file_id = ?');

    this.#insertSweep = db.prepare<[bigint, bigint]>('INSERT INTO storage_sweeps (at, storage_msat_per_gib_day) VALUES (?, ?)');
    this.#dropSweep = db.prepare<[number | bigint]>('DELETE FROM storage_sweeps WHERE id = ?');
    this.#charge = { all: prepareSweep(db, DUE_ALL), period: prepareSweep(db, DUE_PERIOD) };
    this.#markOverdrawn = db.prepare<[bigint]>('UPDATE file_accounts INDEXED BY file_accounts_overdrawing SET overdrawn_at = ? WHERE balance_msat < 0 AND overdrawn_at IS NULL');
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
      const frozen = this.#markOverdrawn.run(at);
      return { files: ins.changes, frozen: frozen.changes };
    });

    this.#account = db.prepare<[string], FileAccountRow>('SELECT balance_msat, held_msat, charged_until, overdrawn_at, 0 AS accrued_msat FROM file_accounts WHERE file_id = ?');
    // Every metered download asks it (src/host/downloads.ts): the account and its accrued storage in one read.
    this.#accountDue = db.prepare<{ id: string; now: bigint; price: bigint }, FileAccountRow>(
      `SELECT balance_msat, held_msat, charged_until, overdrawn_at, CASE WHEN ${DUE_ALL} THEN ${CHARGE_SQL} ELSE 0 END AS accrued_msat
       FROM file_accounts WHERE file_id = :id`,
    );
    this.#overdrawnSince = db
      .prepare<[bigint], string>('SELECT file_id FROM file_accounts INDEXED BY file_accounts_overdrawn WHERE overdrawn_at IS NOT NULL AND closed_at IS NULL AND overdrawn_at <= ? AND charged_until IS NOT NULL')
      .pluck();
    this.#reversals = db.prepare<[string, string, string], bigint>("SELECT count(*) FROM ledger_entries WHERE file_id = ? AND kind = 'reversal' AND ref >= ? AND ref < ?").pluck();
    this.#totalBalance = db.prepare<[], bigint>('SELECT coalesce(sum(balance_msat), 0) AS total FROM file_accounts WHERE closed_at IS NULL').pluck();
    this.#verify = db.prepare<[], BalanceMismatch>(
      `SELECT a.file_id AS fileId, a.balance_msat AS balanceMsat, coalesce(e.total, 0) + coalesce(s.total, 0) AS sumMsat
       FROM file_accounts a
       LEFT JOIN (SELECT file_id, sum(amount_msat) AS total FROM ledger_entries GROUP BY file_id) e ON e.file_id = a.file_id
       LEFT JOIN (SELECT file_seq, sum(amount_msat) AS total FROM storage_charges GROUP BY file_seq) s ON s.file_seq = a.seq
       WHERE a.balance_msat != coalesce(e.total, 0) + coalesce(s.total, 0)`,
    );
    this.#entries = db.prepare<{ id: string }, EntryRow>(
      `SELECT kind, ref, amount_msat, at FROM (
         SELECT kind, ref, amount_msat, at, id AS ord FROM ledger_entries WHERE file_id = :id
         UNION ALL
         SELECT 'storage', coalesce(lag(s.at) OVER (ORDER BY s.at, s.id), a.charged_from) || '-' || s.at, c.amount_msat, s.at, NULL
         FROM storage_charges c JOIN file_accounts a ON a.seq = c.file_seq JOIN storage_sweeps s ON s.id = c.sweep_id WHERE a.file_id = :id
       ) ORDER BY at, ord`,
    );
  }

  /**
   * Moves a file's account by its `entries`, in order, with one read and one write. Below zero, an account stays
   * overdrawn since the entry that first took it under; at zero or more, it is not overdrawn. An entry with no
   * account would leave a balance that is not the sum of its entries: refused, and the caller's transaction
   * (with the entry) rolled back.
   * @throws Error when the file has no account
   */
  #applyAll(fileId: string, entries: readonly NewEntry[]): void {
    const a = this.#balanceOf.get(fileId);
    if (!a) throw new Error(`file ${fileId} has no account in the ledger`);
    let balance = a.balance_msat;
    let overdrawn = a.overdrawn_at;
    for (const e of entries) {
      balance += e.amountMsat;
      overdrawn = balance < 0n ? (overdrawn ?? e.at) : null;
    }
    this.#setBalance.run(balance, overdrawn, fileId);
  }

  /** Makes a file's account, with a zero balance and not charged for storage yet. */
  open(fileId: string, size: bigint): void {
    this.#open.run(fileId, size);
  }

  /** Starts charging the file's storage from `at`; false when it was charged already, or closed. */
  startCharging(fileId: string, at: bigint): boolean {
    return this.#startCharging.run({ id: fileId, at }).changes > 0;
  }

  /** Closes the file's account: charged no more. False when it was closed already. */
  close(fileId: string, at: bigint): boolean {
    return this.#close.run(at, fileId).changes > 0;
  }

  /** Takes `msat` off what downloads hold, never below zero (a hold of an earlier process). */
  releaseStale(fileId: string, msat: bigint): void {
    this.#releaseStale.run(msat, fileId);
  }

  /** The file's account, with what it owes for storage since charged_until at `now` (ms) when a price is given. */
  account(fileId: string, due?: { now: bigint; price: bigint }): FileAccountRow | undefined {
    return due ? this.#accountDue.get({ id: fileId, ...due }) : this.#account.get(fileId);
  }

  /** Files stored, not deleted, whose balance has been below zero since `cutoff` (ms) or earlier. */
  overdrawnSince(cutoff: bigint): string[] {
    return this.#overdrawnSince.all(cutoff);
  }

  /**
   * Appends an entry and moves the file's balance with it, marking the account overdrawn or not, in one
   * transaction (a savepoint inside an open one). False when (file, kind, ref) is already recorded: nothing changes.
   * @throws Error when the file has no account (nothing is recorded)
   */
  record(e: NewEntry): boolean {
    return this.#recordAll([e])[0] ?? false;
  }

  /** Records every entry in one transaction, each once (false where it was recorded already); all or none. */
  recordAll(es: readonly NewEntry[]): boolean[] {
    return this.#recordAll(es);
  }

  /**
   * Charges every due account for its time since charged_until, at `price` msat per GiB-day, in one
   * transaction: a sweep row, its charges appended in account order, the balances lowered, the accounts gone
   * below zero marked overdrawn. A sweep that charges nothing leaves no row.
   */
  sweep(at: bigint, price: bigint, minPeriodMs: bigint): { files: number; frozen: number } {
    return this.#sweep(at, price, minPeriodMs);
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

/** The sweep's two statements over the accounts `due` selects: its charges appended in account order, then the balances lowered. */
function prepareSweep(db: Db, due: string) {
  return {
    insert: db.prepare<SweepParams>(`INSERT INTO storage_charges (sweep_id, file_seq, amount_msat) SELECT :sweep, seq, -${CHARGE_SQL} FROM file_accounts WHERE ${due} ORDER BY seq`),
    debit: db.prepare<SweepParams>(`UPDATE file_accounts SET balance_msat = balance_msat - ${CHARGE_SQL}, charged_until = :now WHERE ${due}`),
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
