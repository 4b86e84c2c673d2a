/**
 * The payment watcher (docs/payments.md): follows the best chain block by block, records every output
 * paying one of the wallet's addresses, and tells a sink when a payment is accepted by the confirmation
 * policy (counted) or leaves the chain after having been counted (reversed).
 *
 * Why it is built this way:
 * - Detection does not scale with the number of addresses. Each new block is fetched whole and every
 *   output script is looked up in the UNIQUE index on `wallet_addresses.script` (one indexed lookup per
 *   output), so a million dormant addresses cost nothing per block. Only the few addresses the host says
 *   are recently quoted and unpaid are polled for mempool (0-conf) payments.
 * - Crash safety. Each block is applied in one SQLite transaction together with its `chain_blocks` row and
 *   the sink's credits, so a kill -9 resumes exactly after the last whole block and never credits twice.
 *   Network I/O always happens before a transaction, never inside one (better-sqlite3 is synchronous).
 * - Reorgs. The hashes of the last `keepBlocks` blocks are kept; the fork point is found by comparing them,
 *   top down, with the backend's best chain. Payments of disconnected blocks go back to 'mempool'; any
 *   'mempool' payment whose transaction the backend no longer knows at all (a double spend, or an eviction)
 *   becomes 'reversed', and the sink is told when it had been counted.
 * - Zero-conf by payment, not by output (src/chain/zeroconf.ts, docs/payments.md). What counts before its
 *   confirmations is capped per address and across the agent, summed over every counted payment not in a
 *   block; a transaction that signals replacement or spends an unconfirmed parent never counts unconfirmed.
 */
import { Block } from 'bitcoinjs-lib';
import type { Transaction } from 'bitcoinjs-lib';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/index.ts';
import { AgentError, isAgentError } from '../errors/index.ts';
import type { ChainBackend, MempoolTx } from './types.ts';
import { ZeroConfBudget, mayCountUnconfirmed } from './zeroconf.ts';

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
  policy: ConfirmationPolicy;
  sink: PaymentSink;
  now?: () => Date;
  /** Addresses polled for 0-conf payments: recently quoted, unpaid ones (the host module supplies this query). */
  mempoolAddresses?: () => string[];
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

type PaymentState = 'mempool' | 'confirmed' | 'reversed';

interface PaymentRow {
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

interface Stats {
  blocks: number;
  newPayments: number;
  counted: number;
  reversed: number;
  reorgDepth: number;
}

// The lowest height ever scanned. With it a fork below every stored block can be told apart: below the first
// block scanned nothing could have paid us (start over from there), below a pruned one we cannot know (REORG_TOO_DEEP).
const FIRST_HEIGHT_KEY = 'payment_watcher.first_height';
// How often one pass re-reads the tip when the chain changes while it is being followed; the rest waits for the next pass.
const MAX_FOLLOW_ATTEMPTS = 5;
const DEFAULT_KEEP_BLOCKS = 144;

const PAYMENT_COLUMNS = 'txid, vout, address, value_sat, state, block_height, counted, spent_by, zero_conf';

/** A 32-byte hash in internal byte order -> display hex (what txids and block ids are written as). */
function displayHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

/** Bind a Uint8Array as a BLOB without copying it. */
function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function requireSat(value: unknown, key: string): bigint {
  if (typeof value !== 'bigint' || value < 0n) throw new AgentError('CONFIG_INVALID', `${key} must be a bigint >= 0`);
  return value;
}

function requireCount(value: number, key: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new AgentError('CONFIG_INVALID', `${key} must be an integer >= ${min}`);
  return value;
}

/**
 * Follows the chain and the mempool for payments to the wallet's addresses. See the module comment.
 */
export class PaymentWatcher {
  readonly #db: Db;
  readonly #chain: ChainBackend;
  readonly #policy: Required<ConfirmationPolicy>;
  readonly #sink: PaymentSink;
  readonly #now: () => Date;
  readonly #mempoolAddresses: () => string[];
  readonly #keepBlocks: number;
  readonly #startHeight: () => number | undefined;
  #running: Promise<SyncResult> | undefined;

  readonly #q: {
    addressOfScript: Statement<[Buffer], { address: string }>;
    payment: Statement<[string, number], PaymentRow>;
    insertPayment: Statement<[string, number, string, bigint, PaymentState, number | null, string | null, number, bigint, bigint]>;
    confirmPayment: Statement<[number, string, bigint, string, number]>;
    resurrect: Statement<[bigint, string, number]>;
    setSpentBy: Statement<[string, bigint, string, number]>;
    uncounted: Statement<[], PaymentRow>;
    setCounted: Statement<[bigint, string, number]>;
    mempoolTxids: Statement<[], { txid: string }>;
    mempoolOfTx: Statement<[string], PaymentRow>;
    reverse: Statement<[bigint, string, number]>;
    unspend: Statement<[bigint, string]>;
    top: Statement<[], { height: bigint; hash: string }>;
    lowest: Statement<[], { height: bigint }>;
    hashAt: Statement<[number], { hash: string }>;
    insertBlock: Statement<[number, string, string, bigint]>;
    prune: Statement<[number]>;
    disconnectPayments: Statement<[bigint, number]>;
    disconnectBlocks: Statement<[number]>;
    firstHeight: Statement<[string], { value: string }>;
    setFirstHeight: Statement<[string, string]>;
    received: Statement<[string], { received: bigint; confirmed: bigint; counted: bigint }>;
    exposure: Statement<[], { sat: bigint }>;
    exposureOf: Statement<[string], { sat: bigint }>;
    unspent: Statement<[], { txid: string; vout: bigint; address: string; value_sat: bigint; state: PaymentState }>;
  };

  /** @throws AgentError CONFIG_INVALID for a policy or keepBlocks out of range */
  constructor(opts: PaymentWatcherOptions) {
    const required = requireCount(opts.policy.required, 'confirmations.required', 0);
    const zeroConfMaxSat = requireSat(opts.policy.zeroConfMaxSat, 'confirmations.zeroConfMaxSat');
    const zeroConfTotalMaxSat = requireSat(opts.policy.zeroConfTotalMaxSat ?? zeroConfMaxSat, 'confirmations.zeroConfTotalMaxSat');
    this.#db = opts.db;
    this.#chain = opts.chain;
    this.#policy = { required, zeroConfMaxSat, zeroConfTotalMaxSat };
    this.#sink = opts.sink;
    this.#now = opts.now ?? (() => new Date());
    this.#mempoolAddresses = opts.mempoolAddresses ?? (() => []);
    this.#keepBlocks = requireCount(opts.keepBlocks ?? DEFAULT_KEEP_BLOCKS, 'keepBlocks', 1);
    this.#startHeight = opts.startHeight ?? (() => undefined);

    const db = this.#db;
    this.#q = {
      addressOfScript: db.prepare('SELECT address FROM wallet_addresses WHERE script = ?'),
      payment: db.prepare(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE txid = ? AND vout = ?`),
      insertPayment: db.prepare(
        `INSERT INTO payments (txid, vout, address, value_sat, state, block_height, block_hash, zero_conf, counted, first_seen_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
      ),
      // A payment seen in the mempool (or disconnected, or reversed) and now in a block: same outpoint, same row.
      confirmPayment: db.prepare(
        `UPDATE payments SET state = 'confirmed', block_height = ?, block_hash = ?, updated_at = ? WHERE txid = ? AND vout = ?`,
      ),
      // A payment that vanished once (a double spend, an eviction) and came back waits for its confirmations.
      resurrect: db.prepare(`UPDATE payments SET state = 'mempool', zero_conf = 0, updated_at = ? WHERE txid = ? AND vout = ? AND state = 'reversed'`),
      setSpentBy: db.prepare('UPDATE payments SET spent_by = ?, updated_at = ? WHERE txid = ? AND vout = ?'),
      // First seen, first admitted within the 0-conf caps; the outpoint breaks ties, so the order is always the same.
      uncounted: db.prepare(
        `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE counted = 0 AND state IN ('mempool', 'confirmed') ORDER BY first_seen_at, txid, vout`,
      ),
      setCounted: db.prepare('UPDATE payments SET counted = 1, updated_at = ? WHERE txid = ? AND vout = ?'),
      mempoolTxids: db.prepare(`SELECT DISTINCT txid FROM payments WHERE state = 'mempool' ORDER BY txid`),
      mempoolOfTx: db.prepare(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE txid = ? AND state = 'mempool' ORDER BY vout`),
      // counted goes back to 0: the credit has been undone, so if the transaction ever confirms after all it is credited again.
      reverse: db.prepare(
        `UPDATE payments SET state = 'reversed', counted = 0, block_height = NULL, block_hash = NULL, updated_at = ? WHERE txid = ? AND vout = ?`,
      ),
      // No index on spent_by: this runs only when a transaction vanishes, which is rare, so a scan is acceptable.
      unspend: db.prepare(`UPDATE payments SET spent_by = NULL, updated_at = ? WHERE spent_by = ?`),
      top: db.prepare('SELECT height, hash FROM chain_blocks ORDER BY height DESC LIMIT 1'),
      lowest: db.prepare('SELECT height FROM chain_blocks ORDER BY height ASC LIMIT 1'),
      hashAt: db.prepare('SELECT hash FROM chain_blocks WHERE height = ?'),
      insertBlock: db.prepare('INSERT INTO chain_blocks (height, hash, prev_hash, processed_at) VALUES (?, ?, ?, ?)'),
      prune: db.prepare('DELETE FROM chain_blocks WHERE height <= ?'),
      disconnectPayments: db.prepare(
        `UPDATE payments SET state = 'mempool', block_height = NULL, block_hash = NULL, updated_at = ?
         WHERE block_height > ? AND state = 'confirmed'`,
      ),
      disconnectBlocks: db.prepare('DELETE FROM chain_blocks WHERE height > ?'),
      firstHeight: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setFirstHeight: db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
      received: db.prepare(
        `SELECT COALESCE(SUM(value_sat), 0) AS received,
                COALESCE(SUM(CASE WHEN state = 'confirmed' THEN value_sat END), 0) AS confirmed,
                COALESCE(SUM(CASE WHEN counted = 1 THEN value_sat END), 0) AS counted
         FROM payments WHERE address = ? AND state != 'reversed'`,
      ),
      // Counted and not in a block: what a double spend could still take back (payments_pending covers it).
      exposure: db.prepare(`SELECT COALESCE(SUM(value_sat), 0) AS sat FROM payments WHERE state = 'mempool' AND counted = 1`),
      exposureOf: db.prepare(`SELECT COALESCE(SUM(value_sat), 0) AS sat FROM payments WHERE address = ? AND state = 'mempool' AND counted = 1`),
      unspent: db.prepare(
        `SELECT txid, vout, address, value_sat, state FROM payments
         WHERE spent_by IS NULL AND state != 'reversed'
         ORDER BY block_height IS NULL, block_height, txid, vout`,
      ),
    };
  }

  /**
   * One pass: follow the chain to the tip (handling reorgs), re-check unconfirmed payments (reversing those
   * whose transaction vanished), poll the mempool for `mempoolAddresses()`, and apply the policy.
   * Never overlaps itself: a call made while a pass is running gets that pass's promise (and its signal).
   * @throws AgentError REORG_TOO_DEEP when the fork point is below every stored block hash
   * @throws AgentError CONFIG_INVALID when startHeight() is not a non-negative integer
   * @throws AgentError CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE from the backend (also when its tip is below
   *   every block applied); blocks applied before the failure stay applied, and the next pass continues there
   * @throws whatever the sink throws (that step is rolled back); the signal's reason when aborted
   */
  sync(signal?: AbortSignal): Promise<SyncResult> {
    if (this.#running) return this.#running;
    const pass = this.#pass(signal).finally(() => {
      this.#running = undefined;
    });
    this.#running = pass;
    return pass;
  }

  /** Totals for `address` (GET /v1/uploads/:id): see ReceivedTotals. */
  received(address: string): ReceivedTotals {
    const r = this.#q.received.get(address);
    return { receivedSat: r?.received ?? 0n, confirmedSat: r?.confirmed ?? 0n, countedSat: r?.counted ?? 0n };
  }

  /**
   * The agent's unconfirmed exposure in sat: payments that count (were credited) and are not in a block of the
   * best chain, whether counted at 0-conf or sent back to the mempool by a reorg. What a double spend could still
   * take back; the policy keeps what it admits at 0-conf within `zeroConfTotalMaxSat`.
   */
  unconfirmedCountedSat(): bigint {
    return this.#q.exposure.get()?.sat ?? 0n;
  }

  /**
   * The wallet's coins: payments not reversed and not spent by a transaction seen in a block or in a polled
   * mempool transaction, confirmed ones first, oldest first.
   */
  unspent(): UnspentPayment[] {
    return this.#q.unspent.all().map((r) => ({
      txid: r.txid,
      vout: Number(r.vout),
      address: r.address,
      valueSat: r.value_sat,
      confirmed: r.state === 'confirmed',
    }));
  }

  async #pass(signal?: AbortSignal): Promise<SyncResult> {
    signal?.throwIfAborted();
    const stats: Stats = { blocks: 0, newPayments: 0, counted: 0, reversed: 0, reorgDepth: 0 };
    let tip = await this.#chain.getTipHeight(signal);
    for (let attempt = 1; ; attempt++) {
      const done = await this.#follow(tip, stats, signal);
      // The chain changed while we followed it (a block vanished under us): read the new tip and look again.
      // After a few tries leave it to the next pass rather than chase a chain that keeps moving.
      if (done || attempt >= MAX_FOLLOW_ATTEMPTS) break;
      tip = await this.#chain.getTipHeight(signal);
    }
    await this.#recheckUnconfirmed(stats, signal);
    await this.#pollMempool(stats, signal);
    const top = this.#q.top.get();
    return { tip: top ? Number(top.height) : tip, ...stats };
  }

  /**
   * Brings the stored chain to the backend's block at `tip`: finds the fork point, disconnects above it,
   * connects up to the tip. Returns false when the backend's chain moved under it (try again).
   */
  async #follow(tip: number, stats: Stats, signal?: AbortSignal): Promise<boolean> {
    const top = this.#q.top.get();
    let next: number;
    let prevHash: string | undefined;
    if (top) {
      const topHeight = Number(top.height);
      const fork = await this.#findFork(topHeight, tip, signal);
      if (fork === undefined) return false;
      // The backend's best chain is a prefix of ours (its tip is below our top and matches there): a backend
      // that lags behind (another electrs instance, a restart), not a reorg. A real reorg replaces blocks, so
      // a new block at or below the backend's tip would differ from ours. Wait instead of disconnecting.
      if (fork === tip && tip < topHeight) return true;
      if (fork < topHeight) {
        this.#disconnect(fork);
        stats.reorgDepth = Math.max(stats.reorgDepth, topHeight - fork);
      }
      next = fork + 1;
      prevHash = this.#q.hashAt.get(fork)?.hash;
    } else {
      next = this.#beginAt(tip);
    }
    for (let h = next; h <= tip; h++) {
      signal?.throwIfAborted();
      let hash: string;
      try {
        hash = await this.#chain.getBlockHash(h, signal);
      } catch (e) {
        if (isAgentError(e, 'CHAIN_NOT_FOUND')) return false; // the tip went down since we read it
        throw e;
      }
      const raw = await this.#chain.getBlockRaw(hash, signal);
      let block: Block;
      try {
        block = Block.fromBuffer(raw);
      } catch (e) {
        throw new AgentError('CHAIN_BAD_RESPONSE', `block ${hash} at height ${h} does not parse`, { height: h, hash }, { cause: e });
      }
      if (block.getId() !== hash || !block.prevHash || !block.transactions) {
        throw new AgentError('CHAIN_BAD_RESPONSE', `the chain backend answered another block for ${hash} at height ${h}`, { height: h, hash });
      }
      const prev = displayHex(block.prevHash);
      // A block that does not build on the one we applied below it: the chain was reorganised between our reads.
      if (prevHash !== undefined && prev !== prevHash) return false;
      this.#connect(h, hash, prev, block.transactions, stats);
      prevHash = hash;
    }
    return true;
  }

  /**
   * The highest height at which our stored hash is the backend's, comparing from min(top, tip) down; one
   * request when there is no reorg. Undefined when the backend's tip fell while we compared.
   * @throws AgentError CHAIN_BAD_RESPONSE when the backend's tip is below every block we applied
   * @throws AgentError REORG_TOO_DEEP when no stored block is still in the best chain and some were pruned
   */
  async #findFork(topHeight: number, tip: number, signal?: AbortSignal): Promise<number | undefined> {
    const lowest = Number(this.#q.lowest.get()?.height ?? topHeight);
    if (tip < lowest) {
      // Nothing left to compare: a backend far behind (reindexing) or on another chain. Disconnecting on its
      // word would send confirmed payments back to the mempool of a backend that cannot vouch for them.
      throw new AgentError(
        'CHAIN_BAD_RESPONSE',
        `the chain backend's tip ${tip} is below every block the watcher has applied (${lowest}..${topHeight}): it is far behind or on another chain`,
        { tip, lowest, top: topHeight },
      );
    }
    for (let h = Math.min(topHeight, tip); h >= lowest; h--) {
      const stored = this.#q.hashAt.get(h);
      if (!stored) break; // heights are contiguous; a gap would mean the table was edited by hand
      let remote: string;
      try {
        remote = await this.#chain.getBlockHash(h, signal);
      } catch (e) {
        if (isAgentError(e, 'CHAIN_NOT_FOUND')) return undefined;
        throw e;
      }
      if (remote === stored.hash) return h;
    }
    const first = this.#firstHeight();
    // Nothing below the first block we ever scanned could have paid us, so a fork below it just means
    // scanning again from there. Below a pruned block, payments we no longer know of may have left the chain.
    if (first !== undefined && lowest <= first) return first - 1;
    throw new AgentError(
      'REORG_TOO_DEEP',
      `the best chain no longer contains any of the last ${topHeight - lowest + 1} blocks the watcher applied (heights ${lowest}..${topHeight}); ` +
        `a reorg deeper than keepBlocks (${this.#keepBlocks}) needs an operator: check the chain backend, then rescan`,
      { lowest, top: topHeight, keepBlocks: this.#keepBlocks },
    );
  }

  /** Where to begin with no stored block: where we first began (after a reorg below it), else startHeight(), else the tip. */
  #beginAt(tip: number): number {
    const first = this.#firstHeight();
    if (first !== undefined) return first;
    const start = this.#startHeight();
    if (start === undefined) return tip;
    return requireCount(start, 'startHeight', 0);
  }

  #firstHeight(): number | undefined {
    const v = this.#q.firstHeight.get(FIRST_HEIGHT_KEY)?.value;
    return v === undefined ? undefined : Number(v);
  }

  #nowMs(): bigint {
    return BigInt(this.#now().getTime());
  }

  /** One transaction: payments of blocks above `fork` go back to the mempool, and those blocks are forgotten. */
  #disconnect(fork: number): void {
    const now = this.#nowMs();
    this.#db.transaction(() => {
      // Spends recorded from those blocks (spent_by) stay: only our keys can spend our coins, so the spending
      // transaction is ours and will confirm again; if it cannot (it spent a payment that gets reversed),
      // #reverseGone frees the coins it spent.
      this.#q.disconnectPayments.run(now, fork);
      this.#q.disconnectBlocks.run(fork);
    })();
  }

  /** One transaction: the block's payments and spends, its chain_blocks row, the policy at its height, pruning. */
  #connect(height: number, hash: string, prevHash: string, txs: Transaction[], stats: Stats): void {
    const now = this.#nowMs();
    const q = this.#q;
    const result = this.#db.transaction(() => {
      let newPayments = 0;
      for (const tx of txs) {
        let txid: string | undefined;
        // Hashing every transaction of a big block is wasted work when only a few touch us: hash on demand.
        const id = (): string => (txid ??= tx.getId());
        if (!tx.isCoinbase()) {
          for (const input of tx.ins) {
            const spent = q.payment.get(displayHex(input.hash), input.index);
            if (spent && spent.spent_by !== id()) q.setSpentBy.run(id(), now, spent.txid, input.index);
          }
        }
        tx.outs.forEach((out, vout) => {
          const ours = q.addressOfScript.get(blob(out.script));
          if (!ours) return;
          if (q.payment.get(id(), vout)) {
            q.confirmPayment.run(height, hash, now, id(), vout);
          } else {
            q.insertPayment.run(id(), vout, ours.address, out.value, 'confirmed', height, hash, 0, now, now);
            newPayments++;
          }
        });
      }
      q.setFirstHeight.run(FIRST_HEIGHT_KEY, String(height));
      q.insertBlock.run(height, hash, prevHash, now);
      q.prune.run(height - this.#keepBlocks);
      return { newPayments, counted: this.#applyPolicy(height, now) };
    })();
    stats.blocks++;
    stats.newPayments += result.newPayments;
    stats.counted += result.counted;
  }

  /**
   * Counts every payment the policy now accepts (inside the caller's transaction): those with their
   * confirmations, then, in first-seen order, unconfirmed ones that may count early while they fit both caps.
   */
  #applyPolicy(tip: number | undefined, now: bigint): number {
    let n = 0;
    let budget: ZeroConfBudget | undefined;
    for (const row of this.#q.uncounted.all()) {
      const p = this.#watched(row, tip);
      let counts = p.confirmations >= this.#policy.required;
      if (!counts && row.state === 'mempool' && row.zero_conf === 1n) {
        budget ??= new ZeroConfBudget(
          (address) => this.#q.exposureOf.get(address)?.sat ?? 0n,
          this.unconfirmedCountedSat(),
          this.#policy.zeroConfMaxSat,
          this.#policy.zeroConfTotalMaxSat,
        );
        counts = budget.admit(row.address, row.value_sat);
      }
      if (counts) {
        this.#q.setCounted.run(now, p.txid, p.vout);
        this.#sink.onCounted(p);
        n++;
      }
    }
    return n;
  }

  #watched(row: PaymentRow, tip: number | undefined): WatchedPayment {
    const blockHeight = row.state === 'confirmed' && row.block_height !== null ? Number(row.block_height) : null;
    const confirmations = blockHeight !== null && tip !== undefined ? Math.max(0, tip - blockHeight + 1) : 0;
    return { txid: row.txid, vout: Number(row.vout), address: row.address, valueSat: row.value_sat, blockHeight, confirmations };
  }

  /**
   * Asks the backend about every transaction we hold as unconfirmed: those seen in the mempool (counted at
   * 0-conf or not) and those whose block was disconnected. One that the backend knows neither in a block
   * nor in its mempool was double spent (or evicted): it is reversed. One still in the mempool stays as it
   * is, counted if it was: it is a valid transaction that will confirm again, and reversing it would only
   * make the balance flap (a reorg alone does not take money away; a conflicting spend does). One the
   * backend reports confirmed sits in a block above our tip, which the next pass applies.
   * The cost is one request per unconfirmed transaction, never per address.
   */
  async #recheckUnconfirmed(stats: Stats, signal?: AbortSignal): Promise<void> {
    const gone: string[] = [];
    for (const { txid } of this.#q.mempoolTxids.all()) {
      try {
        await this.#chain.getTxStatus(txid, signal);
      } catch (e) {
        if (isAgentError(e, 'CHAIN_NOT_FOUND')) gone.push(txid);
        else throw e;
      }
    }
    if (gone.length === 0) return;
    const now = this.#nowMs();
    stats.reversed += this.#db.transaction(() => {
      let n = 0;
      for (const txid of gone) n += this.#reverseGone(txid, now);
      return n;
    })();
  }

  /** Reverses the mempool payments of a vanished transaction (inside the caller's transaction). */
  #reverseGone(txid: string, now: bigint): number {
    let n = 0;
    for (const row of this.#q.mempoolOfTx.all(txid)) {
      if (row.counted === 1n) this.#sink.onReversed(this.#watched(row, undefined));
      this.#q.reverse.run(now, row.txid, Number(row.vout));
      // A transaction that spent this output cannot confirm now either: coins of ours it also spent are free again.
      if (row.spent_by !== null) this.#q.unspend.run(now, row.spent_by);
      n++;
    }
    // The vanished transaction's own inputs: if it spent coins of ours, they are unspent again.
    this.#q.unspend.run(now, txid);
    return n;
  }

  /**
   * Polls the mempool for the host's recently quoted addresses, judges each transaction that pays us something
   * new (may it count before confirming?), then records what pays us in one transaction.
   */
  async #pollMempool(stats: Stats, signal?: AbortSignal): Promise<void> {
    const txs = new Map<string, MempoolTx>();
    for (const address of new Set(this.#mempoolAddresses())) {
      signal?.throwIfAborted();
      for (const tx of await this.#chain.getAddressMempoolTxs(address, signal)) txs.set(tx.txid, tx);
    }
    // Judged once, at first sight: a payment already recorded keeps its verdict. Parents are asked about once a pass,
    // and not at all when the policy admits nothing early (0-conf turned off, or every payment counting on sight).
    const mayCount = new Set<string>();
    const parents = new Map<string, boolean>();
    const { required, zeroConfMaxSat, zeroConfTotalMaxSat } = this.#policy;
    const judging = required > 0 && zeroConfMaxSat > 0n && zeroConfTotalMaxSat > 0n;
    for (const tx of txs.values()) {
      if (!judging || !this.#paysSomethingNew(tx)) continue;
      if (await mayCountUnconfirmed(this.#chain, tx, parents, signal)) mayCount.add(tx.txid);
    }
    const now = this.#nowMs();
    const tip = this.#q.top.get();
    const q = this.#q;
    const result = this.#db.transaction(() => {
      let newPayments = 0;
      for (const tx of txs.values()) {
        for (const input of tx.inputs) {
          const spent = q.payment.get(input.txid, input.vout);
          if (spent && spent.spent_by !== tx.txid) q.setSpentBy.run(tx.txid, now, spent.txid, input.vout);
        }
        tx.outputs.forEach((out, vout) => {
          const ours = q.addressOfScript.get(Buffer.from(out.scriptHex, 'hex'));
          if (!ours) return;
          const known = q.payment.get(tx.txid, vout);
          if (!known) {
            q.insertPayment.run(tx.txid, vout, ours.address, out.valueSat, 'mempool', null, null, mayCount.has(tx.txid) ? 1 : 0, now, now);
            newPayments++;
          } else if (known.state === 'reversed') {
            // Back in the mempool after we saw it vanish (rebroadcast): it may yet pay us, so it is pending again.
            q.resurrect.run(now, tx.txid, vout);
          }
          // Already 'mempool' or 'confirmed': a mempool sighting adds nothing (and never downgrades a confirmation).
        });
      }
      return { newPayments, counted: this.#applyPolicy(tip ? Number(tip.height) : undefined, now) };
    })();
    stats.newPayments += result.newPayments;
    stats.counted += result.counted;
  }

  /** True when `tx` has an output paying one of our addresses that no payment row holds yet. */
  #paysSomethingNew(tx: MempoolTx): boolean {
    return tx.outputs.some(
      (out, vout) => this.#q.addressOfScript.get(Buffer.from(out.scriptHex, 'hex')) !== undefined && this.#q.payment.get(tx.txid, vout) === undefined,
    );
  }

  /** Height of the last block applied, undefined before the first (the watcher-lag metric). */
  appliedHeight(): number | undefined {
    const top = this.#q.top.get();
    return top ? Number(top.height) : undefined;
  }

  // Prepared on first use, once; only unspentTotals() uses them.
  #totals: { all: Statement<[], TotalsRow>; of: Statement<[string], TotalsRow> } | undefined;

  /**
   * The sums of the wallet's coins (what unspent() lists), confirmed and not, computed in SQL without listing
   * a coin: one search of the partial index `payments_unspent` (migration 7), which holds unspent payments only,
   * so its cost follows the coins held, never the number of addresses handed out. The coins of the `except`
   * addresses (a handful: the treasury's own receive and change addresses, which it asks the chain about
   * itself) are left out, each found through `payments_address`.
   */
  unspentTotals(except: readonly string[] = []): CoinTotals {
    this.#totals ??= {
      all: this.#db.prepare(
        `SELECT state, COALESCE(SUM(value_sat), 0) AS sat, COUNT(*) AS coins FROM payments
         WHERE spent_by IS NULL AND state IN ('mempool', 'confirmed') GROUP BY state`,
      ),
      // +state: the address index finds an address's few payments; the state index would walk every coin.
      of: this.#db.prepare(
        `SELECT state, COALESCE(SUM(value_sat), 0) AS sat, COUNT(*) AS coins FROM payments
         WHERE address = ? AND spent_by IS NULL AND +state IN ('mempool', 'confirmed') GROUP BY state`,
      ),
    };
    const out: CoinTotals = { confirmedSat: 0n, unconfirmedSat: 0n, coins: 0 };
    const add = (rows: TotalsRow[], sign: bigint): void => {
      for (const r of rows) {
        if (r.state === 'confirmed') out.confirmedSat += sign * r.sat;
        else out.unconfirmedSat += sign * r.sat;
        out.coins += Number(sign * r.coins);
      }
    };
    const q = this.#totals;
    // One read transaction, so a block applied between the statements cannot make the difference wrong.
    this.#db.transaction(() => {
      add(q.all.all(), 1n);
      for (const address of new Set(except)) add(q.of.all(address), -1n);
    })();
    return out;
  }
}

interface TotalsRow {
  state: PaymentState;
  sat: bigint;
  coins: bigint;
}

/** Sums of unspent coins, in sat; `coins` is how many there are. */
export interface CoinTotals {
  confirmedSat: bigint;
  unconfirmedSat: bigint;
  coins: number;
}
