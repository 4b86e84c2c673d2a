/**
 * The one door to bcoin: a regtest chain, its mempool, a miner and the faucet, composed from the
 * parts beside this file (faucet.ts, core-errors.ts, reorg.ts, queries.ts) and serialised by one lock.
 *
 * Why bcoin and not bitcoinjs-lib here: the devnet stands in for the outside world (bitcoind, other
 * people's wallets). The agent's own wallet builds and signs with bitcoinjs-lib; if the devnet used
 * the same library, a bug shared by both would go unnoticed. bcoin is an independent, validating
 * implementation, so its faucet (KeyRing, MTX, bcoin's own coin selection) and its script checks
 * are an honest second opinion on everything the agent signs.
 *
 * We wire Chain + Mempool + Miner ourselves instead of using bcoin's FullNode, which would also
 * open a P2P pool and an HTTP/RPC server on a fixed regtest port (48332), so that two devnets (tests
 * run in parallel) would collide.
 *
 * Hashes cross this file's edge in display order (txid/block hash as explorers show them); inside,
 * bcoin uses the reversed internal order. Amounts cross as bigint satoshis.
 */
import bcoin from 'bcoin';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../errors/index.ts';
import { accept, decodeTx } from './core-errors.ts';
import { faucetCoins, payFromFaucet, type PayOptions } from './faucet.ts';
import { patchIterator } from './leveldown-patch.ts';
import { Mutex } from './mutex.ts';
import * as queries from './queries.ts';
import type { AddressHistory, BlockRecord, TxRecord, UtxoRecord } from './queries.ts';
import { reorg } from './reorg.ts';
import { REGTEST, addressForScript, errorMessage, type NodeParts } from './regtest.ts';

export interface RegtestNodeOptions {
  /** Where the chain lives on disk (`dir/regtest/chain`, as `bcoin --prefix dir --network regtest` would); undefined = in memory. */
  dir?: string;
  /** 32-byte private key of the faucet (regtest only). */
  faucetKey: Buffer;
  /** Receives bcoin's background errors (e.g. a transaction that could not re-enter the mempool after a reorg). */
  log?: (line: string) => void;
}

export class RegtestNode {
  private readonly lock = new Mutex();
  private readonly parts: NodeParts;
  readonly faucetScript: Buffer;
  private closed = false;

  private constructor(
    private readonly chain: bcoin.Chain,
    private readonly mempool: bcoin.Mempool,
    private readonly miner: bcoin.Miner,
    branchMiner: bcoin.Miner,
    ring: bcoin.KeyRing,
    private readonly persistent: boolean,
  ) {
    const faucetAddr = ring.getAddress();
    this.faucetScript = bcoin.Script.fromAddress(faucetAddr).toRaw();
    this.parts = { chain, mempool, branchMiner, ring, faucetAddr, faucetScript: this.faucetScript };
  }

  /**
   * Opens (or creates) the chain. On disk, the mempool is kept too (`dir/regtest/mempool`), as
   * bitcoind keeps mempool.dat, so payments not yet mined survive a restart.
   * @throws Error when the database cannot be opened (e.g. another process holds its lock).
   */
  static async open(opts: RegtestNodeOptions): Promise<RegtestNode> {
    const memory = opts.dir === undefined;
    let chainLocation: string | undefined;
    let mempoolLocation: string | undefined;
    if (opts.dir !== undefined) {
      // bcoin does not create the parent folders of its LevelDB databases.
      chainLocation = join(opts.dir, 'regtest', 'chain');
      mempoolLocation = join(opts.dir, 'regtest', 'mempool');
      await mkdir(chainLocation, { recursive: true });
      await mkdir(mempoolLocation, { recursive: true });
    }
    const chain = new bcoin.Chain({ network: REGTEST, memory, location: chainLocation, indexTX: true, indexAddress: true });
    const mempool = new bcoin.Mempool({
      network: REGTEST,
      chain,
      memory,
      location: mempoolLocation,
      persistent: !memory,
      indexAddress: true,
      // bcoin 1.0.2's standardness rules predate taproot (a payment to a bcrt1p address would be
      // "nonstandard"), while Core relays it. Consensus rules (scripts, amounts, double spends) still apply.
      requireStandard: false,
    });
    if (!memory) {
      patchIterator(chain.db.db);
      if (mempool.cache.db) patchIterator(mempool.cache.db);
    }
    const miner = new bcoin.Miner({ network: REGTEST, chain, mempool });
    const branchMiner = new bcoin.Miner({ network: REGTEST, chain });

    const log = opts.log ?? (() => {});
    // What bcoin's FullNode does to keep the mempool in step with the chain. The chain awaits these
    // handlers (emitAsync), so chain.add() returns only once the mempool has caught up.
    chain.on('connect', async (entry, block) => mempool._addBlock(entry, block.txs));
    chain.on('disconnect', async (entry, block) => mempool._removeBlock(entry, block.txs));
    chain.on('reorganize', async () => mempool._handleReorg());
    chain.on('reset', async () => mempool._reset());
    // An EventEmitter throws an 'error' nobody listens to; these are background failures (a reorged
    // transaction that cannot come back), never the result of a call, so they are only logged.
    chain.on('error', (e) => log(`chain: ${errorMessage(e)}`));
    mempool.on('error', (e) => log(`mempool: ${errorMessage(e)}`));
    miner.on('error', (e) => log(`miner: ${errorMessage(e)}`));
    branchMiner.on('error', (e) => log(`miner: ${errorMessage(e)}`));

    await chain.open();
    await mempool.open();
    await miner.open();
    await branchMiner.open();

    const ring = bcoin.KeyRing.fromPrivate(opts.faucetKey, true);
    ring.witness = true; // P2WPKH faucet, the same kind of address the agent uses
    return new RegtestNode(chain, mempool, miner, branchMiner, ring, !memory);
  }

  get height(): number {
    return this.chain.height;
  }

  get tipHash(): string {
    return this.chain.tip.rhash();
  }

  /** The faucet's address, in bcoin's rendering (bcrt1q...). */
  get faucetAddress(): string {
    return this.parts.faucetAddr.toString(REGTEST);
  }

  /** Closes the databases; waits for any operation in flight. */
  async close(): Promise<void> {
    await this.lock.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.persistMempool();
      await this.parts.branchMiner.close();
      await this.miner.close();
      await this.mempool.close();
      await this.chain.close();
    });
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      if (this.closed) throw new AgentError('CHAIN_UNAVAILABLE', 'the devnet is closed');
      return fn();
    });
  }

  /**
   * Writes the mempool and the tip it belongs to. bcoin records the tip only when a block arrives
   * while the mempool is non-empty, and on reopen discards a mempool whose tip differs from the chain's.
   */
  private async persistMempool(): Promise<void> {
    if (!this.persistent) return;
    this.mempool.cache.sync(this.chain.tip.hash);
    await this.mempool.cache.flush();
  }

  /**
   * Mines `count` blocks on the tip, each including what the mempool holds.
   * @param toScript output script of the coinbase; default the faucet.
   * @returns the new height and the new blocks' hashes, oldest first.
   */
  mine(count: number, toScript?: Buffer): Promise<{ height: number; hashes: string[] }> {
    return this.run(async () => {
      const to = toScript === undefined ? this.parts.faucetAddr : addressForScript(toScript);
      if (!to) throw new AgentError('WALLET_BAD_ADDRESS', 'a coinbase can only pay an address the node can index');
      const hashes: string[] = [];
      for (let i = 0; i < count; i++) {
        const block = await this.miner.mineBlock(this.chain.tip, to);
        const entry = await this.chain.add(block);
        if (!entry) throw new AgentError('INTERNAL', 'a mined block did not connect');
        hashes.push(block.rhash());
      }
      await this.persistMempool();
      return { height: this.chain.height, hashes };
    });
  }

  /** What the faucet can spend now (mature coins and unconfirmed change, minus what the mempool spends). */
  faucetBalance(): Promise<bigint> {
    return this.run(async () => (await faucetCoins(this.parts)).reduce((sum, c) => sum + BigInt(c.value), 0n));
  }

  /**
   * The faucet pays `amount` to `script` and puts the transaction in the mempool (faucet.ts).
   * @returns the txid.
   * @throws AgentError DEVNET_FAUCET_EMPTY when the faucet cannot cover amount + fee.
   */
  pay(script: Buffer, amount: bigint, opts: PayOptions = {}): Promise<string> {
    return this.run(async () => {
      const txid = await payFromFaucet(this.parts, script, amount, opts);
      await this.persistMempool();
      return txid;
    });
  }

  /**
   * Adds a raw transaction to the mempool, with Bitcoin Core's answers (core-errors.ts).
   * @returns the txid.
   * @throws AgentError CHAIN_TX_REJECTED with `details.reason` and Core's `details.rpcCode`.
   */
  submit(raw: Buffer): Promise<string> {
    return this.run(async () => {
      const txid = await accept(this.parts, decodeTx(raw));
      await this.persistMempool();
      return txid;
    });
  }

  /**
   * Rewinds `depth` blocks and mines a winning branch of `newBlocks`, double-spending `doubleSpend` (reorg.ts).
   * @returns the new height and the removed blocks' hashes, oldest first.
   * @throws AgentError BAD_REQUEST for a depth or txid it cannot honour, NOT_FOUND for an unknown txid.
   */
  reorg(depth: number, newBlocks: number, doubleSpend: string[]): Promise<{ height: number; removed: string[] }> {
    return this.run(async () => {
      const result = await reorg(this.parts, depth, newBlocks, doubleSpend);
      await this.persistMempool();
      return result;
    });
  }

  /** Hash of the best-chain block at `height`, or null beyond the tip. */
  blockHashAt(height: number): Promise<string | null> {
    return this.run(() => queries.blockHashAt(this.parts, height));
  }

  /** A block of the best chain or of a losing branch, or null. */
  block(hash: string): Promise<BlockRecord | null> {
    return this.run(() => queries.block(this.parts, hash));
  }

  /** A mempool or best-chain transaction, or null. */
  tx(txid: string): Promise<TxRecord | null> {
    return this.run(() => queries.tx(this.parts, txid));
  }

  /** Unspent outputs paying exactly `script`, mempool ones included and mempool-spent ones excluded (as esplora). */
  utxos(script: Buffer): Promise<UtxoRecord[]> {
    return this.run(() => queries.utxos(this.parts, script));
  }

  /** Every transaction that pays or spends `script`. */
  history(script: Buffer): Promise<AddressHistory> {
    return this.run(() => queries.history(this.parts, script));
  }
}
