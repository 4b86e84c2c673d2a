/**
 * The payment watcher's CPU per mainnet-sized block with 1,000,000 watched addresses against 1 (and 10,000,
 * reported). Each side is a real agent database (openAgentDb: WAL, synchronous=FULL) whose address book holds
 * N addresses, and a PaymentWatcher matching outputs through the treasury (Treasury.addressOfScript), as in the
 * agent. The blocks are synthetic but real: bitcoinjs transactions serialised into bitcoinjs blocks, served raw
 * by an in-memory chain backend, so each pass takes the code path a real block takes (PaymentWatcher.sync:
 * the tip, the fork check, getBlockRaw, Block.fromBuffer, then every input and output matched in one SQLite
 * transaction). Each block pays the first watched address once, and the run checks every side finds it.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Block, Transaction } from 'bitcoinjs-lib';
import { openAgentDb } from '../../src/agent/modules.ts';
import { PaymentWatcher, type ChainBackend } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { AgentError } from '../../src/errors/index.ts';
import { Treasury } from '../../src/treasury/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { fmt, median, progress, RUNS, verdict, type BenchResult } from './lib.ts';

const TARGET = 1.1;
/** Transactions per block: a mainnet block holds three to four thousand, each with about two inputs and two outputs. */
const TXS = Number(process.env.STORJ_BENCH_WATCHER_TXS ?? 3_500);
/** STORJ_BENCH_WATCHER_ADDRESSES shrinks the big side for a quick try of the benchmark itself; the figure is for 10^6. */
const MANY = Number(process.env.STORJ_BENCH_WATCHER_ADDRESSES ?? 1_000_000);
const SIDES = [1, 10_000, MANY] as const;
/**
 * Blocks timed per side and run, after one untimed block that warms the caches. Each side's passes alternate with
 * the others', so the garbage a pass leaves (a parsed block is megabytes of objects), collected at some later
 * pass, falls on every side alike. (A full GC forced before each pass was tried: it shrinks the young generation,
 * so every pass then pays for many more scavenges, and measures that instead.)
 */
const BLOCKS_PER_RUN = 10;
const WARM_BLOCKS = 3;

// BIP39's own test mnemonic (the first vector of its reference list): a real wallet, no key of value.
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
/** The script of the watched address every block pays. */
const PAID_SCRIPT = Buffer.concat([Buffer.from('0014', 'hex'), Buffer.alloc(20, 0x5a)]);
const PAID_ADDRESS = 'bcrt1qbenchpaid';
/** Headroom on disk: the three address books (the million's is about 100 MB) with their WAL files. */
export const WATCHER_DISK_BYTES = 512 * 1024 ** 2;

const p2wpkh = (): Buffer => Buffer.concat([Buffer.from('0014', 'hex'), randomBytes(20)]);

/** A block of TXS transactions of two spent outpoints and two P2WPKH outputs with witnesses, plus its coinbase. */
function makeBlock(prevHash: Buffer, height: number): Block {
  const coinbase = new Transaction();
  coinbase.version = 2;
  const heightScript = Buffer.alloc(5);
  heightScript.writeUInt8(4, 0);
  heightScript.writeUInt32LE(height, 1);
  coinbase.addInput(Buffer.alloc(32), 0xffffffff, 0xffffffff, heightScript);
  coinbase.addOutput(p2wpkh(), 312_500_000n);
  const txs = [coinbase];
  for (let i = 0; i < TXS; i++) {
    const tx = new Transaction();
    tx.version = 2;
    for (let k = 0; k < 2; k++) {
      tx.addInput(randomBytes(32), k, 0xfffffffd);
      tx.setWitness(k, [randomBytes(72), randomBytes(33)]);
    }
    tx.addOutput(i === 0 ? PAID_SCRIPT : p2wpkh(), 50_000n + BigInt(i));
    tx.addOutput(p2wpkh(), 1_000_000n);
    txs.push(tx);
  }
  const block = new Block();
  block.version = 0x20000000;
  block.prevHash = prevHash;
  block.timestamp = 1_700_000_000 + height * 600;
  block.bits = 0x207fffff;
  block.nonce = height;
  block.transactions = txs;
  block.merkleRoot = Block.calculateMerkleRoot(txs);
  return block;
}

/** A chain backend serving `blocks` (heights 1..n), of which the first `tip` are the best chain. */
class BlockServer implements ChainBackend {
  tip = 0;
  readonly #ids: string[] = [];
  readonly #raw = new Map<string, Uint8Array>();

  constructor(blocks: Block[]) {
    for (const b of blocks) {
      this.#ids.push(b.getId());
      this.#raw.set(b.getId(), b.toBuffer());
    }
  }

  getTipHeight(): Promise<number> {
    return Promise.resolve(this.tip);
  }
  getTipHash(): Promise<string> {
    return this.getBlockHash(this.tip);
  }
  getBlockHash(height: number): Promise<string> {
    const id = height <= this.tip ? this.#ids[height - 1] : undefined;
    return id === undefined ? Promise.reject(new AgentError('CHAIN_NOT_FOUND', `no block at ${height}`)) : Promise.resolve(id);
  }
  getBlockRaw(hash: string): Promise<Uint8Array> {
    const raw = this.#raw.get(hash);
    return raw === undefined ? Promise.reject(new AgentError('CHAIN_NOT_FOUND', `no block ${hash}`)) : Promise.resolve(raw);
  }
  getTxHex(): Promise<string> {
    return Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'not part of this benchmark'));
  }
  getTxStatus(): Promise<never> {
    return Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'not part of this benchmark'));
  }
  getAddressUtxos(): Promise<never> {
    return Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'not part of this benchmark'));
  }
  getAddressMempoolTxs(): Promise<never> {
    return Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'not part of this benchmark'));
  }
  broadcast(): Promise<string> {
    return Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'not part of this benchmark'));
  }
  getFeeEstimates(): Promise<Map<number, bigint>> {
    return Promise.resolve(new Map<number, bigint>());
  }
}

/**
 * An agent database whose address book holds `n` upload addresses: the paid one, and n - 1 others with random
 * P2WPKH scripts (so the script index is as scattered as a real one), built with set-based SQL.
 */
function buildDb(path: string, n: number): Db {
  const db = openAgentDb(path);
  db.transaction(() => {
    db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, ?, ?, 'upload', 0)").run(PAID_ADDRESS, PAID_SCRIPT);
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at)
       SELECT 0, i, 'bcrt1qbench' || i, x'0014' || randomblob(20), 'upload', 0 FROM n`,
    ).run(n - 1);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  return db;
}

interface Side {
  n: number;
  db: Db;
  path: string;
  server: BlockServer;
  watcher: PaymentWatcher;
  found: { n: number };
  cpuMs: number[];
}

export async function benchWatcher(root: string): Promise<BenchResult> {
  const blocks: Block[] = [];
  const count = WARM_BLOCKS + RUNS * BLOCKS_PER_RUN;
  progress(`watcher: building ${count} blocks of ${TXS.toLocaleString('en')} transactions`);
  let prev = Buffer.alloc(32);
  for (let h = 1; h <= count; h++) {
    const b = makeBlock(prev, h);
    blocks.push(b);
    prev = Buffer.from(b.getHash());
  }
  const bytes = blocks[0]?.byteLength() ?? 0;
  const wallet = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'regtest' });
  const sides: Side[] = [];
  try {
    for (const n of SIDES) {
      const path = join(root, `watcher-${n}.db`);
      progress(`watcher: an address book of ${n.toLocaleString('en')} addresses`);
      const t0 = performance.now();
      const db = buildDb(path, n);
      progress(`watcher: built in ${fmt((performance.now() - t0) / 1000, 1)} s`);
      const server = new BlockServer(blocks);
      const treasury = new Treasury({ db, wallet, chain: server, perTxMaxSat: 1n, perDayMaxSat: 1n });
      const found = { n: 0 };
      const watcher = new PaymentWatcher({
        db,
        chain: server,
        ours: (script) => treasury.addressOfScript(script),
        policy: { required: 1, zeroConfMaxSat: 0n },
        sink: {
          onCounted: (p) => {
            if (p.address === PAID_ADDRESS) found.n++;
          },
          onReversed: () => undefined,
        },
        startHeight: () => 1,
      });
      const side: Side = { n, db, path, server, watcher, found, cpuMs: [] };
      // The first blocks, untimed: statements prepared, code optimised, caches warm.
      for (let w = 0; w < WARM_BLOCKS; w++) {
        side.server.tip = w + 1;
        await side.watcher.sync();
      }
      sides.push(side);
      await new Promise((r) => setImmediate(r));
    }
    for (let run = 0; run < RUNS; run++) {
      progress(`watcher: run ${run + 1} of ${RUNS}`);
      for (let b = 0; b < BLOCKS_PER_RUN; b++) {
        // Alternate the order, so a drift in the machine's state hits every side.
        const order = (run * BLOCKS_PER_RUN + b) % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          side.server.tip++;
          const c0 = process.cpuUsage();
          const r = await side.watcher.sync();
          const c = process.cpuUsage(c0);
          if (r.blocks !== 1 || r.newPayments !== 1) throw new Error(`the watcher with ${side.n} addresses applied ${r.blocks} block(s) and found ${r.newPayments} payment(s), not 1 and 1`);
          side.cpuMs.push((c.user + c.system) / 1000);
        }
      }
    }
  } finally {
    for (const s of sides) {
      s.db.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${s.path}${suffix}`, { force: true });
    }
  }
  for (const s of sides) if (s.found.n !== count) throw new Error(`the watcher with ${s.n} addresses counted ${s.found.n} payments to the paid address, not ${count}`);

  const ms = new Map(sides.map((s) => [s.n, median(s.cpuMs)]));
  const one = ms.get(1) ?? NaN;
  const many = ms.get(MANY) ?? NaN;
  // The ratio is the median of each block's ratio to the same block on the 1-address side, timed moments apart:
  // the load of a shared machine drifts over the run, and a ratio of medians would carry that drift.
  const base = sides[0]?.cpuMs ?? [];
  const paired = new Map(sides.map((s) => [s.n, median(s.cpuMs.map((x, i) => x / (base[i] ?? NaN)))]));
  const ratio = paired.get(MANY) ?? NaN;
  const pass = ratio <= TARGET;
  const label = (n: number): string => (n === 1_000_000 ? '1M' : n.toLocaleString('en'));
  return {
    name: 'watcher',
    line: `watcher CPU per block of ${TXS.toLocaleString('en')} txs: ${fmt(many, 1)} ms with ${label(MANY)} addresses, ${fmt(one, 1)} ms with 1, ratio ${fmt(ratio, 2)}x (target <= ${TARGET}x) ${verdict(pass)}`,
    measured: `${fmt(many, 1)} ms/block`,
    reference: `1 address ${fmt(one, 1)} ms`,
    ratio: `${fmt(ratio, 2)}x`,
    target: `<= ${TARGET}x`,
    pass,
    details: [
      `block: ${TXS.toLocaleString('en')} transactions of 2 inputs and 2 outputs (+ coinbase), ${fmt(bytes / 1e6, 2)} MB; ${RUNS * BLOCKS_PER_RUN} blocks timed per side after ${WARM_BLOCKS} untimed, CPU from process.cpuUsage (user + system)`,
      ...sides.map((s) => `${label(s.n)} addresses: median ${fmt(ms.get(s.n) ?? NaN, 1)} ms, block by block ratio to 1 ${fmt(paired.get(s.n) ?? NaN, 2)}x (ratio of medians ${fmt((ms.get(s.n) ?? NaN) / one, 2)}x); runs ${s.cpuMs.map((x) => fmt(x, 0)).join(', ')}`),
    ],
  };
}
