/**
 * Spend policy: the last line between a bug (or an attacker steering the agent) and the treasury.
 * Every outgoing payment is checked against a per-transaction cap and a rolling 24-hour cap before it
 * is broadcast, and recorded after.
 */
import { AgentError } from '../src/errors/index.ts';
import { formatBtc } from '../src/money/index.ts';

/** A record of spends. The agent provides a SQLite-backed one; MemorySpendLog is for tests and tools. */
export interface SpendLog {
  /** Sum of `amountSat` of every entry whose `at` is at or after `since` (inclusive, so a boundary spend counts). */
  sumSince(since: Date): bigint;
  append(entry: { txid: string; amountSat: bigint; at: Date }): void;
}

/** An in-memory SpendLog. */
export class MemorySpendLog implements SpendLog {
  readonly #entries: Array<{ txid: string; amountSat: bigint; at: Date }> = [];

  sumSince(since: Date): bigint {
    const t = since.getTime();
    let sum = 0n;
    for (const e of this.#entries) if (e.at.getTime() >= t) sum += e.amountSat;
    return sum;
  }

  append(entry: { txid: string; amountSat: bigint; at: Date }): void {
    this.#entries.push({ txid: entry.txid, amountSat: entry.amountSat, at: new Date(entry.at.getTime()) });
  }

  /** Copies of the entries, oldest first. */
  entries(): Array<{ txid: string; amountSat: bigint; at: Date }> {
    return this.#entries.map((e) => ({ ...e, at: new Date(e.at.getTime()) }));
  }
}

/** The per-day cap is a rolling window, not a calendar day: a calendar day would allow twice the cap across midnight. */
const SPEND_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface SpendPolicyOptions {
  /** Largest single payment, fee included (sat). */
  perTxMaxSat: bigint;
  /** Largest total of payments, fees included, in any 24 hours (sat). */
  perDayMaxSat: bigint;
  log: SpendLog;
  now: () => Date;
}

export class SpendPolicy {
  readonly perTxMaxSat: bigint;
  readonly perDayMaxSat: bigint;
  readonly #log: SpendLog;
  readonly #now: () => Date;

  /** @throws AgentError WALLET_BAD_ARGUMENT for a cap that is not a non-negative bigint */
  constructor(options: SpendPolicyOptions) {
    for (const [name, v] of [['perTxMaxSat', options.perTxMaxSat], ['perDayMaxSat', options.perDayMaxSat]] as const) {
      if (typeof v !== 'bigint' || v < 0n) throw new AgentError('WALLET_BAD_ARGUMENT', `${name} must be a non-negative bigint of satoshis`);
    }
    this.perTxMaxSat = options.perTxMaxSat;
    this.perDayMaxSat = options.perDayMaxSat;
    this.#log = options.log;
    this.#now = options.now;
  }

  /** What may still be spent in the current 24-hour window. */
  remainingTodaySat(): bigint {
    const left = this.perDayMaxSat - this.#spentInWindow();
    return left > 0n ? left : 0n;
  }

  /**
   * Refuses a payment of `amountSat` (amount plus fee) that would break either cap.
   * @throws AgentError WALLET_POLICY_REFUSED naming the cap that refused
   * @throws AgentError WALLET_BAD_ARGUMENT for a negative or non-bigint amount
   */
  check(amountSat: bigint): void {
    if (typeof amountSat !== 'bigint' || amountSat < 0n) throw new AgentError('WALLET_BAD_ARGUMENT', 'a spend amount must be a non-negative bigint');
    if (amountSat > this.perTxMaxSat) {
      throw new AgentError('WALLET_POLICY_REFUSED',
        `refused by the per-transaction cap: ${formatBtc(amountSat)} BTC (amount + fee) is above ${formatBtc(this.perTxMaxSat)} BTC`,
        { cap: 'perTx', amountSat: Number(amountSat), capSat: Number(this.perTxMaxSat) });
    }
    const spent = this.#spentInWindow();
    if (spent + amountSat > this.perDayMaxSat) {
      throw new AgentError('WALLET_POLICY_REFUSED',
        `refused by the per-day cap: ${formatBtc(spent)} BTC already spent in the last 24 h, plus ${formatBtc(amountSat)} BTC is above ${formatBtc(this.perDayMaxSat)} BTC`,
        { cap: 'perDay', amountSat: Number(amountSat), spentSat: Number(spent), capSat: Number(this.perDayMaxSat) });
    }
  }

  /** Records a payment that left (or may have left) the wallet. */
  record(txid: string, amountSat: bigint): void {
    this.#log.append({ txid, amountSat, at: this.#now() });
  }

  #spentInWindow(): bigint {
    return this.#log.sumSince(new Date(this.#now().getTime() - SPEND_WINDOW_MS));
  }
}
