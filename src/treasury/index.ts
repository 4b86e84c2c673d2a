/**
 * The agent's own money: the address book of everything the wallet handed out (in SQLite, so an address
 * is never handed out twice, even across a kill -9), its balance, and payments out under the spend policy.
 * Keys stay in wallet/; this module only asks the wallet to derive and to sign.
 */
export { TREASURY_SCHEMA } from './schema.ts';
import type { Db } from '../db/index.ts';
import { PaymentWatcher } from '../chain/index.ts';
import type { ChainBackend, CoinTotals, UnspentPayment } from '../chain/index.ts';
import { AgentError, isAgentError } from '../errors/index.ts';
import { P2WPKH_DUST_SAT, SpendPolicy, sweepFeeSat, type SpendLog, type Wallet, type WalletUtxo } from '../../wallet/index.ts';
import { TreasuryRepository } from './repository.ts';
import type { AddressPurpose } from './types.ts';

export type { AddressPurpose } from './types.ts';

function notSyncing(): never {
  throw new AgentError('INTERNAL', "the treasury's read-only payment watcher never syncs");
}

/** The spend log in SQLite, so the rolling per-day cap survives restarts. */
class DbSpendLog implements SpendLog {
  readonly #repo: TreasuryRepository;
  constructor(repo: TreasuryRepository) {
    this.#repo = repo;
  }
  sumSince(since: Date): bigint {
    return this.#repo.spentSince(BigInt(since.getTime()));
  }
  append(entry: { txid: string; amountSat: bigint; at: Date }): void {
    this.#repo.appendSpend(entry.txid, entry.amountSat, BigInt(entry.at.getTime()));
  }
}

export interface Balance {
  confirmedSat: bigint;
  unconfirmedSat: bigint;
  /** `held`: paid to an investor's deposit address, so the investor's money, which send() never spends. */
  utxos: Array<WalletUtxo & { confirmed: boolean; held?: true }>;
}

/** What the treasury asks of the payment watcher (src/chain/watcher.ts): the coins it has seen, never its table. */
export interface WatchedCoins {
  unspent(): UnspentPayment[];
  unspentTotals(except?: readonly string[]): CoinTotals;
}

/** The wallet's sums, without the coins: see Treasury.totals. */
export interface Totals {
  confirmedSat: bigint;
  unconfirmedSat: bigint;
  coins: number;
}

export interface TreasuryOptions {
  db: Db;
  wallet: Wallet;
  chain: ChainBackend;
  /**
   * The running agent's payment watcher. Without one (the `storj wallet` commands, with no agent running) the
   * treasury reads through a watcher of its own that never syncs: the coins are those the agent last recorded.
   */
  watched?: WatchedCoins;
  now?: () => Date;
  perTxMaxSat: bigint;
  perDayMaxSat: bigint;
  /** Confirmation target for fee estimates (blocks). */
  feeTargetBlocks?: number;
}

export class Treasury {
  readonly #repo: TreasuryRepository;
  readonly #wallet: Wallet;
  readonly #chain: ChainBackend;
  readonly #now: () => Date;
  readonly #policy: SpendPolicy;
  readonly #feeTarget: number;
  readonly #watched: WatchedCoins;

  constructor(opts: TreasuryOptions) {
    this.#repo = new TreasuryRepository(opts.db);
    this.#wallet = opts.wallet;
    this.#chain = opts.chain;
    this.#now = opts.now ?? (() => new Date());
    this.#feeTarget = opts.feeTargetBlocks ?? 6;
    this.#policy = new SpendPolicy({ perTxMaxSat: opts.perTxMaxSat, perDayMaxSat: opts.perDayMaxSat, log: new DbSpendLog(this.#repo), now: this.#now });
    this.#watched =
      opts.watched ??
      new PaymentWatcher({
        db: opts.db,
        chain: opts.chain,
        ours: (script) => this.addressOfScript(script),
        // Never synced, so neither the policy nor the sink is ever consulted.
        policy: { required: 1, zeroConfMaxSat: 0n },
        sink: { onCounted: notSyncing, onReversed: notSyncing },
      });
  }

  /**
   * Reserves the next unused index on a chain and records its address, in one transaction: an index is
   * handed out once, ever.
   */
  /**
   * The address whose output script is `script`, if the wallet handed it out: how the payment watcher tells our
   * outputs from the rest of a block (PaymentWatcherOptions.ours).
   */
  addressOfScript(script: Buffer): string | undefined {
    return this.#repo.addressOfScript(script);
  }

  newAddress(purpose: AddressPurpose): { address: string; chain: 0 | 1; index: number } {
    const chain: 0 | 1 = purpose === 'change' ? 1 : 0;
    const { address, index } = this.#repo.reserveAddress(chain, purpose, BigInt(this.#now().getTime()), (i) => {
      const derived = this.#wallet.deriveAddress(chain, i);
      return { address: derived.address, script: Buffer.from(derived.scriptHex, 'hex') };
    });
    return { address, chain, index };
  }

  /**
   * The wallet's coins. The operator's own addresses (receive and change, a handful) are asked of the chain
   * backend one by one, so an unconfirmed payment to them shows at once even with no agent running. Coins of
   * upload addresses (one per file, so possibly millions) come from the payment watcher instead, which the
   * running agent keeps current from whole blocks: asking about each would cost a request per file.
   * Lists every coin (send() chooses among them); totals() gives the sums alone.
   * @throws AgentError CHAIN_UNAVAILABLE / CHAIN_BAD_RESPONSE
   */
  async balance(signal?: AbortSignal): Promise<Balance> {
    const out: Balance = { confirmedSat: 0n, unconfirmedSat: 0n, utxos: [] };
    const add = (u: WalletUtxo & { confirmed: boolean; held?: true }) => {
      out.utxos.push(u);
      if (u.confirmed) out.confirmedSat += u.valueSat;
      else out.unconfirmedSat += u.valueSat;
    };
    const own = this.#ownAddresses();
    for (const u of await this.#ownCoins(own, signal)) add(u);
    const ownSet = new Set(own.map((a) => a.address));
    for (const c of this.#watched.unspent()) {
      if (ownSet.has(c.address)) continue;
      const a = this.#repo.addressPath(c.address);
      if (a) add({ txid: c.txid, vout: c.vout, valueSat: c.valueSat, chain: Number(a.chain) as 0 | 1, index: Number(a.idx), confirmed: c.confirmed, ...(a.purpose === 'proposal' ? { held: true as const } : {}) });
    }
    return out;
  }

  /**
   * The wallet's sums, as balance() counts them, without listing a coin: the own addresses from the chain
   * backend (a handful), the rest summed in SQL by the payment watcher over an index of unspent coins, so a
   * million files' addresses cost nothing here.
   * @throws AgentError CHAIN_UNAVAILABLE / CHAIN_BAD_RESPONSE
   */
  async totals(signal?: AbortSignal): Promise<Totals> {
    const own = this.#ownAddresses();
    const watched = this.#watched.unspentTotals(own.map((a) => a.address));
    const out: Totals = { ...watched };
    for (const u of await this.#ownCoins(own, signal)) {
      if (u.confirmed) out.confirmedSat += u.valueSat;
      else out.unconfirmedSat += u.valueSat;
      out.coins++;
    }
    return out;
  }

  /** The receive and change addresses, by index (not every address handed out). */
  #ownAddresses(): Array<{ address: string; chain: 0 | 1; index: number }> {
    return this.#repo.ownAddresses().map((r) => ({ address: r.address, chain: Number(r.chain) as 0 | 1, index: Number(r.idx) }));
  }

  /** The coins of `own` as the chain backend has them, eight addresses at a time. */
  async #ownCoins(own: Array<{ address: string; chain: 0 | 1; index: number }>, signal?: AbortSignal): Promise<Array<WalletUtxo & { confirmed: boolean }>> {
    const out: Array<WalletUtxo & { confirmed: boolean }> = [];
    const concurrency = 8;
    for (let i = 0; i < own.length; i += concurrency) {
      const batch = own.slice(i, i + concurrency);
      const results = await Promise.all(batch.map((a) => this.#chain.getAddressUtxos(a.address, signal)));
      results.forEach((utxos, j) => {
        const a = batch[j];
        if (!a) return;
        for (const u of utxos) out.push({ txid: u.txid, vout: u.vout, valueSat: u.valueSat, chain: a.chain, index: a.index, confirmed: u.confirmed });
      });
    }
    return out;
  }

  /** The fee rate for the configured target, in sat per 1000 vbytes. */
  async feeRate(signal?: AbortSignal): Promise<bigint> {
    const estimates = await this.#chain.getFeeEstimates(signal);
    const targets = [...estimates.keys()].sort((a, b) => a - b);
    const target = targets.find((t) => t >= this.#feeTarget) ?? targets[targets.length - 1];
    const rate = target === undefined ? undefined : estimates.get(target);
    // 1 sat/vB is Bitcoin Core's default minimum relay fee (DEFAULT_MIN_RELAY_TX_FEE = 1000 sat/kvB).
    return rate === undefined || rate < 1000n ? 1000n : rate;
  }

  /**
   * Pays `amountSat` to `to` from the wallet's coins, with change to a fresh change address, under the spend
   * policy; broadcast once, never retried. Coins paid to investors' deposit addresses are not the agent's and are
   * never chosen here: they go back to their investor (payBack), so a send cannot leave a refund without its coins.
   * @throws AgentError WALLET_POLICY_REFUSED, WALLET_INSUFFICIENT_FUNDS, WALLET_BAD_ADDRESS, WALLET_DUST, CHAIN_TX_REJECTED, CHAIN_UNAVAILABLE
   */
  async send(to: string, amountSat: bigint, opts: { feeRateSatPerKvb?: bigint; signal?: AbortSignal } = {}): Promise<{ txid: string; feeSat: bigint; changeSat: bigint }> {
    const feeRateSatPerKvb = opts.feeRateSatPerKvb ?? (await this.feeRate(opts.signal));
    const utxos = (await this.balance(opts.signal)).utxos.filter((u) => !u.held);
    if (utxos.length === 0) throw new AgentError('WALLET_INSUFFICIENT_FUNDS', 'the wallet has no coins', { neededSat: amountSat, availableSat: 0n });
    const change = this.newAddress('change');
    const result = await this.#wallet.send({
      to,
      amountSat,
      feeRateSatPerKvb,
      utxos,
      changeIndex: change.index,
      policy: this.#policy,
      broadcast: (hex) => this.#chain.broadcast(hex, opts.signal),
    });
    return { txid: result.txid, feeSat: result.feeSat, changeSat: result.changeSat };
  }

  /**
   * Pays back money held for someone else (an investor's deposit): spends only the confirmed coins received at
   * `from`, which must be one of the wallet's addresses, to `to`, paying `creditSat - fee`, with no change unless
   * the coins hold more than `creditSat`. The transaction is handed to `beforeBroadcast` (to be recorded) before it
   * is broadcast, once; whatever happens after that, the caller holds the transaction to broadcast again.
   *
   * The spend policy's caps are not applied: they bound what a bug or an intruder could pay of the agent's own
   * money per transaction and per day, while this spends coins that were never the agent's, only those paid to
   * `from`, and never more than `creditSat`. A large investment refunded under a per-transaction cap would be
   * stuck, which the investor's terms do not allow.
   * @throws AgentError WALLET_INSUFFICIENT_FUNDS when the coins at `from` no longer cover `creditSat` (spent
   *   elsewhere, or not yet confirmed), WALLET_DUST when the fee leaves nothing worth sending, WALLET_BAD_ADDRESS,
   *   CHAIN_TX_REJECTED, CHAIN_UNAVAILABLE
   */
  async payBack(opts: {
    from: string;
    to: string;
    creditSat: bigint;
    /** Outpoints (`<txid>:<vout>`) not to spend: those an earlier payment back spent, which the chain may not show yet. */
    exclude?: ReadonlySet<string>;
    beforeBroadcast: (tx: { txid: string; hex: string; inputs: string[]; amountSat: bigint; feeSat: bigint }) => void;
    signal?: AbortSignal;
  }): Promise<{ txid: string; amountSat: bigint; feeSat: bigint }> {
    const { coins, available, chain, index } = this.#heldCoins('payBack', opts.from, opts.exclude);
    if (available < opts.creditSat) throw new AgentError('WALLET_INSUFFICIENT_FUNDS', `the coins at the deposit address hold ${available} sat, less than the ${opts.creditSat} sat to pay back`, { neededSat: opts.creditSat, availableSat: available });
    const feeRateSatPerKvb = await this.feeRate(opts.signal);
    const feeSat = sweepFeeSat(coins.length, opts.to, this.#wallet.network, feeRateSatPerKvb);
    const amountSat = opts.creditSat - feeSat;
    if (amountSat <= 0n) throw new AgentError('WALLET_DUST', `the fee (${feeSat} sat) takes all of the ${opts.creditSat} sat to pay back`, { valueSat: Number(amountSat), dustSat: Number(feeSat) });
    const change = this.newAddress('change');
    const built = this.#wallet.buildTransaction({
      utxos: coins.map((c) => ({ txid: c.txid, vout: c.vout, valueSat: c.valueSat, chain, index })),
      outputs: [{ address: opts.to, valueSat: amountSat }],
      feeRateSatPerKvb,
      change: { index: change.index },
    });
    opts.beforeBroadcast({ txid: built.txid, hex: built.hex, inputs: built.inputs.map((i) => `${i.txid}:${i.vout}`), amountSat, feeSat: built.feeSat });
    await this.#chain.broadcast(built.hex, opts.signal);
    return { txid: built.txid, amountSat, feeSat: built.feeSat };
  }

  /**
   * Pays `amountSat` to `to` out of money held for someone else (a proposal's deposit, for its spawn): spends only
   * the confirmed coins at `from` (one of the wallet's addresses), and sends what is left, less the fee, back to
   * `from` itself, so it stays the investor's (a remainder below the dust limit goes to the fee). As payBack, the
   * transaction goes to `beforeBroadcast` (to be recorded) before its one broadcast, and the spend policy's caps are
   * not applied: these coins were never the agent's, and the caller checked the amount against the proposal's quote
   * and budget.
   * @returns the fee, and the change sent back to `from` (0 when there was none)
   * @throws AgentError WALLET_INSUFFICIENT_FUNDS when the confirmed coins at `from` (less `exclude`) do not cover
   *   the amount and its fee, WALLET_DUST, WALLET_BAD_ADDRESS, CHAIN_TX_REJECTED, CHAIN_UNAVAILABLE
   */
  async payFromDeposit(opts: {
    from: string;
    to: string;
    amountSat: bigint;
    /** Outpoints (`<txid>:<vout>`) an earlier payment spent, which the chain may not show as spent yet. */
    exclude?: ReadonlySet<string>;
    beforeBroadcast: (tx: { txid: string; hex: string; inputs: string[]; feeSat: bigint }) => void;
    signal?: AbortSignal;
  }): Promise<{ txid: string; feeSat: bigint; changeSat: bigint }> {
    const { coins, available, chain, index } = this.#heldCoins('payFromDeposit', opts.from, opts.exclude);
    const feeRateSatPerKvb = await this.feeRate(opts.signal);
    // The fee of every coin in, the payment and the change (a P2WPKH output, as the deposit address is) out.
    const fullFee = sweepFeeSat(coins.length, opts.to, this.#wallet.network, feeRateSatPerKvb);
    const rest = available - opts.amountSat - fullFee;
    if (coins.length === 0 || rest < 0n) {
      throw new AgentError('WALLET_INSUFFICIENT_FUNDS', `the confirmed coins at the deposit address hold ${available} sat, less than the ${opts.amountSat} sat to pay and its fee`, { neededSat: opts.amountSat + fullFee, availableSat: available });
    }
    const outputs = [{ address: opts.to, valueSat: opts.amountSat }];
    if (rest >= P2WPKH_DUST_SAT) outputs.push({ address: opts.from, valueSat: rest });
    const change = this.newAddress('change');
    const built = this.#wallet.buildTransaction({
      utxos: coins.map((c) => ({ txid: c.txid, vout: c.vout, valueSat: c.valueSat, chain, index })),
      outputs,
      feeRateSatPerKvb,
      change: { index: change.index },
    });
    // Every coin goes in and nothing to the agent's own change: what is not paid or the fee is the investor's.
    if (built.changeSat > 0n || built.inputs.length !== coins.length) throw new AgentError('INTERNAL', 'payFromDeposit: the transaction does not spend the deposit exactly');
    opts.beforeBroadcast({ txid: built.txid, hex: built.hex, inputs: built.inputs.map((i) => `${i.txid}:${i.vout}`), feeSat: built.feeSat });
    await this.#chain.broadcast(built.hex, opts.signal);
    return { txid: built.txid, feeSat: built.feeSat, changeSat: rest >= P2WPKH_DUST_SAT ? rest : 0n };
  }

  /**
   * The confirmed coins at `from`, one of the wallet's addresses holding someone else's money (a deposit), but
   * `exclude`; with their total and the address's derivation path.
   * @throws AgentError INTERNAL when `from` is not the wallet's
   */
  #heldCoins(caller: string, from: string, exclude?: ReadonlySet<string>): { coins: ReturnType<WatchedCoins['unspent']>; available: bigint; chain: 0 | 1; index: number } {
    const path = this.#repo.addressPath(from);
    if (!path) throw new AgentError('INTERNAL', `${caller}: the address is not one of the wallet's`);
    const coins = this.#watched.unspent().filter((c) => c.address === from && c.confirmed && !exclude?.has(`${c.txid}:${c.vout}`));
    return { coins, available: coins.reduce((a, c) => a + c.valueSat, 0n), chain: Number(path.chain) as 0 | 1, index: Number(path.idx) };
  }

  /**
   * Broadcasts again a transaction recorded before an interruption. Harmless if it went out the first time: a
   * transaction the chain already knows (in a block or in the mempool) is not sent again.
   * @returns 'known' when the chain already had it, 'sent' when it took it now
   * @throws AgentError CHAIN_TX_REJECTED when the chain refuses it and does not know it (its coins were spent by
   *   another transaction), CHAIN_UNAVAILABLE
   */
  async rebroadcast(txid: string, hex: string, signal?: AbortSignal): Promise<'known' | 'sent'> {
    if (await this.#knows(txid, signal)) return 'known';
    try {
      await this.#chain.broadcast(hex, signal);
      return 'sent';
    } catch (e) {
      // Mined or accepted between the look and the broadcast: the node refuses a transaction it already has.
      if (isAgentError(e, 'CHAIN_TX_REJECTED') && (await this.#knows(txid, signal))) return 'known';
      throw e;
    }
  }

  async #knows(txid: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#chain.getTxStatus(txid, signal);
      return true;
    } catch (e) {
      if (isAgentError(e, 'CHAIN_NOT_FOUND')) return false;
      throw e;
    }
  }
}
