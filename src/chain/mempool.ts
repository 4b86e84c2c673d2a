/**
 * The payment watcher's look at the mempool (docs/payments.md): re-checking the transactions it holds as
 * unconfirmed (reversing those that vanished), and polling the host's recently quoted addresses for new ones.
 * Network I/O happens before each SQLite transaction, never inside one.
 */
import { isAgentError } from '../errors/index.ts';
import { applyPolicy, watched, type WatcherContext } from './policy.ts';
import type { MempoolTx } from './types.ts';
import type { Stats } from './watcher-types.ts';
import { mayCountUnconfirmed } from './zeroconf.ts';

/**
 * Asks the backend about every transaction we hold as unconfirmed: those seen in the mempool (counted at
 * 0-conf or not) and those whose block was disconnected. One that the backend knows neither in a block
 * nor in its mempool was double spent (or evicted): it is reversed. One still in the mempool stays as it
 * is, counted if it was: it is a valid transaction that will confirm again, and reversing it would only
 * make the balance flap (a reorg alone does not take money away; a conflicting spend does). One the
 * backend reports confirmed sits in a block above our tip, which the next pass applies.
 * The cost is one request per unconfirmed transaction, never per address.
 */
export async function recheckUnconfirmed(ctx: WatcherContext, stats: Stats, signal?: AbortSignal): Promise<void> {
  const gone: string[] = [];
  for (const txid of ctx.repo.mempoolTxids()) {
    try {
      await ctx.chain.getTxStatus(txid, signal);
    } catch (e) {
      if (isAgentError(e, 'CHAIN_NOT_FOUND')) gone.push(txid);
      else throw e;
    }
  }
  if (gone.length === 0) return;
  const now = ctx.nowMs();
  stats.reversed += ctx.repo.transaction(() => {
    let n = 0;
    for (const txid of gone) n += reverseGone(ctx, txid, now);
    return n;
  });
}

/** Reverses the mempool payments of a vanished transaction (inside the caller's transaction). */
function reverseGone(ctx: WatcherContext, txid: string, now: bigint): number {
  const { repo, sink } = ctx;
  let n = 0;
  for (const row of repo.mempoolOfTx(txid)) {
    if (row.counted === 1n) sink.onReversed(watched(row, undefined));
    repo.reverse(row.txid, Number(row.vout), now);
    // A transaction that spent this output cannot confirm now either: coins of ours it also spent are free again.
    if (row.spent_by !== null) repo.unspend(row.spent_by, now);
    n++;
  }
  // The vanished transaction's own inputs: if it spent coins of ours, they are unspent again.
  repo.unspend(txid, now);
  return n;
}

/**
 * Polls the mempool for the host's recently quoted addresses, judges each transaction that pays us something
 * new (may it count before confirming?), then records what pays us in one transaction.
 */
export async function pollMempool(ctx: WatcherContext, stats: Stats, signal?: AbortSignal): Promise<void> {
  const { repo, chain } = ctx;
  const txs = new Map<string, MempoolTx>();
  for (const address of new Set(ctx.mempoolAddresses())) {
    signal?.throwIfAborted();
    for (const tx of await chain.getAddressMempoolTxs(address, signal)) txs.set(tx.txid, tx);
  }
  // Judged once, at first sight: a payment already recorded keeps its verdict. Parents are asked about once a pass,
  // and not at all when the policy admits nothing early (0-conf turned off, or every payment counting on sight).
  const mayCount = new Set<string>();
  const parents = new Map<string, boolean>();
  const { required, zeroConfMaxSat, zeroConfTotalMaxSat } = ctx.policy;
  const judging = required > 0 && zeroConfMaxSat > 0n && zeroConfTotalMaxSat > 0n;
  for (const tx of txs.values()) {
    if (!judging || !paysSomethingNew(ctx, tx)) continue;
    if (await mayCountUnconfirmed(chain, tx, parents, signal)) mayCount.add(tx.txid);
  }
  const now = ctx.nowMs();
  const tip = repo.top();
  const ours = ctx.ours;
  const result = repo.transaction(() => {
    let newPayments = 0;
    for (const tx of txs.values()) {
      for (const input of tx.inputs) {
        const spent = repo.payment(input.txid, input.vout);
        if (spent && spent.spent_by !== tx.txid) repo.setSpentBy(spent.txid, input.vout, tx.txid, now);
      }
      tx.outputs.forEach((out, vout) => {
        const address = ours(Buffer.from(out.scriptHex, 'hex'));
        if (address === undefined) return;
        const known = repo.payment(tx.txid, vout);
        if (!known) {
          repo.insertPayment({
            txid: tx.txid,
            vout,
            address,
            valueSat: out.valueSat,
            state: 'mempool',
            blockHeight: null,
            blockHash: null,
            zeroConf: mayCount.has(tx.txid) && ctx.zeroConfAllowed(address),
            now,
          });
          newPayments++;
        } else if (known.state === 'reversed') {
          // Back in the mempool after we saw it vanish (rebroadcast): it may yet pay us, so it is pending again.
          repo.resurrect(tx.txid, vout, now);
        }
        // Already 'mempool' or 'confirmed': a mempool sighting adds nothing (and never downgrades a confirmation).
      });
    }
    return { newPayments, counted: applyPolicy(ctx, tip?.height, now) };
  });
  stats.newPayments += result.newPayments;
  stats.counted += result.counted;
}

/** True when `tx` has an output paying one of our addresses that no payment row holds yet. */
function paysSomethingNew(ctx: WatcherContext, tx: MempoolTx): boolean {
  return tx.outputs.some(
    (out, vout) => ctx.ours(Buffer.from(out.scriptHex, 'hex')) !== undefined && ctx.repo.payment(tx.txid, vout) === undefined,
  );
}
