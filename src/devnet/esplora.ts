/**
 * An Esplora-compatible HTTP facade over the regtest node, answering with the shapes of
 * Blockstream's esplora/electrs (API.md), because in production the agent talks to mempool.space or
 * a self-hosted electrs. Plus the devnet's control endpoints under /dev (JSON, the project's error body).
 *
 * Where we differ from esplora: no `*_asm` fields and no `inner_*script_asm` (nothing here reads
 * them); fee estimates are fixed (a regtest mempool has no fee market).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Block, Transaction } from 'bitcoinjs-lib';
import { AgentError, isAgentError } from '../errors/index.ts';
import { satToJson } from '../money/index.ts';
import { addressToScript, scriptToAddress, scriptType } from './address.ts';
import type { RegtestNode } from './node.ts';
import type { PrevOut, TxRecord, TxStatus } from './queries.ts';
import { FAUCET_FEE_RATE_SAT_PER_VB } from './faucet.ts';

/** What the /dev endpoints drive (implemented by Devnet). */
export interface DevnetControl {
  pay(address: string, amountSat: bigint): Promise<string>;
  mine(blocks: number, toAddress?: string): Promise<{ height: number; hashes: string[] }>;
  reorg(opts: { depth: number; newBlocks?: number; doubleSpend?: string[] }): Promise<{ height: number; removed: string[] }>;
  submitTx(hex: string): Promise<string>;
  faucet(): Promise<{ address: string; balanceSat: bigint }>;
}

/** Esplora's fee-estimate targets (API.md: 1..25, 144, 504, 1008 blocks). */
const FEE_TARGETS = [...Array.from({ length: 25 }, (_, i) => i + 1), 144, 504, 1008];
const HASH = /^[0-9a-fA-F]{64}$/;
const MAX_TX_BODY = 2 * 1024 * 1024; // hex of a 400,000-weight (standard maximum) transaction, with room
const MAX_JSON_BODY = 64 * 1024;
/** Esplora: up to 50 mempool transactions plus the first 25 confirmed ones; 25 per page of /txs/chain. */
const MEMPOOL_PAGE = 50;
const CHAIN_PAGE = 25;

/** An answer with esplora's plain-text error body and an HTTP status. */
class HttpText extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Reply = { status?: number } & ({ type: 'text'; body: string } | { type: 'json'; body: unknown } | { type: 'binary'; body: Buffer });

/** The request handler for node:http's `request` event. */
export function facadeHandler(
  node: RegtestNode,
  control: DevnetControl,
  log: (line: string) => void = () => {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://devnet').pathname.replace(/\/+$/, '') || '/';
    } catch {
      path = '/';
    }
    const isControl = path === '/dev' || path.startsWith('/dev/');
    const done = (reply: Reply): void => send(res, reply);
    const fail = (e: unknown): void => {
      if (!(e instanceof HttpText) && (!isAgentError(e) || e.status >= 500)) log(`${req.method ?? ''} ${path} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (isControl) {
        const err = isAgentError(e) ? e : new AgentError('INTERNAL', 'internal error');
        done({ status: err.status, type: 'json', body: { error: { code: err.code, message: err.message } } });
      } else if (e instanceof HttpText) {
        done({ status: e.status, type: 'text', body: e.message });
      } else if (isAgentError(e) && e.code === 'CHAIN_TX_REJECTED') {
        // electrs relays bitcoind's JSON-RPC error verbatim
        const rpcCode = typeof e.details?.rpcCode === 'number' ? e.details.rpcCode : -26;
        done({ status: 400, type: 'text', body: `sendrawtransaction RPC error: ${JSON.stringify({ code: rpcCode, message: e.message })}` });
      } else if (isAgentError(e) && e.status < 500) {
        done({ status: e.status, type: 'text', body: e.message });
      } else {
        done({ status: 500, type: 'text', body: 'Internal error' });
      }
    };
    const route = isControl ? controlRoute(control, req, path) : apiRoute(node, control, req, path);
    route.then(done, fail).catch(() => res.destroy()); // a reply that cannot be written: drop the connection
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const status = reply.status ?? 200;
  let body: Buffer;
  let type: string;
  if (reply.type === 'binary') {
    body = reply.body;
    type = 'application/octet-stream';
  } else if (reply.type === 'text') {
    body = Buffer.from(reply.body);
    type = 'text/plain; charset=utf-8';
  } else {
    body = Buffer.from(JSON.stringify(reply.body));
    type = 'application/json';
  }
  res.writeHead(status, { 'content-type': type, 'content-length': body.length });
  res.end(body);
}

const text = (body: string | number): Reply => ({ type: 'text', body: String(body) });
const json = (body: unknown): Reply => ({ type: 'json', body });
const notFound = (what = 'Not found'): HttpText => new HttpText(404, what);

function hashParam(s: string | undefined, what: string): string {
  if (s === undefined || !HASH.test(s)) throw new HttpText(400, `Invalid ${what} hash`);
  return s.toLowerCase();
}

// ---------------------------------------------------------------- /api

async function apiRoute(node: RegtestNode, control: DevnetControl, req: IncomingMessage, path: string): Promise<Reply> {
  const parts = path.split('/').slice(1).map(decodeSegment); // ['api', ...]
  if (parts[0] !== 'api') throw notFound();
  const [, a, b, c, d, e] = parts;
  const n = parts.length;

  if (req.method === 'POST') {
    if (n === 2 && a === 'tx') {
      const hex = (await readBody(req, MAX_TX_BODY)).trim();
      return text(await control.submitTx(hex));
    }
    throw notFound();
  }
  if (req.method !== 'GET') throw notFound();

  if (a === 'blocks' && b === 'tip' && n === 4) {
    if (c === 'height') return text(node.height);
    if (c === 'hash') return text(node.tipHash);
  }
  if (a === 'block-height' && n === 3) {
    if (b === undefined || !/^\d{1,10}$/.test(b)) throw new HttpText(400, 'Invalid height');
    const hash = await node.blockHashAt(Number(b));
    if (!hash) throw notFound('Block not found');
    return text(hash);
  }
  if (a === 'block' && (n === 3 || n === 4)) {
    const block = await node.block(hashParam(b, 'block'));
    if (!block) throw notFound('Block not found');
    if (n === 3) return json(blockJson(block.hash, block.height, block.medianTime, block.prevHash, block.raw));
    if (c === 'raw') return { type: 'binary', body: block.raw };
    if (c === 'header') return text(block.raw.subarray(0, 80).toString('hex'));
    if (c === 'txids') return json((Block.fromBuffer(block.raw).transactions ?? []).map((t) => t.getId()));
    if (c === 'status') {
      return json(
        block.inBestChain
          ? { in_best_chain: true, height: block.height, ...(block.nextBest ? { next_best: block.nextBest } : {}) }
          : { in_best_chain: false },
      );
    }
  }
  if (a === 'tx' && (n === 3 || n === 4)) {
    const tx = await node.tx(hashParam(b, 'transaction'));
    if (!tx) throw notFound('Transaction not found');
    if (n === 3) return json(txJson(tx));
    if (c === 'hex') return text(tx.raw.toString('hex'));
    if (c === 'raw') return { type: 'binary', body: tx.raw };
    if (c === 'status') return json(statusJson(tx.status));
  }
  if (a === 'address' && n >= 4 && b !== undefined) {
    let script: Buffer;
    try {
      script = addressToScript(b);
    } catch {
      throw new HttpText(400, 'Invalid Bitcoin address');
    }
    if (c === 'utxo' && n === 4) {
      const utxos = await node.utxos(script);
      return json(utxos.map((u) => ({ txid: u.txid, vout: u.vout, status: statusJson(u.status), value: satToJson(u.value) })));
    }
    if (c === 'txs') {
      const history = await node.history(script);
      if (n === 4) return json([...history.mempool.slice(0, MEMPOOL_PAGE), ...history.confirmed.slice(0, CHAIN_PAGE)].map(txJson));
      if (n === 5 && d === 'mempool') return json(history.mempool.slice(0, MEMPOOL_PAGE).map(txJson));
      if (d === 'chain' && (n === 5 || n === 6)) {
        let start = 0;
        if (n === 6) {
          const last = hashParam(e, 'transaction');
          start = history.confirmed.findIndex((t) => t.txid === last) + 1;
          if (start === 0) return json([]);
        }
        return json(history.confirmed.slice(start, start + CHAIN_PAGE).map(txJson));
      }
    }
  }
  if (a === 'fee-estimates' && n === 2) {
    // A regtest mempool has no fee market: every target gets the faucet's own rate.
    return json(Object.fromEntries(FEE_TARGETS.map((t) => [String(t), FAUCET_FEE_RATE_SAT_PER_VB])));
  }
  throw notFound();
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpText(400, 'Invalid URL');
  }
}

function statusJson(s: TxStatus): Record<string, unknown> {
  if (!s.confirmed) return { confirmed: false };
  return { confirmed: true, block_height: s.blockHeight, block_hash: s.blockHash, block_time: s.blockTime };
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

function txJson(r: TxRecord): Record<string, unknown> {
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

function blockJson(hash: string, height: number, medianTime: number, prevHash: string | null, raw: Buffer): Record<string, unknown> {
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

// ---------------------------------------------------------------- /dev

async function controlRoute(control: DevnetControl, req: IncomingMessage, path: string): Promise<Reply> {
  if (req.method === 'GET' && path === '/dev/faucet') {
    const f = await control.faucet();
    return json({ address: f.address, balanceSat: satToJson(f.balanceSat) });
  }
  if (req.method === 'POST' && path === '/dev/pay') {
    const body = await readJson(req, ['address', 'amountSat']);
    const address = requireString(body, 'address');
    const amountSat = body.amountSat;
    if (typeof amountSat !== 'number' || !Number.isSafeInteger(amountSat) || amountSat <= 0) {
      throw new AgentError('AMOUNT_INVALID', 'amountSat must be a positive integer number of satoshis');
    }
    return json({ txid: await control.pay(address, BigInt(amountSat)) });
  }
  if (req.method === 'POST' && path === '/dev/mine') {
    const body = await readJson(req, ['blocks', 'address']);
    const blocks = body.blocks;
    if (typeof blocks !== 'number') throw new AgentError('BAD_REQUEST', 'blocks must be an integer');
    const address = body.address === undefined ? undefined : requireString(body, 'address');
    return json(await control.mine(blocks, address));
  }
  if (req.method === 'POST' && path === '/dev/reorg') {
    const body = await readJson(req, ['depth', 'newBlocks', 'doubleSpend']);
    const { depth, newBlocks, doubleSpend } = body;
    if (typeof depth !== 'number') throw new AgentError('BAD_REQUEST', 'depth must be an integer');
    if (newBlocks !== undefined && typeof newBlocks !== 'number') throw new AgentError('BAD_REQUEST', 'newBlocks must be an integer');
    if (doubleSpend !== undefined && (!Array.isArray(doubleSpend) || !doubleSpend.every((t) => typeof t === 'string'))) {
      throw new AgentError('BAD_REQUEST', 'doubleSpend must be an array of txids');
    }
    return json(await control.reorg({ depth, newBlocks, doubleSpend }));
  }
  throw new AgentError('NOT_FOUND', `no devnet endpoint ${req.method ?? ''} ${path}`);
}

function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw new AgentError('BAD_REQUEST', `${key} must be a non-empty string`);
  return v;
}

async function readJson(req: IncomingMessage, allowed: string[]): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_JSON_BODY);
  let body: unknown;
  try {
    body = JSON.parse(raw === '' ? '{}' : raw);
  } catch {
    throw new AgentError('BAD_REQUEST', 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AgentError('BAD_REQUEST', 'the body must be a JSON object');
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new AgentError('BAD_REQUEST', `unknown field(s): ${unknown.join(', ')}`);
  return body as Record<string, unknown>;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new AgentError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
