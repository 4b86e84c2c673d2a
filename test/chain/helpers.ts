// A scripted Esplora stand-in for testing the client's defences: each case decides, request by
// request, what a broken or hostile backend answers. Also builds real transactions and blocks.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Block, Transaction, address, networks } from 'bitcoinjs-lib';

export interface Seen {
  method: string;
  url: string;
  path: string;
  body: string;
  headers: IncomingHttpHeaders;
}
export interface Reply {
  status?: number;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}
/** `hang` never answers; `destroy` drops the connection. `n` counts requests from 1. */
export type Script = (req: Seen, n: number) => Reply | 'hang' | 'destroy';

export interface Scripted {
  url: string;
  requests: Seen[];
  close(): Promise<void>;
}

export async function serve(script: Script): Promise<Scripted> {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const seen: Seen = { method: req.method ?? '', url, path: url.split('?')[0] ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers };
      requests.push(seen);
      const r = script(seen, requests.length);
      if (r === 'hang') return;
      if (r === 'destroy') {
        req.socket.destroy();
        return;
      }
      const type = typeof r.body === 'string' || r.body === undefined ? 'text/plain' : 'application/octet-stream';
      res.writeHead(r.status ?? 200, { 'content-type': type, ...r.headers });
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Answers by path; anything unscripted is a 404, as Esplora does. */
export function routes(table: Record<string, Reply | ((req: Seen, n: number) => Reply | 'hang' | 'destroy')>): Script {
  return (req, n) => {
    const r = table[req.path];
    if (r === undefined) return { status: 404, body: 'not found' };
    return typeof r === 'function' ? r(req, n) : r;
  };
}

export function json(value: unknown, status = 200): Reply {
  return { status, body: JSON.stringify(value), headers: { 'content-type': 'application/json' } };
}

const P2WPKH = (byte: number): Uint8Array => Buffer.concat([Buffer.from('0014', 'hex'), Buffer.alloc(20, byte)]);

/** A segwit spend: one input with a witness, two outputs. */
export function sampleTx(valueSat = 12_345n): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = 101;
  tx.addInput(Buffer.alloc(32, 0xab), 1, 0xfffffffd, Buffer.alloc(0));
  tx.setWitness(0, [Buffer.alloc(71, 0x30), Buffer.alloc(33, 0x02)]);
  tx.addOutput(P2WPKH(0x11), valueSat);
  tx.addOutput(P2WPKH(0x22), 99_000n);
  return tx;
}

/** A coinbase-like transaction (null prevout, height push in scriptSig). */
export function coinbaseTx(): Transaction {
  const tx = new Transaction();
  tx.version = 1;
  tx.addInput(Buffer.alloc(32, 0), 0xffffffff, 0xffffffff, Buffer.from('03e80300', 'hex'));
  tx.addOutput(P2WPKH(0x33), 5_000_000_000n);
  return tx;
}

/** A block over the given transactions with a correct merkle root (non-segwit txs only, so no witness commitment is needed). */
export function sampleBlock(txs: Transaction[] = [coinbaseTx(), legacyTx()]): Block {
  const block = new Block();
  block.version = 0x20000000;
  block.prevHash = Buffer.alloc(32, 7);
  block.timestamp = 1_700_000_000;
  block.bits = 0x207fffff;
  block.nonce = 2;
  block.transactions = txs;
  block.merkleRoot = Block.calculateMerkleRoot(txs);
  return block;
}

/** A pre-segwit spend (a block holding it needs no witness commitment). */
export function legacyTx(): Transaction {
  const tx = new Transaction();
  tx.version = 1;
  tx.addInput(Buffer.alloc(32, 0xcd), 0, 0xffffffff, Buffer.from('51', 'hex'));
  tx.addOutput(P2WPKH(0x44), 7_000n);
  return tx;
}

/** The Esplora JSON of a transaction, as `/address/:a/txs/mempool` lists it. */
export function esploraTxJson(tx: Transaction): Record<string, unknown> {
  return {
    txid: tx.getId(),
    version: tx.version,
    locktime: tx.locktime,
    vin: tx.ins.map((i) => ({
      txid: Buffer.from(i.hash).reverse().toString('hex'),
      vout: i.index,
      prevout: null,
      scriptsig: Buffer.from(i.script).toString('hex'),
      scriptsig_asm: '',
      witness: i.witness.map((w) => Buffer.from(w).toString('hex')),
      is_coinbase: false,
      sequence: i.sequence,
    })),
    vout: tx.outs.map((o) => ({
      scriptpubkey: Buffer.from(o.script).toString('hex'),
      scriptpubkey_asm: '',
      scriptpubkey_type: 'v0_p2wpkh',
      scriptpubkey_address: address.fromOutputScript(o.script, networks.regtest),
      value: Number(o.value),
    })),
    size: tx.byteLength(),
    weight: tx.weight(),
    fee: 141,
    status: { confirmed: false },
  };
}
