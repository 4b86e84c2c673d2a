/**
 * Every statement the treasury runs against its own tables (wallet_addresses, its address book, and
 * wallet_spends, its spend log; created in ./schema.ts), prepared once when the treasury is built,
 * with the rows they return typed. The payment watcher's table is the watcher's (src/chain): the treasury asks
 * it for its coins.
 */
import type { Db } from '../db/index.ts';
import type { AddressPurpose } from './types.ts';

/** One of the operator's own addresses (receive or change). */
interface OwnAddressRow {
  address: string;
  chain: bigint;
  idx: bigint;
}

/** Where an address handed out sits in the wallet's tree. */
interface AddressPathRow {
  chain: bigint;
  idx: bigint;
  purpose: AddressPurpose;
}

export class TreasuryRepository {
  // the address book
  readonly #own;
  readonly #addressOfScript;
  readonly #byAddress;
  readonly #nextIndex;
  readonly #insertAddress;
  readonly #reserve;
  // the spend log
  readonly #spentSince;
  readonly #appendSpend;

  constructor(db: Db) {
    // The partial index wallet_addresses_own (src/treasury/schema.ts): a handful of rows, however many files there are.
    this.#own = db.prepare<[], OwnAddressRow>(`SELECT address, chain, idx FROM wallet_addresses WHERE purpose IN ('receive', 'change') ORDER BY chain, idx`);
    this.#addressOfScript = db.prepare<[Buffer], string>('SELECT address FROM wallet_addresses WHERE script = ?').pluck();
    this.#byAddress = db.prepare<[string], AddressPathRow>('SELECT chain, idx, purpose FROM wallet_addresses WHERE address = ?');
    this.#nextIndex = db.prepare<[number], bigint>('SELECT coalesce(max(idx) + 1, 0) AS next FROM wallet_addresses WHERE chain = ?').pluck();
    this.#insertAddress = db.prepare<[number, number, string, Buffer, AddressPurpose, bigint]>(
      'INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // Made once; its callback must not await (src/db/index.ts).
    this.#reserve = db.transaction(
      (chain: 0 | 1, purpose: AddressPurpose, at: bigint, derive: (index: number) => { address: string; script: Buffer }): { address: string; index: number } => {
        const index = Number(this.#nextIndex.get(chain) ?? 0n);
        const derived = derive(index);
        this.#insertAddress.run(chain, index, derived.address, derived.script, purpose, at);
        return { address: derived.address, index };
      },
    );

    this.#spentSince = db.prepare<[bigint], bigint>('SELECT coalesce(sum(amount_sat), 0) AS total FROM wallet_spends WHERE at >= ?').pluck();
    this.#appendSpend = db.prepare<[string, bigint, bigint]>('INSERT OR IGNORE INTO wallet_spends (txid, amount_sat, at) VALUES (?, ?, ?)');
  }

  // ---- the address book ----

  /**
   * Takes the next unused index on `chain`, derives its address with `derive` and records it, in one
   * transaction: an index is handed out once, ever. `derive` must not await.
   */
  reserveAddress(
    chain: 0 | 1,
    purpose: AddressPurpose,
    at: bigint,
    derive: (index: number) => { address: string; script: Buffer },
  ): { address: string; index: number } {
    // IMMEDIATE: the write lock from the start. Another process (the CLI beside a running agent, or the agent
    // beside it) that commits between the read of the next index and the insert would otherwise fail this
    // deferred transaction at once with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not wait out.
    return this.#reserve.immediate(chain, purpose, at, derive);
  }

  /** The receive and change addresses, by chain and index. */
  ownAddresses(): OwnAddressRow[] {
    return this.#own.all();
  }

  /** Where `address` sits in the wallet's tree, if the wallet handed it out. */
  /** The address whose output script is `script`, if it is one of ours (one lookup in its UNIQUE index). */
  addressOfScript(script: Buffer): string | undefined {
    return this.#addressOfScript.get(script);
  }

  addressPath(address: string): AddressPathRow | undefined {
    return this.#byAddress.get(address);
  }

  // ---- the spend log ----

  /** The sats spent at or after `since` (ms since the epoch). */
  spentSince(since: bigint): bigint {
    return this.#spentSince.get(since) ?? 0n;
  }

  /** Logs a payment out, once per txid. */
  appendSpend(txid: string, amountSat: bigint, at: bigint): void {
    this.#appendSpend.run(txid, amountSat, at);
  }
}
