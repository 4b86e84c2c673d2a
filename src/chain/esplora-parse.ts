/**
 * The shapes of Esplora's answers (Blockstream's esplora/API.md) parsed into the chain module's types, and a
 * node's rejection of a broadcast read into one line. Every answer is untrusted: a field that is missing or
 * of another shape is CHAIN_BAD_RESPONSE (./validate.ts), and a transaction described in JSON is rebuilt and
 * re-hashed against its txid.
 */
import { Transaction } from 'bitcoinjs-lib';
import { printable } from '../net/index.ts';
import type { MempoolTx, TxStatus } from './types.ts';
import { badResponse, readArray, readBoolean, readHash, readHex, readInteger, readObject, readOptional, readSat, readString, signalsReplacement } from './validate.ts';

/** A node's rejection as one printable line; Esplora wraps bitcoind's `{"code","message"}` in text. */
export function rejectionReason(text: string): { reason: string; rpcCode?: number } {
  const brace = text.indexOf('{');
  if (brace >= 0) {
    try {
      const j = JSON.parse(text.slice(brace)) as unknown;
      if (typeof j === 'object' && j !== null && 'message' in j && typeof j.message === 'string') {
        const code = 'code' in j && typeof j.code === 'number' && Number.isSafeInteger(j.code) ? j.code : undefined;
        return { reason: printable(j.message), ...(code === undefined ? {} : { rpcCode: code }) };
      }
    } catch {
      // not JSON after all: fall through to the whole text
    }
  }
  return { reason: printable(text) || 'no reason given' };
}

/** Parses an Esplora status object; a confirmed status must name its block. */
export function readStatus(value: unknown, at: string): TxStatus {
  const o = readObject(value, at);
  if (!readBoolean(o.confirmed, `${at}.confirmed`)) return { confirmed: false };
  const status: TxStatus = {
    confirmed: true,
    blockHeight: readInteger(o.block_height, `${at}.block_height`),
    blockHash: readHash(o.block_hash, `${at}.block_hash`),
  };
  const blockTime = readOptional(o.block_time, (v) => readInteger(v, `${at}.block_time`));
  if (blockTime !== undefined) status.blockTime = blockTime;
  return status;
}

export function readMempoolTx(value: unknown, at: string): MempoolTx {
  const o = readObject(value, at);
  const txid = readHash(o.txid, `${at}.txid`);
  // Esplora prints version as a signed or (older electrs) unsigned 32-bit number; both serialize the same.
  const rawVersion = readInteger(o.version, `${at}.version`, -0x8000_0000, 0xffff_ffff);
  const tx = new Transaction();
  tx.version = rawVersion > 0x7fff_ffff ? rawVersion - 0x1_0000_0000 : rawVersion;
  tx.locktime = readInteger(o.locktime, `${at}.locktime`, 0, 0xffff_ffff);
  const inputs = readArray(o.vin, `${at}.vin`).map((item, i) => {
    const w = `${at}.vin[${i}]`;
    const input = readObject(item, w);
    const prevTxid = readHash(input.txid, `${w}.txid`);
    const vout = readInteger(input.vout, `${w}.vout`, 0, 0xffff_ffff);
    const sequence = readInteger(input.sequence, `${w}.sequence`, 0, 0xffff_ffff);
    const scriptSig = readHex(input.scriptsig, `${w}.scriptsig`);
    tx.addInput(Buffer.from(prevTxid, 'hex').reverse(), vout, sequence, Buffer.from(scriptSig, 'hex'));
    return { txid: prevTxid, vout, sequence };
  });
  const outputs = readArray(o.vout, `${at}.vout`).map((item, i) => {
    const w = `${at}.vout[${i}]`;
    const output = readObject(item, w);
    const scriptHex = readHex(output.scriptpubkey, `${w}.scriptpubkey`);
    const valueSat = readSat(output.value, `${w}.value`);
    tx.addOutput(Buffer.from(scriptHex, 'hex'), valueSat);
    const address = readOptional(output.scriptpubkey_address, (v) => readString(v, `${w}.scriptpubkey_address`));
    return address === undefined ? { scriptHex, valueSat } : { scriptHex, address, valueSat };
  });
  if (inputs.length === 0 || outputs.length === 0) badResponse(at, 'is a transaction without inputs or outputs');
  let got: string;
  try {
    got = tx.getId();
  } catch {
    return badResponse(at, 'cannot be serialized as a transaction');
  }
  if (got !== txid) badResponse(`${at}.txid`, `is ${txid}, but the transaction described hashes to ${got}`);
  // Esplora has no replaceability field; the sequences are covered by the txid check above, so this is exact.
  return { txid, inputs, outputs, rbf: signalsReplacement(inputs) };
}
