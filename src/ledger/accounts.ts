/**
 * Accounts that are not files: an investor's proposal holds its deposit here (src/family). Amounts are satoshis,
 * since what comes in and goes out is on-chain money and nothing is metered by the byte. Like files' entries, account entries are append-only and each is recorded once: a second
 * call with the same (account, kind, ref) does nothing. Every method is synchronous; `record` runs inside the
 * caller's transaction when there is one (the payment watcher's), so the entry commits with whatever caused it.
 */
import type { Db } from '../db/index.ts';
import { AccountRepository } from './repository.ts';
import type { AccountEntryKind } from './types.ts';

export interface AccountEntry {
  kind: AccountEntryKind;
  ref: string;
  amountSat: bigint;
  at: Date;
}

export class Accounts {
  readonly #repo: AccountRepository;

  constructor(db: Db) {
    this.#repo = new AccountRepository(db);
  }

  /** Makes `account` (of `kind`) with a zero balance; an existing account is left as it is. */
  open(account: string, kind: 'proposal', at: Date): void {
    this.#repo.open(account, kind, BigInt(at.getTime()));
  }

  /**
   * Records an entry and moves the balance with it, once. A credit is positive, a debit negative; the balance may
   * go below zero (a reversal after a refund), which the caller decides what to do about.
   * @returns false when (account, kind, ref) was already recorded: nothing changed
   * @throws when the account was never opened (a foreign key)
   */
  record(account: string, e: AccountEntry): boolean {
    return this.#repo.record(account, e.kind, e.ref, e.amountSat, BigInt(e.at.getTime()));
  }

  /** The account's balance in sat (0 for an account never opened). */
  balanceSat(account: string): bigint {
    return this.#repo.balance(account) ?? 0n;
  }

  /** The account's entries, oldest first. */
  entries(account: string): AccountEntry[] {
    return this.#repo.entries(account).map((r) => ({ kind: r.kind, ref: r.ref, amountSat: r.amount_sat, at: new Date(Number(r.at)) }));
  }

  /**
   * How many times the payment at `outpoint` (`<txid>:<vout>`) to the account was reversed. As for files
   * (src/host/payments.ts), the k-th credit and the k-th reversal of an outpoint carry the ref `<outpoint>/<k>`,
   * so a payment that leaves the chain and comes back is credited again, and each step is recorded once.
   */
  reversalsOf(account: string, outpoint: string): bigint {
    // '0' is the character after '/': [`<outpoint>/`, `<outpoint>0`) holds exactly the refs `<outpoint>/...`.
    return this.#repo.count(account, 'reversal', `${outpoint}/`, `${outpoint}0`);
  }

  /** Accounts whose balance disagrees with the sum of their entries (should always be empty). */
  verify(): Array<{ account: string; balanceSat: bigint; sumSat: bigint }> {
    return this.#repo.mismatches();
  }
}
