// Test helpers for the devnet suites: a bitcoinjs-lib key/address and signer (the agent's library,
// checked against bcoin's node) and small HTTP wrappers.
import { randomBytes } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import { Psbt, networks, payments } from 'bitcoinjs-lib';
import type { Signer, Transaction } from 'bitcoinjs-lib';

export interface TestKey {
  signer: Signer;
  address: string;
  script: Buffer;
}

/** A fresh P2WPKH regtest key and its bcrt1q address. */
export function newKey(): TestKey {
  // tiny-secp256k1 directly: ecpair's bundled typings do not resolve under NodeNext.
  let priv = randomBytes(32);
  while (!ecc.isPrivate(priv)) priv = randomBytes(32);
  const publicKey = ecc.pointFromScalar(priv, true);
  if (!publicKey) throw new Error('no public key');
  const p = payments.p2wpkh({ pubkey: publicKey, network: networks.regtest });
  if (!p.address || !p.output) throw new Error('p2wpkh failed');
  const signer: Signer = { publicKey, sign: (hash: Uint8Array) => ecc.sign(hash, priv) };
  return { signer, address: p.address, script: Buffer.from(p.output) };
}

/** Signs a transaction spending one P2WPKH output of `from` to `toAddress` (value - fee). */
export function spend(from: TestKey, utxo: { txid: string; vout: number; value: number }, toAddress: string, fee = 500): Transaction {
  const psbt = new Psbt({ network: networks.regtest });
  psbt.addInput({ hash: utxo.txid, index: utxo.vout, witnessUtxo: { script: from.script, value: BigInt(utxo.value) } });
  psbt.addOutput({ address: toAddress, value: BigInt(utxo.value - fee) });
  psbt.signInput(0, from.signer);
  psbt.finalizeAllInputs();
  return psbt.extractTransaction();
}

export async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function post(url: string, body: unknown, raw = false): Promise<{ status: number; body: string; json: unknown }> {
  const res = await fetch(url, { method: 'POST', body: raw ? String(body) : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: text, json };
}

export interface EsploraUtxo {
  txid: string;
  vout: number;
  value: number;
  status: { confirmed: boolean; block_height?: number; block_hash?: string; block_time?: number };
}

export interface EsploraTx {
  txid: string;
  version: number;
  locktime: number;
  vin: { txid: string; vout: number; prevout: { scriptpubkey: string; scriptpubkey_address?: string; value: number } | null; sequence: number; witness?: string[] }[];
  vout: { scriptpubkey: string; scriptpubkey_type: string; scriptpubkey_address?: string; value: number }[];
  size: number;
  weight: number;
  fee: number;
  status: { confirmed: boolean; block_height?: number; block_hash?: string };
}
