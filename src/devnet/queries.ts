/**
 * What the Esplora facade asks the node: blocks, transactions with their prevouts, and an address's
 * unspent outputs and history, read from bcoin's chain indexes and mempool.
 */
import type bcoin from 'bcoin';
import { addressForScript, rev, type NodeParts } from './regtest.ts';

export interface PrevOut {
  script: Buffer;
  value: bigint;
}

export interface TxStatus {
  confirmed: boolean;
  blockHeight?: number;
  blockHash?: string;
  blockTime?: number;
}

export interface TxRecord {
  txid: string;
  raw: Buffer;
  /** One per input; null for a coinbase input or a parent the node does not know. */
  prevouts: (PrevOut | null)[];
  status: TxStatus;
}

export interface BlockRecord {
  hash: string;
  height: number;
  medianTime: number;
  prevHash: string | null;
  raw: Buffer;
  inBestChain: boolean;
  nextBest: string | null;
}

export interface UtxoRecord {
  txid: string;
  vout: number;
  value: bigint;
  status: TxStatus;
}

export interface AddressHistory {
  /** Newest first. */
  mempool: TxRecord[];
  /** Newest first (by height, then position in the block). */
  confirmed: TxRecord[];
}

/** Hash of the best-chain block at `height`, or null beyond the tip. */
export async function blockHashAt(parts: NodeParts, height: number): Promise<string | null> {
  return (await parts.chain.getEntryByHeight(height))?.rhash() ?? null;
}

/** A block of the best chain or of a losing branch, or null. */
export async function block(parts: NodeParts, hash: string): Promise<BlockRecord | null> {
  const { chain } = parts;
  const internal = rev(hash);
  const entry = await chain.getEntryByHash(internal);
  if (!entry) return null;
  const raw = await chain.getRawBlock(internal);
  if (!raw) return null;
  const inBestChain = await chain.isMainChain(entry);
  const next = inBestChain ? await chain.getNextHash(internal) : null;
  return {
    hash,
    height: entry.height,
    medianTime: await chain.getMedianTime(entry),
    prevHash: entry.height === 0 ? null : rev(entry.prevBlock),
    raw,
    inBestChain,
    nextBest: next ? rev(next) : null,
  };
}

/** A mempool or best-chain transaction, or null. */
export async function tx(parts: NodeParts, txid: string): Promise<TxRecord | null> {
  const hash = rev(txid);
  const entry = parts.mempool.getEntry(hash);
  if (entry) return record(parts, entry.tx, { confirmed: false });
  // bcoin's tx index holds best-chain transactions only (a disconnect un-indexes them).
  const meta = await parts.chain.getMeta(hash);
  return meta ? record(parts, meta.tx, confirmedStatus(meta)) : null;
}

/** Unspent outputs paying exactly `script`, mempool ones included and mempool-spent ones excluded (as esplora). */
export async function utxos(parts: NodeParts, script: Buffer): Promise<UtxoRecord[]> {
  const { chain, mempool } = parts;
  const addr = addressForScript(script);
  if (!addr) return [];
  const out: UtxoRecord[] = [];
  for (const c of mempool.getCoinsByAddress([addr])) {
    if (!c.script.toRaw().equals(script)) continue;
    out.push({ txid: rev(c.hash), vout: c.index, value: BigInt(c.value), status: { confirmed: false } });
  }
  const confirmed = (await chain.getCoinsByAddress([addr])).sort((a, b) => b.height - a.height);
  for (const c of confirmed) {
    if (!c.script.toRaw().equals(script) || mempool.isSpent(c.hash, c.index)) continue;
    const entry = await chain.getEntryByHeight(c.height);
    out.push({
      txid: rev(c.hash),
      vout: c.index,
      value: BigInt(c.value),
      status: { confirmed: true, blockHeight: c.height, blockHash: entry?.rhash(), blockTime: entry?.time },
    });
  }
  return out;
}

/** Every transaction that pays or spends `script`. */
export async function history(parts: NodeParts, script: Buffer): Promise<AddressHistory> {
  const { chain, mempool: pool } = parts;
  const addr = addressForScript(script);
  if (!addr) return { mempool: [], confirmed: [] };
  const touches = (r: TxRecord, t: bcoin.TX): boolean =>
    t.outputs.some((o) => o.script.toRaw().equals(script)) || r.prevouts.some((p) => p?.script.equals(script) === true);

  const mempool: { record: TxRecord; time: number; order: number }[] = [];
  let order = 0;
  for (const t of pool.getTXByAddress([addr])) {
    const r = await record(parts, t, { confirmed: false });
    if (touches(r, t)) mempool.push({ record: r, time: pool.getEntry(t.hash('hex'))?.time ?? 0, order: order++ });
  }
  mempool.sort((a, b) => b.time - a.time || b.order - a.order);

  const confirmed: { record: TxRecord; height: number; index: number }[] = [];
  for (const meta of await chain.getMetaByAddress([addr])) {
    const r = await record(parts, meta.tx, confirmedStatus(meta));
    if (touches(r, meta.tx)) confirmed.push({ record: r, height: meta.height, index: meta.index });
  }
  confirmed.sort((a, b) => b.height - a.height || b.index - a.index);
  return { mempool: mempool.map((m) => m.record), confirmed: confirmed.map((c) => c.record) };
}

function confirmedStatus(meta: bcoin.TXMeta): TxStatus {
  return { confirmed: true, blockHeight: meta.height, blockHash: rev(meta.block), blockTime: meta.time };
}

async function record(parts: NodeParts, t: bcoin.TX, status: TxStatus): Promise<TxRecord> {
  const prevouts: (PrevOut | null)[] = [];
  for (const input of t.inputs) {
    if (t.isCoinbase()) {
      prevouts.push(null);
      continue;
    }
    const { hash, index } = input.prevout;
    const parent = parts.mempool.getTX(hash) ?? (await parts.chain.getTX(hash));
    const output = parent?.outputs[index];
    prevouts.push(output ? { script: output.script.toRaw(), value: BigInt(output.value) } : null);
  }
  return { txid: t.txid(), raw: t.toRaw(), prevouts, status };
}
