/**
 * The append-only ledger of every file's prepaid balance (README.md, the opening lines). Entries are never
 * updated or deleted; `files.balance_msat` is their running sum, changed only in the same transaction as an
 * entry, and `verifyBalances` proves the two agree. All functions are synchronous: each is one SQLite
 * transaction with no await inside, so a kill -9 leaves either all of it or none.
 */
import type { Db } from '../db/index.ts';

export const GIB = 1024n ** 3n;
export const DAY_MS = 86_400_000n;

type EntryKind = 'payment' | 'reversal' | 'storage' | 'egress';
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
 * mirrored in the sweep's SQL (`RATE_SQL`), which test/ledger checks against this function.
 */
export function storageMsatPerDay(size: bigint, priceMsatPerGibDay: bigint): bigint {
  return (size * priceMsatPerGibDay + GIB - 1n) / GIB;
}

/** Egress cost of `bytes` in msat, rounded up. */
export function egressMsat(bytes: bigint, priceMsatPerGib: bigint): bigint {
  return (bytes * priceMsatPerGib + GIB - 1n) / GIB;
}

// The per-day rate as SQL over the files row and :price (msat per GiB-day). Multiplying size by price first
// stays far inside 2^63 (a 4 GiB file at 10^9 msat/GiB-day is 4.3e18), and charging rate x elapsed / day
// keeps every intermediate below 2^63 for centuries of elapsed time.
const RATE_SQL = `((size * :price + ${GIB} - 1) / ${GIB})`;
const CHARGE_SQL = `(${RATE_SQL} * (:now - charged_until) / ${DAY_MS})`;

export class Ledger {
  readonly #db: Db;
  readonly #insert;
  readonly #apply;
  readonly #freeze;
  readonly #thaw;
  readonly #accrued;
  readonly #reversals;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare('INSERT OR IGNORE INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES (?, ?, ?, ?, ?)');
    this.#apply = db.prepare('UPDATE files SET balance_msat = balance_msat + ? WHERE id = ?');
    this.#freeze = db.prepare("UPDATE files SET state = 'frozen', frozen_at = ? WHERE id = ? AND state = 'active' AND balance_msat < 0");
    this.#thaw = db.prepare("UPDATE files SET state = 'active', frozen_at = NULL WHERE id = ? AND state = 'frozen' AND balance_msat >= 0");
    // Prepared once: every metered download asks it (src/host/downloads.ts).
    this.#accrued = db.prepare<{ id: string; now: bigint; price: bigint }, bigint>(`SELECT coalesce(${CHARGE_SQL}, 0) FROM files WHERE id = :id AND charged_until < :now`).pluck();
    this.#reversals = db.prepare<[string, string, string], bigint>("SELECT count(*) FROM ledger_entries WHERE file_id = ? AND kind = 'reversal' AND ref >= ? AND ref < ?").pluck();
  }

  /**
   * Records an entry and moves the balance with it, once: a second call with the same (file, kind, ref) does
   * nothing and returns false. A balance that goes negative freezes an active file; one that comes back to
   * zero or above thaws a frozen one. Must be called inside a transaction when combined with other writes;
   * on its own it is atomic.
   */
  record(e: Entry & { kind: RecordKind }): boolean {
    return this.#db.transaction(() => {
      const at = BigInt(e.at.getTime());
      const r = this.#insert.run(e.fileId, e.kind, e.ref, e.amountMsat, at);
      if (r.changes === 0) return false;
      this.#apply.run(e.amountMsat, e.fileId);
      this.#freeze.run(at, e.fileId);
      this.#thaw.run(e.fileId);
      return true;
    })();
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
    const at = BigInt(now.getTime());
    // With no minimum period every stored file is due, and the balance test would only cost time. A frozen file
    // is already frozen: it waits for its period like any other, so its debt grows by whole periods rather
    // than by an hour's charge, rounded down (to nothing, for a small file), at every run.
    const due = `state IN ('active', 'frozen') AND charged_until < :now${minPeriodMs > 0n ? ` AND (charged_until <= :due OR (state = 'active' AND balance_msat - ${CHARGE_SQL} < 0))` : ''}`;
    return this.#db.transaction(() => {
      const sweep = this.#db.prepare('INSERT INTO storage_sweeps (at, storage_msat_per_gib_day) VALUES (?, ?)').run(at, priceMsatPerGibDay).lastInsertRowid;
      const params = { now: at, price: priceMsatPerGibDay, due: at - minPeriodMs, sweep };
      const ins = this.#db.prepare(`INSERT INTO storage_charges (sweep_id, file_seq, amount_msat) SELECT :sweep, seq, -${CHARGE_SQL} FROM files WHERE ${due} ORDER BY seq`).run(params);
      if (ins.changes === 0) {
        this.#db.prepare('DELETE FROM storage_sweeps WHERE id = ?').run(sweep);
        return { files: 0, frozen: 0 };
      }
      this.#db.prepare(`UPDATE files SET balance_msat = balance_msat - ${CHARGE_SQL}, charged_until = :now WHERE ${due}`).run(params);
      const frozen = this.#db.prepare("UPDATE files INDEXED BY files_overdrawn SET state = 'frozen', frozen_at = ? WHERE state = 'active' AND balance_msat < 0").run(at);
      return { files: ins.changes, frozen: frozen.changes };
    })();
  }

  /** What a file owes for storage since it was last charged, at `priceMsatPerGibDay` (not yet in the ledger). */
  accruedMsat(fileId: string, now: Date, priceMsatPerGibDay: bigint): bigint {
    return this.#accrued.get({ id: fileId, now: BigInt(now.getTime()), price: priceMsatPerGibDay }) ?? 0n;
  }

  /** The sum of every balance but deleted files' (msat): what the agent holds for its customers (a metric). */
  totalBalanceMsat(): bigint {
    const r = this.#db.prepare("SELECT coalesce(sum(balance_msat), 0) AS total FROM files WHERE state <> 'deleted'").get() as { total: bigint };
    return r.total;
  }

  /** Files whose balance disagrees with the sum of their entries and storage charges (should always be empty). */
  verifyBalances(): Array<{ fileId: string; balanceMsat: bigint; sumMsat: bigint }> {
    return this.#db
      .prepare(
        `SELECT f.id AS fileId, f.balance_msat AS balanceMsat, coalesce(e.total, 0) + coalesce(s.total, 0) AS sumMsat
         FROM files f
         LEFT JOIN (SELECT file_id, sum(amount_msat) AS total FROM ledger_entries GROUP BY file_id) e ON e.file_id = f.id
         LEFT JOIN (SELECT file_seq, sum(amount_msat) AS total FROM storage_charges GROUP BY file_seq) s ON s.file_seq = f.seq
         WHERE f.balance_msat != coalesce(e.total, 0) + coalesce(s.total, 0)`,
      )
      .all() as Array<{ fileId: string; balanceMsat: bigint; sumMsat: bigint }>;
  }

  /**
   * A file's entries, oldest first: payments, reversals and egress, and its storage charges (ref `<from>-<to>`,
   * each charge's period starting where the file's previous one ended, the first at its completion).
   */
  entries(fileId: string): Entry[] {
    const rows = this.#db
      .prepare(
        `SELECT kind, ref, amount_msat, at FROM (
           SELECT kind, ref, amount_msat, at, id AS ord FROM ledger_entries WHERE file_id = :id
           UNION ALL
           SELECT 'storage', coalesce(lag(s.at) OVER (ORDER BY s.at, s.id), f.completed_at) || '-' || s.at, c.amount_msat, s.at, NULL
           FROM storage_charges c JOIN files f ON f.seq = c.file_seq JOIN storage_sweeps s ON s.id = c.sweep_id WHERE f.id = :id
         ) ORDER BY at, ord`,
      )
      .all({ id: fileId }) as Array<{ kind: EntryKind; ref: string; amount_msat: bigint; at: bigint }>;
    return rows.map((r) => ({ fileId, kind: r.kind, ref: r.ref, amountMsat: r.amount_msat, at: new Date(Number(r.at)) }));
  }

  /**
   * How many times the payment at `outpoint` (`<txid>:<vout>`) to a file has been reversed: its entries' refs
   * are `<outpoint>/<k>` (src/host/payments.ts), found by a range over the (file, kind, ref) unique index.
   */
  reversalsOf(fileId: string, outpoint: string): bigint {
    // '0' is the character after '/', so [`<outpoint>/`, `<outpoint>0`) holds exactly the refs `<outpoint>/...`.
    return this.#reversals.get(fileId, `${outpoint}/`, `${outpoint}0`) ?? 0n;
  }
}
