/**
 * The append-only ledger of every file's prepaid balance (DESIGN "Money", "Files"). Entries are never
 * updated or deleted; `files.balance_msat` is their running sum, changed only in the same transaction as an
 * entry, and `verifyBalances` proves the two agree. All functions are synchronous: each is one SQLite
 * transaction with no await inside (CONVENTIONS habit 8), so a kill -9 leaves either all of it or none.
 */
import type { Db } from '../db/index.ts';

export const GIB = 1024n ** 3n;
export const DAY_MS = 86_400_000n;

export type EntryKind = 'payment' | 'reversal' | 'storage' | 'egress';

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

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare('INSERT OR IGNORE INTO ledger_entries (file_id, kind, ref, amount_msat, at) VALUES (?, ?, ?, ?, ?)');
    this.#apply = db.prepare('UPDATE files SET balance_msat = balance_msat + ? WHERE id = ?');
    this.#freeze = db.prepare("UPDATE files SET state = 'frozen', frozen_at = ? WHERE id = ? AND state = 'active' AND balance_msat < 0");
    this.#thaw = db.prepare("UPDATE files SET state = 'active', frozen_at = NULL WHERE id = ? AND state = 'frozen' AND balance_msat >= 0");
  }

  /**
   * Records an entry and moves the balance with it, once: a second call with the same (file, kind, ref) does
   * nothing and returns false. A balance that goes negative freezes an active file; one that comes back to
   * zero or above thaws a frozen one. Must be called inside a transaction when combined with other writes;
   * on its own it is atomic.
   */
  record(e: Entry): boolean {
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
   * Charges every stored file for the time since it was last charged, in set-based SQL (one INSERT ... SELECT
   * of ledger entries and one UPDATE of the balances, not a loop in JS), then freezes files gone negative.
   * A period is charged once: each entry's ref is `<from>-<to>` and charged_until moves to `now`, so a re-run
   * with the same `now` charges nothing.
   */
  sweepStorage(now: Date, priceMsatPerGibDay: bigint): { files: number; frozen: number } {
    const params = { now: BigInt(now.getTime()), price: priceMsatPerGibDay };
    return this.#db.transaction(() => {
      const ins = this.#db
        .prepare(
          `INSERT OR IGNORE INTO ledger_entries (file_id, kind, ref, amount_msat, at)
           SELECT id, 'storage', charged_until || '-' || :now, -${CHARGE_SQL}, :now
           FROM files WHERE state IN ('active', 'frozen') AND charged_until < :now`,
        )
        .run(params);
      this.#db
        .prepare(`UPDATE files SET balance_msat = balance_msat - ${CHARGE_SQL}, charged_until = :now WHERE state IN ('active', 'frozen') AND charged_until < :now`)
        .run(params);
      const frozen = this.#db.prepare("UPDATE files SET state = 'frozen', frozen_at = :now WHERE state = 'active' AND balance_msat < 0").run({ now: params.now });
      return { files: ins.changes, frozen: frozen.changes };
    })();
  }

  /** Files whose balance disagrees with the sum of their entries (should always be empty). */
  verifyBalances(): Array<{ fileId: string; balanceMsat: bigint; sumMsat: bigint }> {
    const rows = this.#db
      .prepare(
        `SELECT f.id AS fileId, f.balance_msat AS balanceMsat, coalesce(e.total, 0) AS sumMsat
         FROM files f LEFT JOIN (SELECT file_id, sum(amount_msat) AS total FROM ledger_entries GROUP BY file_id) e ON e.file_id = f.id
         WHERE f.balance_msat != coalesce(e.total, 0)`,
      )
      .all() as Array<{ fileId: string; balanceMsat: bigint; sumMsat: bigint }>;
    return rows;
  }

  /** A file's entries, oldest first. */
  entries(fileId: string): Entry[] {
    const rows = this.#db.prepare('SELECT file_id, kind, ref, amount_msat, at FROM ledger_entries WHERE file_id = ? ORDER BY id').all(fileId) as Array<{
      file_id: string;
      kind: EntryKind;
      ref: string;
      amount_msat: bigint;
      at: bigint;
    }>;
    return rows.map((r) => ({ fileId: r.file_id, kind: r.kind, ref: r.ref, amountMsat: r.amount_msat, at: new Date(Number(r.at)) }));
  }
}
