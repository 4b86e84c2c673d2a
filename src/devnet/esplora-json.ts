/**
 * The JSON shapes of Blockstream's esplora/electrs for transactions, blocks and their status, built
 * from the node's records. Where we differ from esplora: no `*_asm` fields and no
 * `inner_*script_asm` (nothing here reads them).
 */
import { Block, Transaction } from 'bitcoinjs-lib';
import { satToJson } from '../money/index.ts';
import { scriptToAddress, scriptType } from './address.ts';
import type { PrevOut, TxRecord, TxStatus, UtxoRecord } from './queries.ts';

export function statusJson(s: TxStatus): Record<string, unknown> {
  if (!s.confirmed) return { confirmed: false };
  return { confirmed: true, block_height: s.blockHeight, block_hash: s.blockHash, block_time: s.blockTime };
}

export function utxoJson(u: UtxoRecord): Record<string, unknown> {
  return { txid: u.txid, vout: u.vout, status: statusJson(u.status), value: satToJson(u.value) };
}

function outputJson(script: Uint8Array, value: bigint): Record<string, unknown> {
  const buf = Buffer.from(script);
  const address = scriptToAddress(buf);
  return {
    scriptpubkey: buf.toString('hex'),
    scriptpubkey_type: scriptType(buf),
    ...(address !== undefined ? { scriptpubkey_address: address } : {}),
    value: satToJson(value),
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const reversedHex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).reverse().toString('hex') : '');

export function txJson(r: TxRecord): Record<string, unknown> {
  const tx = Transaction.fromBuffer(r.raw);
  const coinbase = tx.isCoinbase();
  const known = r.prevouts.filter((p): p is PrevOut => p !== null);
  const inValue = known.reduce((s, p) => s + p.value, 0n);
  const outValue = tx.outs.reduce((s, o) => s + o.value, 0n);
  const fee = coinbase || known.length !== tx.ins.length ? 0n : inValue - outValue;
  return {
    txid: r.txid,
    version: tx.version,
    locktime: tx.locktime,
    vin: tx.ins.map((input, i) => {
      const prev = r.prevouts[i];
      return {
        txid: reversedHex(input.hash),
        vout: input.index,
        prevout: prev ? outputJson(prev.script, prev.value) : null,
        scriptsig: hex(input.script),
        // electrs omits `witness` for an input without one
        ...(input.witness.length > 0 ? { witness: input.witness.map(hex) } : {}),
        is_coinbase: coinbase,
        sequence: input.sequence,
      };
    }),
    vout: tx.outs.map((o) => outputJson(o.script, o.value)),
    size: r.raw.length,
    weight: tx.weight(),
    fee: satToJson(fee),
    status: statusJson(r.status),
  };
}

/** Difficulty relative to the minimum (bits 0x1d00ffff), as bitcoind's GetDifficulty computes it. */
function difficulty(bits: number): number {
  const exponent = bits >>> 24;
  const mantissa = bits & 0xffffff;
  return (0xffff / mantissa) * 256 ** (0x1d - exponent);
}

export function blockJson(hash: string, height: number, medianTime: number, prevHash: string | null, raw: Buffer): Record<string, unknown> {
  const block = Block.fromBuffer(raw);
  return {
    id: hash,
    height,
    version: block.version,
    timestamp: block.timestamp,
    tx_count: block.transactions?.length ?? 0,
    size: raw.length,
    weight: block.weight(),
    merkle_root: reversedHex(block.merkleRoot),
    previousblockhash: prevHash,
    mediantime: medianTime,
    nonce: block.nonce,
    bits: block.bits,
    difficulty: difficulty(block.bits),
  };
}

/** The txids of a raw block, in block order. */
export function blockTxids(raw: Buffer): string[] {
  return (Block.fromBuffer(raw).transactions ?? []).map((t) => t.getId());
}
