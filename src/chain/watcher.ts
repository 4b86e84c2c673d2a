/**
 * The payment watcher (docs/payments.md): follows the best chain block by block, records every output
 * paying one of the wallet's addresses, and tells a sink when a payment is accepted by the confirmation
 * policy (counted) or leaves the chain after having been counted (reversed).
 *
 * Why it is built this way:
 * - Detection does not scale with the number of addresses. Each new block is fetched whole and every
 *   output script is looked up in the UNIQUE index on `wallet_addresses.script` (one indexed lookup per
 *   output), so a million dormant addresses cost nothing per block (`npm run bench -- watcher` measures it).
 *   Only open quotes' addresses are polled for mempool (0-conf) payments, a bounded page of them per pass,
 *   in turn (the host's mempoolAddresses), so quote spam cannot lengthen a pass.
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
 *
 * The pieces: src/chain/follow.ts follows the chain and its reorgs, src/chain/mempool.ts re-checks and polls
 * the mempool, src/chain/policy.ts counts what the policy accepts, and src/chain/repository.ts holds every
 * statement they run. This class runs a pass and answers the read-side questions.
 */
import { follow } from './follow.ts';
import { pollMempool, recheckUnconfirmed } from './mempool.ts';
import { requireCount, requireSat, type WatcherContext } from './policy.ts';
import { ChainRepository } from './repository.ts';
import type { CoinTotals, PaymentWatcherOptions, ReceivedTotals, Stats, SyncResult, UnspentPayment } from './watcher-types.ts';
import type { Job } from '../scheduler/index.ts';

// How often one pass re-reads the tip when the chain changes while it is being followed; the rest waits for the next pass.
const MAX_FOLLOW_ATTEMPTS = 5;
const DEFAULT_KEEP_BLOCKS = 144;

/**
 * Follows the chain and the mempool for payments to the wallet's addresses. See the module comment.
 */
export class PaymentWatcher {
  readonly #ctx: WatcherContext;
  readonly #repo: ChainRepository;
  #running: Promise<SyncResult> | undefined;

  /** @throws AgentError CONFIG_INVALID for a policy or keepBlocks out of range */
  constructor(opts: PaymentWatcherOptions) {
    const required = requireCount(opts.policy.required, 'confirmations.required', 0);
    const zeroConfMaxSat = requireSat(opts.policy.zeroConfMaxSat, 'confirmations.zeroConfMaxSat');
    const zeroConfTotalMaxSat = requireSat(opts.policy.zeroConfTotalMaxSat ?? zeroConfMaxSat, 'confirmations.zeroConfTotalMaxSat');
    const keepBlocks = requireCount(opts.keepBlocks ?? DEFAULT_KEEP_BLOCKS, 'keepBlocks', 1);
    const now = opts.now ?? (() => new Date());
    this.#repo = new ChainRepository(opts.db);
    this.#ctx = {
      repo: this.#repo,
      chain: opts.chain,
      ours: opts.ours,
      policy: { required, zeroConfMaxSat, zeroConfTotalMaxSat },
      sink: opts.sink,
      keepBlocks,
      mempoolAddresses: opts.mempoolAddresses ?? (() => []),
      zeroConfAllowed: opts.zeroConfAllowed ?? (() => true),
      startHeight: opts.startHeight ?? (() => undefined),
      nowMs: () => BigInt(now().getTime()),
    };
  }

  /** The watcher's scheduled pass, every ten seconds: idempotent, so a catch-up or a manual run is harmless. */
  job(): Job {
    return {
      name: 'watcher',
      cron: '*/10 * * * * *',
      everySeconds: 10,
      run: async ({ signal }) => {
        const r = await this.sync(signal);
        return `tip ${r.tip}: ${r.blocks} block(s), ${r.newPayments} new payment(s), ${r.counted} counted, ${r.reversed} reversed${r.reorgDepth ? `, reorg depth ${r.reorgDepth}` : ''}`;
      },
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
    const r = this.#repo.received(address);
    return { receivedSat: r?.received ?? 0n, confirmedSat: r?.confirmed ?? 0n, countedSat: r?.counted ?? 0n };
  }

  /**
   * The agent's unconfirmed exposure in sat: payments that count (were credited) and are not in a block of the
   * best chain, whether counted at 0-conf or sent back to the mempool by a reorg. What a double spend could still
   * take back; the policy keeps what it admits at 0-conf within `zeroConfTotalMaxSat`.
   */
  unconfirmedCountedSat(): bigint {
    return this.#repo.exposure();
  }

  /**
   * The wallet's coins: payments not reversed and not spent by a transaction seen in a block or in a polled
   * mempool transaction, confirmed ones first, oldest first.
   */
  unspent(): UnspentPayment[] {
    return this.#repo.unspent().map((r) => ({
      txid: r.txid,
      vout: Number(r.vout),
      address: r.address,
      valueSat: r.value_sat,
      confirmed: r.state === 'confirmed',
    }));
  }

  /** Height of the last block applied, undefined before the first (the watcher-lag metric). */
  appliedHeight(): number | undefined {
    return this.#repo.top()?.height;
  }

  /**
   * The sums of the wallet's coins (what unspent() lists), confirmed and not, computed in SQL without listing
   * a coin: one search of the partial index `payments_unspent` (src/chain/schema.ts), which holds unspent payments only,
   * so its cost follows the coins held, never the number of addresses handed out. The coins of the `except`
   * addresses (a handful: the treasury's own receive and change addresses, which it asks the chain about
   * itself) are left out, each found through `payments_address`.
   */
  unspentTotals(except: readonly string[] = []): CoinTotals {
    return this.#repo.unspentTotals(except);
  }

  async #pass(signal?: AbortSignal): Promise<SyncResult> {
    signal?.throwIfAborted();
    const ctx = this.#ctx;
    const stats: Stats = { blocks: 0, newPayments: 0, counted: 0, reversed: 0, reorgDepth: 0 };
    let tip = await ctx.chain.getTipHeight(signal);
    for (let attempt = 1; ; attempt++) {
      const done = await follow(ctx, tip, stats, signal);
      // The chain changed while we followed it (a block vanished under us): read the new tip and look again.
      // After a few tries leave it to the next pass rather than chase a chain that keeps moving.
      if (done || attempt >= MAX_FOLLOW_ATTEMPTS) break;
      tip = await ctx.chain.getTipHeight(signal);
    }
    await recheckUnconfirmed(ctx, stats, signal);
    await pollMempool(ctx, stats, signal);
    return { tip: this.#repo.top()?.height ?? tip, ...stats };
  }
}
