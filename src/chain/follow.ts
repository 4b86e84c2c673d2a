/**
 * The payment watcher following the best chain (docs/payments.md): block by block to the backend's tip, and
 * back to the fork point on a reorg. Each block is applied in one SQLite transaction together with its
 * `chain_blocks` row and the sink's credits, so a kill -9 resumes exactly after the last whole block and never
 * credits twice. Network I/O always happens before a transaction, never inside one.
 */
import { Block } from 'bitcoinjs-lib';
import type { Transaction } from 'bitcoinjs-lib';
import { AgentError, isAgentError } from '../errors/index.ts';
import { applyPolicy, requireCount, type WatcherContext } from './policy.ts';
import type { Stats } from './watcher-types.ts';

/** A 32-byte hash in internal byte order -> display hex (what txids and block ids are written as). */
function displayHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

/** Bind a Uint8Array as a BLOB without copying it. */
function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Brings the stored chain to the backend's block at `tip`: finds the fork point, disconnects above it,
 * connects up to the tip. Returns false when the backend's chain moved under it (try again).
 */
export async function follow(ctx: WatcherContext, tip: number, stats: Stats, signal?: AbortSignal): Promise<boolean> {
  const top = ctx.repo.top();
  let next: number;
  let prevHash: string | undefined;
  if (top) {
    const topHeight = top.height;
    const fork = await findFork(ctx, topHeight, tip, signal);
    if (fork === undefined) return false;
    // The backend's best chain is a prefix of ours (its tip is below our top and matches there): a backend
    // that lags behind (another electrs instance, a restart), not a reorg. A real reorg replaces blocks, so
    // a new block at or below the backend's tip would differ from ours. Wait instead of disconnecting.
    if (fork === tip && tip < topHeight) return true;
    if (fork < topHeight) {
      disconnect(ctx, fork);
      stats.reorgDepth = Math.max(stats.reorgDepth, topHeight - fork);
    }
    next = fork + 1;
    prevHash = ctx.repo.hashAt(fork);
  } else {
    next = beginAt(ctx, tip);
  }
  for (let h = next; h <= tip; h++) {
    signal?.throwIfAborted();
    let hash: string;
    try {
      hash = await ctx.chain.getBlockHash(h, signal);
    } catch (e) {
      if (isAgentError(e, 'CHAIN_NOT_FOUND')) return false; // the tip went down since we read it
      throw e;
    }
    const raw = await ctx.chain.getBlockRaw(hash, signal);
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
    connect(ctx, h, hash, prev, block.transactions, stats);
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
async function findFork(ctx: WatcherContext, topHeight: number, tip: number, signal?: AbortSignal): Promise<number | undefined> {
  const lowest = ctx.repo.lowestHeight() ?? topHeight;
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
    const stored = ctx.repo.hashAt(h);
    if (stored === undefined) break; // heights are contiguous; a gap would mean the table was edited by hand
    let remote: string;
    try {
      remote = await ctx.chain.getBlockHash(h, signal);
    } catch (e) {
      if (isAgentError(e, 'CHAIN_NOT_FOUND')) return undefined;
      throw e;
    }
    if (remote === stored) return h;
  }
  const first = ctx.repo.firstHeight();
  // Nothing below the first block we ever scanned could have paid us, so a fork below it just means
  // scanning again from there. Below a pruned block, payments we no longer know of may have left the chain.
  if (first !== undefined && lowest <= first) return first - 1;
  throw new AgentError(
    'REORG_TOO_DEEP',
    `the best chain no longer contains any of the last ${topHeight - lowest + 1} blocks the watcher applied (heights ${lowest}..${topHeight}); ` +
      `a reorg deeper than keepBlocks (${ctx.keepBlocks}) needs an operator: check the chain backend, then rescan`,
    { lowest, top: topHeight, keepBlocks: ctx.keepBlocks },
  );
}

/** Where to begin with no stored block: where we first began (after a reorg below it), else startHeight(), else the tip. */
function beginAt(ctx: WatcherContext, tip: number): number {
  const first = ctx.repo.firstHeight();
  if (first !== undefined) return first;
  const start = ctx.startHeight();
  if (start === undefined) return tip;
  return requireCount(start, 'startHeight', 0);
}

/** One transaction: payments of blocks above `fork` go back to the mempool, and those blocks are forgotten. */
function disconnect(ctx: WatcherContext, fork: number): void {
  const now = ctx.nowMs();
  // Spends recorded from those blocks (spent_by) stay: only our keys can spend our coins, so the spending
  // transaction is ours and will confirm again; if it cannot (it spent a payment that gets reversed),
  // reverseGone (src/chain/mempool.ts) frees the coins it spent.
  ctx.repo.transaction(() => ctx.repo.disconnectAbove(fork, now));
}

/** One transaction: the block's payments and spends, its chain_blocks row, the policy at its height, pruning. */
function connect(ctx: WatcherContext, height: number, hash: string, prevHash: string, txs: Transaction[], stats: Stats): void {
  const now = ctx.nowMs();
  const { repo, ours } = ctx;
  const result = repo.transaction(() => {
    let newPayments = 0;
    for (const tx of txs) {
      let txid: string | undefined;
      // Hashing every transaction of a big block is wasted work when only a few touch us: hash on demand.
      const id = (): string => (txid ??= tx.getId());
      if (!tx.isCoinbase()) {
        for (const input of tx.ins) {
          const spent = repo.payment(displayHex(input.hash), input.index);
          if (spent && spent.spent_by !== id()) repo.setSpentBy(spent.txid, input.index, id(), now);
        }
      }
      tx.outs.forEach((out, vout) => {
        const address = ours(blob(out.script));
        if (address === undefined) return;
        if (repo.payment(id(), vout)) {
          repo.confirmPayment(id(), vout, height, hash, now);
        } else {
          repo.insertPayment({ txid: id(), vout, address, valueSat: out.value, state: 'confirmed', blockHeight: height, blockHash: hash, zeroConf: false, now });
          newPayments++;
        }
      });
    }
    repo.addBlock(height, hash, prevHash, now, ctx.keepBlocks);
    return { newPayments, counted: applyPolicy(ctx, height, now) };
  });
  stats.blocks++;
  stats.newPayments += result.newPayments;
  stats.counted += result.counted;
}
