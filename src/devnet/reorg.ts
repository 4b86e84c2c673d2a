/**
 * The reorg simulator: rewinds blocks and mines a longer competing branch, optionally with a
 * double spend of faucet payments, then puts the surviving transactions back in the mempool as
 * bitcoind does.
 */
import bcoin from 'bcoin';
import { AgentError } from '../errors/index.ts';
import { isVerifyError } from './core-errors.ts';
import { faucetConflict } from './faucet.ts';
import { rev, type NodeParts } from './regtest.ts';

/**
 * Rewinds `depth` blocks and mines `newBlocks` (> depth) on the fork point, so the new branch wins.
 * Transactions of the rewound blocks go back to the mempool (as bitcoind does), except the ones in
 * `doubleSpend` and their descendants: for each of those, a transaction spending the same faucet
 * inputs back to the faucet is mined in the first new block, so the original can never confirm.
 * A doubleSpend txid may also be in the mempool (then `depth` may be 0).
 * @returns the new height and the removed blocks' hashes, oldest first.
 * @throws AgentError BAD_REQUEST for a depth or txid it cannot honour, NOT_FOUND for an unknown txid.
 */
export async function reorg(parts: NodeParts, depth: number, newBlocks: number, doubleSpend: string[]): Promise<{ height: number; removed: string[] }> {
  const { chain, mempool } = parts;
  const tip = chain.tip;
  if (depth > tip.height) throw new AgentError('BAD_REQUEST', `depth ${depth} is beyond the genesis block (height ${tip.height})`);
  if (newBlocks <= depth) throw new AgentError('BAD_REQUEST', `newBlocks (${newBlocks}) must exceed depth (${depth}) for the new branch to win`);
  const forkHeight = tip.height - depth;
  const fork = await chain.getEntryByHeight(forkHeight);
  if (!fork) throw new AgentError('INTERNAL', `no block at height ${forkHeight}`);

  // What leaves the chain, in chain order, and what the mempool holds now.
  const removed: string[] = [];
  const rewound: bcoin.TX[] = [];
  const rewoundCoinbase = new Set<string>();
  for (let h = forkHeight + 1; h <= tip.height; h++) {
    const entry = await chain.getEntryByHeight(h);
    const block = entry ? await chain.getBlock(entry.hash) : null;
    if (!entry || !block) throw new AgentError('INTERNAL', `block at height ${h} is missing`);
    removed.push(entry.rhash());
    for (const tx of block.txs) {
      if (tx.isCoinbase()) rewoundCoinbase.add(tx.hash('hex'));
      else rewound.push(tx);
    }
  }
  const pool = [...mempool.map.values()].map((e) => e.tx);
  const known = new Map<string, bcoin.TX>();
  for (const tx of [...rewound, ...pool]) known.set(tx.hash('hex'), tx);

  // The double-spent transactions and everything that spends their outputs.
  const targets = new Set<string>();
  for (const txid of doubleSpend) {
    const hash = rev(txid);
    if (!known.has(hash)) {
      if (await chain.getMeta(hash)) throw new AgentError('BAD_REQUEST', `${txid} is confirmed below the fork point; reorg deeper to double-spend it`);
      throw new AgentError('NOT_FOUND', `transaction ${txid} is neither in the rewound blocks nor in the mempool`);
    }
    targets.add(hash);
  }
  const dead = new Set(targets);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [hash, tx] of known) {
      if (!dead.has(hash) && tx.inputs.some((i) => dead.has(i.prevout.hash))) {
        dead.add(hash);
        grew = true;
      }
    }
  }

  // Conflicts for targets that are not already dead through an ancestor, with the unconfirmed
  // ancestors their inputs need, parents first.
  const branchTxs: bcoin.TX[] = [];
  const view = new bcoin.CoinView();
  const placed = new Set<string>();
  const place = async (tx: bcoin.TX, target: string): Promise<void> => {
    const why = `cannot double-spend ${rev(target)}`;
    for (const input of tx.inputs) {
      const { hash: parent, index } = input.prevout;
      let parentTx = known.get(parent) ?? null;
      if (parentTx) {
        if (dead.has(parent)) throw new AgentError('BAD_REQUEST', `${why}: it depends on a double-spent transaction`);
        if (!placed.has(parent)) await place(parentTx, target);
      } else {
        if (rewoundCoinbase.has(parent)) throw new AgentError('BAD_REQUEST', `${why}: it spends a coinbase of a rewound block`);
        const meta = await chain.getMeta(parent);
        if (!meta || meta.height > forkHeight) throw new AgentError('BAD_REQUEST', `${why}: input ${rev(parent)}:${index} is unknown`);
        parentTx = meta.tx;
      }
      view.addCoin(bcoin.Coin.fromTX(parentTx, index, -1));
    }
    placed.add(tx.hash('hex'));
    branchTxs.push(tx);
  };
  for (const hash of targets) {
    const original = known.get(hash);
    if (!original || original.inputs.some((i) => dead.has(i.prevout.hash))) continue;
    const conflict = await faucetConflict(parts, original, known);
    await place(conflict, hash);
  }

  evict(mempool, dead);

  let prev = fork;
  for (let i = 0; i < newBlocks; i++) {
    const job = await parts.branchMiner.createJob(prev, parts.faucetAddr);
    if (i === 0) {
      for (const tx of branchTxs) job.pushTX(tx, view);
      job.refresh();
    }
    const block = await parts.branchMiner.cpu.mineAsync(job);
    if (!block) throw new AgentError('INTERNAL', 'mining a branch block was interrupted');
    const entry = await chain.add(block);
    if (!entry) throw new AgentError('INTERNAL', 'a branch block did not connect');
    prev = entry;
  }
  if (chain.tip.hash !== prev.hash) throw new AgentError('INTERNAL', 'the new branch did not become the best chain');

  await restoreMempool(parts, [...rewound, ...pool].filter((tx) => !dead.has(tx.hash('hex'))));
  evict(mempool, dead);
  return { height: chain.height, removed };
}

function evict(mempool: bcoin.Mempool, hashes: Set<string>): void {
  for (const hash of hashes) {
    const entry = mempool.getEntry(hash);
    if (entry) mempool.evictEntry(entry);
  }
}

/**
 * Puts transactions back into the mempool after a reorg. bcoin re-adds a rewound block's
 * transactions only when its mempool is non-empty at that moment, so we do it ourselves; a
 * transaction whose parent is not back yet is retried in the next round, one that cannot return
 * (its input was spent on the new branch) is dropped, as bitcoind drops it.
 */
async function restoreMempool(parts: NodeParts, txs: bcoin.TX[]): Promise<void> {
  const { chain, mempool } = parts;
  let pending = txs;
  while (pending.length > 0) {
    const next: bcoin.TX[] = [];
    for (const tx of pending) {
      const hash = tx.hash('hex');
      if (mempool.hasEntry(hash) || (await chain.getMeta(hash))) continue;
      try {
        if (await mempool.addTX(tx)) {
          mempool.removeOrphan(hash);
          next.push(tx);
        }
      } catch (e) {
        if (!isVerifyError(e)) throw e;
      }
    }
    if (next.length === pending.length) break;
    pending = next;
  }
}
