/**
 * Every statement the payment watcher runs (src/chain/watcher.ts and its pieces), prepared once when the
 * watcher is built, with the rows they return typed: its own tables `payments` and `chain_blocks`, its key in
 * `meta`. Which scripts are ours is the treasury's to say (PaymentWatcherOptions.ours). The watcher calls these methods and never writes SQL of its own, so a pass compiles nothing and its
 * whole use of the database can be read here. Tables are created in ./schema.ts.
 */
import { MetaStore, type Db } from '../db/index.ts';
import type { CoinTotals } from './watcher-types.ts';

type PaymentState = 'mempool' | 'confirmed' | 'reversed';

/** A row of payments (the columns the watcher reads). */
export interface PaymentRow {
  txid: string;
  vout: bigint;
  address: string;
  value_sat: bigint;
  state: PaymentState;
  block_height: bigint | null;
  counted: bigint;
  spent_by: string | null;
  zero_conf: bigint;
}

/** An unspent payment, as unspent() lists it. */
interface UnspentRow {
  txid: string;
  vout: bigint;
  address: string;
  value_sat: bigint;
  state: PaymentState;
}

interface ReceivedRow {
  received: bigint;
  confirmed: bigint;
  counted: bigint;
}

interface TotalsRow {
  state: PaymentState;
  sat: bigint;
  coins: bigint;
}

/** A payment seen for the first time, in a block or in the mempool. */
interface NewPayment {
  txid: string;
  vout: number;
  address: string;
  valueSat: bigint;
  state: 'mempool' | 'confirmed';
  blockHeight: number | null;
  blockHash: string | null;
  zeroConf: boolean;
  now: bigint;
}

// The lowest height ever scanned. With it a fork below every stored block can be told apart: below the first
// block scanned nothing could have paid us (start over from there), below a pruned one we cannot know (REORG_TOO_DEEP).
const FIRST_HEIGHT_KEY = 'payment_watcher.first_height';

const PAYMENT_COLUMNS = 'txid, vout, address, value_sat, state, block_height, counted, spent_by, zero_conf';

export class ChainRepository {
  // One transaction function made once: better-sqlite3 runs it as a savepoint when a transaction is already
  // open, and its callback must not await (src/db/index.ts).
  readonly #tx;
  // payments
  readonly #payment;
  readonly #insertPayment;
  readonly #confirmPayment;
  readonly #resurrect;
  readonly #setSpentBy;
  readonly #uncounted;
  readonly #setCounted;
  readonly #mempoolTxids;
  readonly #mempoolOfTx;
  readonly #reverse;
  readonly #unspend;
  readonly #disconnectPayments;
  // chain_blocks
  readonly #top;
  readonly #lowest;
  readonly #hashAt;
  readonly #insertBlock;
  readonly #prune;
  readonly #disconnectBlocks;
  // meta
  readonly #meta;
  // read side
  readonly #received;
  readonly #exposure;
  readonly #exposureOf;
  readonly #unspent;
  readonly #totalsAll;
  readonly #totalsOf;

  constructor(db: Db) {
    this.#tx = db.transaction((fn: () => unknown) => fn());

    this.#payment = db.prepare<[string, number], PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE txid = ? AND vout = ?`);
    this.#insertPayment = db.prepare<[string, number, string, bigint, PaymentState, number | null, string | null, number, bigint, bigint]>(
      `INSERT INTO payments (txid, vout, address, value_sat, state, block_height, block_hash, zero_conf, counted, first_seen_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    );
    // A payment seen in the mempool (or disconnected, or reversed) and now in a block: same outpoint, same row.
    this.#confirmPayment = db.prepare<[number, string, bigint, string, number]>(
      `UPDATE payments SET state = 'confirmed', block_height = ?, block_hash = ?, updated_at = ? WHERE txid = ? AND vout = ?`,
    );
    // A payment that vanished once (a double spend, an eviction) and came back waits for its confirmations.
    this.#resurrect = db.prepare<[bigint, string, number]>(
      `UPDATE payments SET state = 'mempool', zero_conf = 0, updated_at = ? WHERE txid = ? AND vout = ? AND state = 'reversed'`,
    );
    this.#setSpentBy = db.prepare<[string, bigint, string, number]>('UPDATE payments SET spent_by = ?, updated_at = ? WHERE txid = ? AND vout = ?');
    // First seen, first admitted within the 0-conf caps; the outpoint breaks ties, so the order is always the same.
    this.#uncounted = db.prepare<[], PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE counted = 0 AND state IN ('mempool', 'confirmed') ORDER BY first_seen_at, txid, vout`,
    );
    this.#setCounted = db.prepare<[bigint, string, number]>('UPDATE payments SET counted = 1, updated_at = ? WHERE txid = ? AND vout = ?');
    this.#mempoolTxids = db.prepare<[], string>(`SELECT DISTINCT txid FROM payments WHERE state = 'mempool' ORDER BY txid`).pluck();
    this.#mempoolOfTx = db.prepare<[string], PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE txid = ? AND state = 'mempool' ORDER BY vout`);
    // counted goes back to 0: the credit has been undone, so if the transaction ever confirms after all it is credited again.
    this.#reverse = db.prepare<[bigint, string, number]>(
      `UPDATE payments SET state = 'reversed', counted = 0, block_height = NULL, block_hash = NULL, updated_at = ? WHERE txid = ? AND vout = ?`,
    );
    // No index on spent_by: this runs only when a transaction vanishes, which is rare, so a scan is acceptable.
    this.#unspend = db.prepare<[bigint, string]>(`UPDATE payments SET spent_by = NULL, updated_at = ? WHERE spent_by = ?`);
    this.#disconnectPayments = db.prepare<[bigint, number]>(
      `UPDATE payments SET state = 'mempool', block_height = NULL, block_hash = NULL, updated_at = ?
       WHERE block_height > ? AND state = 'confirmed'`,
    );

    this.#top = db.prepare<[], { height: bigint; hash: string }>('SELECT height, hash FROM chain_blocks ORDER BY height DESC LIMIT 1');
    this.#lowest = db.prepare<[], bigint>('SELECT height FROM chain_blocks ORDER BY height ASC LIMIT 1').pluck();
    this.#hashAt = db.prepare<[number], string>('SELECT hash FROM chain_blocks WHERE height = ?').pluck();
    this.#insertBlock = db.prepare<[number, string, string, bigint]>('INSERT INTO chain_blocks (height, hash, prev_hash, processed_at) VALUES (?, ?, ?, ?)');
    this.#prune = db.prepare<[number]>('DELETE FROM chain_blocks WHERE height <= ?');
    this.#disconnectBlocks = db.prepare<[number]>('DELETE FROM chain_blocks WHERE height > ?');

    this.#meta = new MetaStore(db);

    this.#received = db.prepare<[string], ReceivedRow>(
      `SELECT COALESCE(SUM(value_sat), 0) AS received,
              COALESCE(SUM(CASE WHEN state = 'confirmed' THEN value_sat END), 0) AS confirmed,
              COALESCE(SUM(CASE WHEN counted = 1 THEN value_sat END), 0) AS counted
       FROM payments WHERE address = ? AND state != 'reversed'`,
    );
    // Counted and not in a block: what a double spend could still take back (payments_pending covers it).
    this.#exposure = db.prepare<[], bigint>(`SELECT COALESCE(SUM(value_sat), 0) AS sat FROM payments WHERE state = 'mempool' AND counted = 1`).pluck();
    this.#exposureOf = db
      .prepare<[string], bigint>(`SELECT COALESCE(SUM(value_sat), 0) AS sat FROM payments WHERE address = ? AND state = 'mempool' AND counted = 1`)
      .pluck();
    this.#unspent = db.prepare<[], UnspentRow>(
      `SELECT txid, vout, address, value_sat, state FROM payments
       WHERE spent_by IS NULL AND state != 'reversed'
       ORDER BY block_height IS NULL, block_height, txid, vout`,
    );
    this.#totalsAll = db.prepare<[], TotalsRow>(
      `SELECT state, COALESCE(SUM(value_sat), 0) AS sat, COUNT(*) AS coins FROM payments
       WHERE spent_by IS NULL AND state IN ('mempool', 'confirmed') GROUP BY state`,
    );
    // +state: the address index finds an address's few payments; the state index would walk every coin.
    this.#totalsOf = db.prepare<[string], TotalsRow>(
      `SELECT state, COALESCE(SUM(value_sat), 0) AS sat, COUNT(*) AS coins FROM payments
       WHERE address = ? AND spent_by IS NULL AND +state IN ('mempool', 'confirmed') GROUP BY state`,
    );
  }

  /** Runs `fn` in one transaction (a savepoint inside an open one). `fn` must not await. */
  transaction<T>(fn: () => T): T {
    return this.#tx(fn) as T;
  }

  // ---- payments ----

  payment(txid: string, vout: number): PaymentRow | undefined {
    return this.#payment.get(txid, vout);
  }

  insertPayment(p: NewPayment): void {
    this.#insertPayment.run(p.txid, p.vout, p.address, p.valueSat, p.state, p.blockHeight, p.blockHash, p.zeroConf ? 1 : 0, p.now, p.now);
  }

  confirmPayment(txid: string, vout: number, height: number, hash: string, now: bigint): void {
    this.#confirmPayment.run(height, hash, now, txid, vout);
  }

  /** A reversed payment seen in the mempool again goes back to 'mempool', never to count at 0-conf. */
  resurrect(txid: string, vout: number, now: bigint): void {
    this.#resurrect.run(now, txid, vout);
  }

  setSpentBy(txid: string, vout: number, spender: string, now: bigint): void {
    this.#setSpentBy.run(spender, now, txid, vout);
  }

  /** Payments not yet counted and not reversed, in first-seen order. */
  uncounted(): PaymentRow[] {
    return this.#uncounted.all();
  }

  setCounted(txid: string, vout: number, now: bigint): void {
    this.#setCounted.run(now, txid, vout);
  }

  /** The transactions holding a payment in state 'mempool', each once. */
  mempoolTxids(): string[] {
    return this.#mempoolTxids.all();
  }

  /** The 'mempool' payments of one transaction. */
  mempoolOfTx(txid: string): PaymentRow[] {
    return this.#mempoolOfTx.all(txid);
  }

  reverse(txid: string, vout: number, now: bigint): void {
    this.#reverse.run(now, txid, vout);
  }

  /** Every payment `spender` spent is unspent again. */
  unspend(spender: string, now: bigint): void {
    this.#unspend.run(now, spender);
  }

  /** Payments of blocks above `fork` go back to the mempool, and those blocks are forgotten. */
  disconnectAbove(fork: number, now: bigint): void {
    this.#disconnectPayments.run(now, fork);
    this.#disconnectBlocks.run(fork);
  }

  // ---- chain_blocks and meta ----

  /** The highest block applied. */
  top(): { height: number; hash: string } | undefined {
    const top = this.#top.get();
    return top ? { height: Number(top.height), hash: top.hash } : undefined;
  }

  /** The lowest block still kept. */
  lowestHeight(): number | undefined {
    const lowest = this.#lowest.get();
    return lowest === undefined ? undefined : Number(lowest);
  }

  hashAt(height: number): string | undefined {
    return this.#hashAt.get(height);
  }

  /** Records an applied block (and, the first time, the height scanning began at), forgetting those older than `keepBlocks`. */
  addBlock(height: number, hash: string, prevHash: string, now: bigint, keepBlocks: number): void {
    this.#meta.setIfAbsent(FIRST_HEIGHT_KEY, String(height));
    this.#insertBlock.run(height, hash, prevHash, now);
    this.#prune.run(height - keepBlocks);
  }

  /** The lowest height ever scanned, undefined before the first block. */
  firstHeight(): number | undefined {
    const v = this.#meta.get(FIRST_HEIGHT_KEY);
    return v === undefined ? undefined : Number(v);
  }

  // ---- read side ----

  received(address: string): ReceivedRow | undefined {
    return this.#received.get(address);
  }

  /** The sum of payments that count and are not in a block. */
  exposure(): bigint {
    return this.#exposure.get() ?? 0n;
  }

  /** exposure() for one address. */
  exposureOf(address: string): bigint {
    return this.#exposureOf.get(address) ?? 0n;
  }

  unspent(): UnspentRow[] {
    return this.#unspent.all();
  }

  /** Sums of unspent coins, leaving out those of `except` (see PaymentWatcher.unspentTotals). */
  unspentTotals(except: readonly string[]): CoinTotals {
    const out: CoinTotals = { confirmedSat: 0n, unconfirmedSat: 0n, coins: 0 };
    const add = (rows: TotalsRow[], sign: bigint): void => {
      for (const r of rows) {
        if (r.state === 'confirmed') out.confirmedSat += sign * r.sat;
        else out.unconfirmedSat += sign * r.sat;
        out.coins += Number(sign * r.coins);
      }
    };
    // One read transaction, so a block applied between the statements cannot make the difference wrong.
    this.transaction(() => {
      add(this.#totalsAll.all(), 1n);
      for (const address of new Set(except)) add(this.#totalsOf.all(address), -1n);
    });
    return out;
  }
}
