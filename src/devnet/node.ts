/**
 * The one file that talks to bcoin: a regtest chain, its mempool, a miner and the faucet.
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

const REGTEST = bcoin.Network.get('regtest');
// bcoin 1.0.2 ships its own regtest prefixes (bech32 "rb"); Bitcoin Core's are 111/196/"bcrt".
// Set them before any chain exists so addresses agree with bitcoinjs-lib's networks.regtest.
REGTEST.addressPrefix = { ...REGTEST.addressPrefix, pubkeyhash: 111, scripthash: 196, bech32: 'bcrt' };

/** The faucet's fee rate: 2 sat/vB (bcoin wants sat per kvB), the same as the facade's fee estimates. */
export const FAUCET_FEE_RATE_SAT_PER_VB = 2;
/** An nSequence that signals replacement (BIP125: below 0xfffffffe), as Bitcoin Core's wallet sets it. */
const BIP125_REPLACEABLE_SEQUENCE = 0xffff_fffd;
/** What a payment with an unconfirmed parent gets on top of its amount from that parent, for its own fee. */
const PARENT_FEE_ROOM_SAT = 10_000n;

/** How the faucet pays (tests of the 0-conf policy). */
export interface PayOptions {
  /** Every input signals replacement (BIP125). */
  rbf?: boolean;
  /** The payment spends the output of a faucet transaction that is itself still in the mempool. */
  unconfirmedParent?: boolean;
}
/** bcoin's regtest subsidy halves every 150 blocks (as Core's); coinbase outputs mature after 100 (consensus). */
const COINBASE_MATURITY = 100;

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

export interface RegtestNodeOptions {
  /** Where the chain lives on disk (`dir/regtest/chain`, as `bcoin --prefix dir --network regtest` would); undefined = in memory. */
  dir?: string;
  /** 32-byte private key of the faucet (regtest only). */
  faucetKey: Buffer;
  /** Receives bcoin's background errors (e.g. a transaction that could not re-enter the mempool after a reorg). */
  log?: (line: string) => void;
}

/** Serialises every operation, so a pay can never pick a coin another pay is spending, and reads never see half a block. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

const rev = (hex: string): string => bcoin.util.revHex(hex);

interface VerifyErrorLike {
  type: 'VerifyError';
  reason: string;
  code: string;
}
function isVerifyError(e: unknown): e is VerifyErrorLike {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'VerifyError';
}
function isFundingError(e: unknown): e is Error {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'FundingError';
}
function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Bitcoin Core's RPC error codes for sendrawtransaction, so the facade's text matches what electrs relays. */
const RPC_DESERIALIZATION_ERROR = -22;
const RPC_VERIFY_ERROR = -25;
const RPC_VERIFY_REJECTED = -26;
const RPC_VERIFY_ALREADY_IN_CHAIN = -27;

/** Bitcoin Core's ScriptErrorString texts (script_error.cpp) for bcoin's ScriptError codes, which share Core's names. */
const CORE_SCRIPT_ERRORS: Record<string, string> = {
  EVAL_FALSE: 'Script evaluated without error but finished with a false/empty top stack element',
  NULLFAIL: 'Signature must be zero for failed CHECK(MULTI)SIG operation',
  SIG_DER: 'Non-canonical DER signature',
  SIG_HIGH_S: 'Non-canonical signature: S value is unnecessarily high',
  SIG_HASHTYPE: 'Signature hash type missing or not understood',
  EQUALVERIFY: 'Script failed an OP_EQUALVERIFY operation',
  CHECKSIGVERIFY: 'Script failed an OP_CHECKSIGVERIFY operation',
  WITNESS_PROGRAM_MISMATCH: 'Witness program hash mismatch',
  WITNESS_PROGRAM_WITNESS_EMPTY: 'Witness program was passed an empty witness',
  WITNESS_PROGRAM_WRONG_LENGTH: 'Witness program has incorrect length',
  WITNESS_MALLEATED: 'Witness requires empty scriptSig',
  WITNESS_UNEXPECTED: 'Witness provided for non-witness script',
  WITNESS_PUBKEYTYPE: 'Using non-compressed keys in segwit',
  CLEANSTACK: 'Stack size must be exactly one after execution',
  INVALID_STACK_OPERATION: 'Operation not valid with the current stack size',
  UNSATISFIED_LOCKTIME: 'Locktime requirement not satisfied',
};

function rejected(reason: string, rpcCode: number): AgentError {
  return new AgentError('CHAIN_TX_REJECTED', reason, { reason, rpcCode });
}

export class RegtestNode {
  private readonly lock = new Mutex();
  private readonly faucetAddr: bcoin.Address;
  readonly faucetScript: Buffer;
  private closed = false;

  private constructor(
    private readonly chain: bcoin.Chain,
    private readonly mempool: bcoin.Mempool,
    private readonly miner: bcoin.Miner,
    /** A miner without a mempool, for competing branches whose blocks must hold only what reorg() puts in them. */
    private readonly branchMiner: bcoin.Miner,
    private readonly ring: bcoin.KeyRing,
    private readonly persistent: boolean,
  ) {
    this.faucetAddr = ring.getAddress();
    this.faucetScript = bcoin.Script.fromAddress(this.faucetAddr).toRaw();
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
    return this.faucetAddr.toString(REGTEST);
  }

  /** Closes the databases; waits for any operation in flight. */
  async close(): Promise<void> {
    await this.lock.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.persistMempool();
      await this.branchMiner.close();
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

  // ---------------------------------------------------------------- mining

  /**
   * Mines `count` blocks on the tip, each including what the mempool holds.
   * @param toScript output script of the coinbase; default the faucet.
   * @returns the new height and the new blocks' hashes, oldest first.
   */
  mine(count: number, toScript?: Buffer): Promise<{ height: number; hashes: string[] }> {
    return this.run(async () => {
      const to = toScript === undefined ? this.faucetAddr : addressForScript(toScript);
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

  // ---------------------------------------------------------------- faucet

  /** Faucet coins that can be spent now: confirmed and mature, or unconfirmed change; none already spent in the mempool. */
  private async faucetCoins(): Promise<bcoin.Coin[]> {
    const confirmed = await this.chain.getCoinsByAddress([this.faucetAddr]);
    const unconfirmed = this.mempool.getCoinsByAddress([this.faucetAddr]);
    const next = this.chain.height + 1;
    return [...confirmed, ...unconfirmed].filter(
      (c) =>
        c.script.toRaw().equals(this.faucetScript) &&
        !this.mempool.isSpent(c.hash, c.index) &&
        !(c.coinbase && c.height + COINBASE_MATURITY > next),
    );
  }

  /** What the faucet can spend now (mature coins and unconfirmed change, minus what the mempool spends). */
  faucetBalance(): Promise<bigint> {
    return this.run(async () => (await this.faucetCoins()).reduce((sum, c) => sum + BigInt(c.value), 0n));
  }

  /**
   * The faucet pays `amount` to `script` with bcoin's own coin selection (oldest coins first, so
   * mature coinbase outputs go before unconfirmed change) and puts the transaction in the mempool.
   * `rbf` makes every input signal replacement (BIP125: nSequence 0xfffffffd). `unconfirmedParent` first
   * puts a transaction paying the faucet itself in the mempool, and the payment spends only its output.
   * @returns the txid.
   * @throws AgentError DEVNET_FAUCET_EMPTY when the faucet cannot cover amount + fee.
   */
  pay(script: Buffer, amount: bigint, opts: PayOptions = {}): Promise<string> {
    return this.run(async () => {
      let coins = await this.faucetCoins();
      if (opts.unconfirmedParent) {
        const parent = await this.faucetTx(this.faucetScript, amount + PARENT_FEE_ROOM_SAT, coins, false);
        await this.accept(parent);
        coins = [bcoin.Coin.fromTX(parent, 0, -1)];
      }
      const tx = await this.faucetTx(script, amount, coins, opts.rbf ?? false);
      await this.accept(tx);
      await this.persistMempool();
      return tx.txid();
    });
  }

  /** A signed faucet transaction paying `amount` to `script` from `coins`, change to the faucet. */
  private async faucetTx(script: Buffer, amount: bigint, coins: bcoin.Coin[], rbf: boolean): Promise<bcoin.TX> {
    const mtx = new bcoin.MTX();
    mtx.addOutput(bcoin.Script.fromRaw(script), Number(amount));
    try {
      await mtx.fund(coins, {
        changeAddress: this.faucetAddr,
        rate: FAUCET_FEE_RATE_SAT_PER_VB * 1000,
        selection: 'age',
        height: this.chain.height,
      });
    } catch (e) {
      if (isFundingError(e)) throw new AgentError('DEVNET_FAUCET_EMPTY', `the faucet cannot pay ${amount} sat: ${e.message}; mine more blocks`);
      throw e;
    }
    if (rbf) for (const input of mtx.inputs) input.sequence = BIP125_REPLACEABLE_SEQUENCE;
    mtx.sign(this.ring);
    return mtx.toTX();
  }

  // ---------------------------------------------------------------- broadcast

  /**
   * Adds a raw transaction to the mempool, with Bitcoin Core's answers: an already-known mempool
   * transaction is accepted again (so a retried broadcast is harmless); below-minimum-relay-fee,
   * missing inputs and script failures are rejected with Core's reason strings.
   * @returns the txid.
   * @throws AgentError CHAIN_TX_REJECTED with `details.reason` and Core's `details.rpcCode`.
   */
  submit(raw: Buffer): Promise<string> {
    return this.run(async () => {
      let tx: bcoin.TX;
      try {
        tx = bcoin.TX.fromRaw(raw);
      } catch {
        throw rejected('TX decode failed', RPC_DESERIALIZATION_ERROR);
      }
      // bcoin ignores trailing bytes; Core does not.
      if (!tx.toRaw().equals(raw)) throw rejected('TX decode failed', RPC_DESERIALIZATION_ERROR);
      const txid = await this.accept(tx);
      await this.persistMempool();
      return txid;
    });
  }

  private async accept(tx: bcoin.TX): Promise<string> {
    const hash = tx.hash('hex');
    if (this.mempool.hasEntry(hash)) return tx.txid();
    if (await this.chain.getMeta(hash)) throw rejected('Transaction outputs already in utxo set', RPC_VERIFY_ALREADY_IN_CHAIN);
    if (!tx.isCoinbase()) {
      // Core checks conflicts before fees. bcoin 1.0.2 has no replace-by-fee: a conflict is refused.
      if (tx.inputs.some((i) => this.mempool.isSpent(i.prevout.hash, i.prevout.index))) throw rejected('txn-mempool-conflict', RPC_VERIFY_REJECTED);
      // Core refuses anything under the minimum relay fee. bcoin 1.0.2 would still admit a
      // "high-priority" free transaction, which its miner then never includes: refuse it instead.
      const view = await this.mempool.getCoinView(tx);
      if (tx.hasCoins(view)) {
        const fee = tx.getFee(view);
        const min = bcoin.policy.getMinFee(tx.getVirtualSize(), REGTEST.minRelay);
        // bcoin would call an output sum above the input sum "insufficient priority"
        if (fee < 0) throw rejected('bad-txns-in-belowout', RPC_VERIFY_REJECTED);
        if (fee < min) throw rejected(`min relay fee not met, ${fee} < ${min}`, RPC_VERIFY_REJECTED);
      }
    }
    let missing: string[] | null;
    try {
      missing = await this.mempool.addTX(tx);
    } catch (e) {
      if (isVerifyError(e)) throw rejected(await this.explain(tx, e), RPC_VERIFY_REJECTED);
      throw e;
    }
    if (missing) {
      // bcoin would keep it as an orphan; Core's sendrawtransaction refuses it.
      this.mempool.removeOrphan(hash);
      throw rejected('bad-txns-inputs-missingorspent', RPC_VERIFY_ERROR);
    }
    return tx.txid();
  }

  /**
   * bcoin says only "(non-)mandatory-script-verify-flag", and calls a bad segwit signature
   * non-mandatory (its mandatory set is P2SH alone). Re-run the inputs as Core does: a failure under
   * Core's mandatory (consensus) flags is "mandatory-script-verify-flag-failed (<Core's text>)", one
   * only under the standard flags is "non-mandatory-...".
   */
  private async explain(tx: bcoin.TX, e: VerifyErrorLike): Promise<string> {
    if (!e.reason.endsWith('script-verify-flag')) return e.reason;
    const f = bcoin.Script.flags;
    // Bitcoin Core policy.h MANDATORY_SCRIPT_VERIFY_FLAGS (less TAPROOT, which bcoin 1.0.2 lacks)
    const mandatory = f.VERIFY_P2SH | f.VERIFY_DERSIG | f.VERIFY_NULLDUMMY | f.VERIFY_CHECKLOCKTIMEVERIFY | f.VERIFY_CHECKSEQUENCEVERIFY | f.VERIFY_WITNESS;
    const view = await this.mempool.getCoinView(tx);
    for (const [kind, flags] of [['mandatory', mandatory], ['non-mandatory', f.STANDARD_VERIFY_FLAGS]] as const) {
      for (let i = 0; i < tx.inputs.length; i++) {
        const input = tx.inputs[i];
        const coin = input ? view.getOutputFor(input) : null;
        if (!input || !coin) continue;
        try {
          tx.checkInput(i, coin, flags);
        } catch (se) {
          const code = (se as { code?: unknown }).code;
          const text = (typeof code === 'string' ? CORE_SCRIPT_ERRORS[code] : undefined) ?? errorMessage(se);
          return `${kind}-script-verify-flag-failed (${text}), input ${i}`;
        }
      }
    }
    return `${e.reason}-failed`;
  }

  // ---------------------------------------------------------------- reorg

  /**
   * Rewinds `depth` blocks and mines `newBlocks` (> depth) on the fork point, so the new branch wins.
   * Transactions of the rewound blocks go back to the mempool (as bitcoind does), except the ones in
   * `doubleSpend` and their descendants: for each of those, a transaction spending the same faucet
   * inputs back to the faucet is mined in the first new block, so the original can never confirm.
   * A doubleSpend txid may also be in the mempool (then `depth` may be 0).
   * @returns the new height and the removed blocks' hashes, oldest first.
   * @throws AgentError BAD_REQUEST for a depth or txid it cannot honour, NOT_FOUND for an unknown txid.
   */
  reorg(depth: number, newBlocks: number, doubleSpend: string[]): Promise<{ height: number; removed: string[] }> {
    return this.run(async () => {
      const tip = this.chain.tip;
      if (depth > tip.height) throw new AgentError('BAD_REQUEST', `depth ${depth} is beyond the genesis block (height ${tip.height})`);
      if (newBlocks <= depth) throw new AgentError('BAD_REQUEST', `newBlocks (${newBlocks}) must exceed depth (${depth}) for the new branch to win`);
      const forkHeight = tip.height - depth;
      const fork = await this.chain.getEntryByHeight(forkHeight);
      if (!fork) throw new AgentError('INTERNAL', `no block at height ${forkHeight}`);

      // What leaves the chain, in chain order, and what the mempool holds now.
      const removed: string[] = [];
      const rewound: bcoin.TX[] = [];
      const rewoundCoinbase = new Set<string>();
      for (let h = forkHeight + 1; h <= tip.height; h++) {
        const entry = await this.chain.getEntryByHeight(h);
        const block = entry ? await this.chain.getBlock(entry.hash) : null;
        if (!entry || !block) throw new AgentError('INTERNAL', `block at height ${h} is missing`);
        removed.push(entry.rhash());
        for (const tx of block.txs) {
          if (tx.isCoinbase()) rewoundCoinbase.add(tx.hash('hex'));
          else rewound.push(tx);
        }
      }
      const pool = [...this.mempool.map.values()].map((e) => e.tx);
      const known = new Map<string, bcoin.TX>();
      for (const tx of [...rewound, ...pool]) known.set(tx.hash('hex'), tx);

      // The double-spent transactions and everything that spends their outputs.
      const targets = new Set<string>();
      for (const txid of doubleSpend) {
        const hash = rev(txid);
        if (!known.has(hash)) {
          if (await this.chain.getMeta(hash)) throw new AgentError('BAD_REQUEST', `${txid} is confirmed below the fork point; reorg deeper to double-spend it`);
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
            const meta = await this.chain.getMeta(parent);
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
        const conflict = await this.conflictFor(original, known);
        await place(conflict, hash);
      }

      for (const hash of dead) {
        const entry = this.mempool.getEntry(hash);
        if (entry) this.mempool.evictEntry(entry);
      }

      let prev = fork;
      for (let i = 0; i < newBlocks; i++) {
        const job = await this.branchMiner.createJob(prev, this.faucetAddr);
        if (i === 0) {
          for (const tx of branchTxs) job.pushTX(tx, view);
          job.refresh();
        }
        const block = await this.branchMiner.cpu.mineAsync(job);
        if (!block) throw new AgentError('INTERNAL', 'mining a branch block was interrupted');
        const entry = await this.chain.add(block);
        if (!entry) throw new AgentError('INTERNAL', 'a branch block did not connect');
        prev = entry;
      }
      if (this.chain.tip.hash !== prev.hash) throw new AgentError('INTERNAL', 'the new branch did not become the best chain');

      await this.restoreMempool([...rewound, ...pool].filter((tx) => !dead.has(tx.hash('hex'))));
      for (const hash of dead) {
        const entry = this.mempool.getEntry(hash);
        if (entry) this.mempool.evictEntry(entry);
      }
      await this.persistMempool();
      return { height: this.chain.height, removed };
    });
  }

  /** A transaction spending the original's faucet inputs back to the faucet (fee taken from that output). */
  private async conflictFor(original: bcoin.TX, known: Map<string, bcoin.TX>): Promise<bcoin.TX> {
    const coins: bcoin.Coin[] = [];
    for (const input of original.inputs) {
      const { hash, index } = input.prevout;
      const parent = known.get(hash) ?? (await this.chain.getTX(hash));
      const output = parent?.outputs[index];
      if (parent && output?.script.toRaw().equals(this.faucetScript)) coins.push(bcoin.Coin.fromTX(parent, index, -1));
    }
    if (coins.length === 0) {
      throw new AgentError('BAD_REQUEST', `${original.txid()} spends no faucet coin; the devnet can only double-spend its own payments`);
    }
    const mtx = new bcoin.MTX();
    mtx.addOutput(this.faucetAddr, coins.reduce((s, c) => s + c.value, 0));
    await mtx.fund(coins, {
      changeAddress: this.faucetAddr,
      rate: FAUCET_FEE_RATE_SAT_PER_VB * 1000,
      selection: 'all',
      subtractFee: true,
    });
    mtx.sign(this.ring);
    return mtx.toTX();
  }

  /**
   * Puts transactions back into the mempool after a reorg. bcoin re-adds a rewound block's
   * transactions only when its mempool is non-empty at that moment, so we do it ourselves; a
   * transaction whose parent is not back yet is retried in the next round, one that cannot return
   * (its input was spent on the new branch) is dropped, as bitcoind drops it.
   */
  private async restoreMempool(txs: bcoin.TX[]): Promise<void> {
    let pending = txs;
    while (pending.length > 0) {
      const next: bcoin.TX[] = [];
      for (const tx of pending) {
        const hash = tx.hash('hex');
        if (this.mempool.hasEntry(hash) || (await this.chain.getMeta(hash))) continue;
        try {
          if (await this.mempool.addTX(tx)) {
            this.mempool.removeOrphan(hash);
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

  // ---------------------------------------------------------------- queries

  /** Hash of the best-chain block at `height`, or null beyond the tip. */
  blockHashAt(height: number): Promise<string | null> {
    return this.run(async () => (await this.chain.getEntryByHeight(height))?.rhash() ?? null);
  }

  /** A block of the best chain or of a losing branch, or null. */
  block(hash: string): Promise<BlockRecord | null> {
    return this.run(async () => {
      const internal = rev(hash);
      const entry = await this.chain.getEntryByHash(internal);
      if (!entry) return null;
      const raw = await this.chain.getRawBlock(internal);
      if (!raw) return null;
      const inBestChain = await this.chain.isMainChain(entry);
      const next = inBestChain ? await this.chain.getNextHash(internal) : null;
      return {
        hash,
        height: entry.height,
        medianTime: await this.chain.getMedianTime(entry),
        prevHash: entry.height === 0 ? null : rev(entry.prevBlock),
        raw,
        inBestChain,
        nextBest: next ? rev(next) : null,
      };
    });
  }

  /** A mempool or best-chain transaction, or null. */
  tx(txid: string): Promise<TxRecord | null> {
    return this.run(async () => {
      const hash = rev(txid);
      const entry = this.mempool.getEntry(hash);
      if (entry) return this.record(entry.tx, { confirmed: false });
      // bcoin's tx index holds best-chain transactions only (a disconnect un-indexes them).
      const meta = await this.chain.getMeta(hash);
      return meta ? this.record(meta.tx, this.confirmedStatus(meta)) : null;
    });
  }

  /** Unspent outputs paying exactly `script`, mempool ones included and mempool-spent ones excluded (as esplora). */
  utxos(script: Buffer): Promise<UtxoRecord[]> {
    return this.run(async () => {
      const addr = addressForScript(script);
      if (!addr) return [];
      const out: UtxoRecord[] = [];
      for (const c of this.mempool.getCoinsByAddress([addr])) {
        if (!c.script.toRaw().equals(script)) continue;
        out.push({ txid: rev(c.hash), vout: c.index, value: BigInt(c.value), status: { confirmed: false } });
      }
      const confirmed = (await this.chain.getCoinsByAddress([addr])).sort((a, b) => b.height - a.height);
      for (const c of confirmed) {
        if (!c.script.toRaw().equals(script) || this.mempool.isSpent(c.hash, c.index)) continue;
        const entry = await this.chain.getEntryByHeight(c.height);
        out.push({
          txid: rev(c.hash),
          vout: c.index,
          value: BigInt(c.value),
          status: { confirmed: true, blockHeight: c.height, blockHash: entry?.rhash(), blockTime: entry?.time },
        });
      }
      return out;
    });
  }

  /** Every transaction that pays or spends `script`. */
  history(script: Buffer): Promise<AddressHistory> {
    return this.run(async () => {
      const addr = addressForScript(script);
      if (!addr) return { mempool: [], confirmed: [] };
      const touches = (r: TxRecord, tx: bcoin.TX): boolean =>
        tx.outputs.some((o) => o.script.toRaw().equals(script)) || r.prevouts.some((p) => p?.script.equals(script) === true);

      const mempool: { record: TxRecord; time: number; order: number }[] = [];
      let order = 0;
      for (const tx of this.mempool.getTXByAddress([addr])) {
        const r = await this.record(tx, { confirmed: false });
        if (touches(r, tx)) mempool.push({ record: r, time: this.mempool.getEntry(tx.hash('hex'))?.time ?? 0, order: order++ });
      }
      mempool.sort((a, b) => b.time - a.time || b.order - a.order);

      const confirmed: { record: TxRecord; height: number; index: number }[] = [];
      for (const meta of await this.chain.getMetaByAddress([addr])) {
        const r = await this.record(meta.tx, this.confirmedStatus(meta));
        if (touches(r, meta.tx)) confirmed.push({ record: r, height: meta.height, index: meta.index });
      }
      confirmed.sort((a, b) => b.height - a.height || b.index - a.index);
      return { mempool: mempool.map((m) => m.record), confirmed: confirmed.map((c) => c.record) };
    });
  }

  private confirmedStatus(meta: bcoin.TXMeta): TxStatus {
    return { confirmed: true, blockHeight: meta.height, blockHash: rev(meta.block), blockTime: meta.time };
  }

  private async record(tx: bcoin.TX, status: TxStatus): Promise<TxRecord> {
    const prevouts: (PrevOut | null)[] = [];
    for (const input of tx.inputs) {
      if (tx.isCoinbase()) {
        prevouts.push(null);
        continue;
      }
      const { hash, index } = input.prevout;
      const parent = this.mempool.getTX(hash) ?? (await this.chain.getTX(hash));
      const output = parent?.outputs[index];
      prevouts.push(output ? { script: output.script.toRaw(), value: BigInt(output.value) } : null);
    }
    return { txid: tx.txid(), raw: tx.toRaw(), prevouts, status };
  }
}

/**
 * bdb 0.2 (bcoin's database layer) passes unset range bounds as `null` (`{gte: null, lte: null, ...}`),
 * which the leveldown 4 it was written for ignored. leveldown 6.1.1 (the version that builds on
 * Node 20) reads a null bound as a key, so every range scan on disk comes back empty: the address
 * index (the faucet's coins, /address/* answers) and the saved mempool would silently vanish.
 * Drop the unset bounds before they reach leveldown. In memory bdb uses its own backend, which is fine.
 */
function patchIterator(db: bcoin.BDB): void {
  const binding = db.binding;
  const iterator = binding.iterator.bind(binding);
  binding.iterator = (options) => iterator(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null && v !== undefined)));
}

/** bcoin indexes outputs by address hash; any script it cannot turn into an address is not indexed. */
function addressForScript(script: Buffer): bcoin.Address | null {
  try {
    return bcoin.Address.fromScript(bcoin.Script.fromRaw(script));
  } catch {
    return null;
  }
}
