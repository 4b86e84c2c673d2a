/**
 * The 0-conf part of the payment watcher's confirmation policy (docs/payments.md): which payments seen in the
 * mempool may count before their confirmations, and how much of them may.
 *
 * - Eligibility is decided once, when a payment is first seen unconfirmed. A transaction that signals
 *   replacement (BIP125) invites its own double spend, and one that spends an unconfirmed parent vanishes
 *   with that parent, which may be replaced or evicted; neither counts before it confirms.
 * - The amount is capped per address (one file or quote: they share it) and across the agent, summed over
 *   every payment that counts and is not in a block. A payment over either cap waits for its confirmations.
 */
import { isAgentError } from '../errors/index.ts';
import type { ChainBackend, MempoolTx } from './types.ts';
import { signalsReplacement } from './validate.ts';

/**
 * Whether `tx`, seen in the mempool, may count before its confirmations: it does not signal replacement and
 * every parent is in a block. `parents` caches each parent's answer (txid -> confirmed) for one pass, so a
 * parent shared by many transactions is asked about once. A parent the backend does not know counts as
 * unconfirmed. The sequences are checked here too, so a backend that forgets `rbf` cannot open the door.
 * @throws AgentError CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE from the backend; the signal's reason when aborted
 */
export async function mayCountUnconfirmed(chain: ChainBackend, tx: MempoolTx, parents: Map<string, boolean>, signal?: AbortSignal): Promise<boolean> {
  if (tx.rbf || signalsReplacement(tx.inputs)) return false;
  for (const txid of new Set(tx.inputs.map((i) => i.txid))) {
    let confirmed = parents.get(txid);
    if (confirmed === undefined) {
      try {
        confirmed = (await chain.getTxStatus(txid, signal)).confirmed;
      } catch (e) {
        if (!isAgentError(e, 'CHAIN_NOT_FOUND')) throw e;
        confirmed = false;
      }
      parents.set(txid, confirmed);
    }
    if (!confirmed) return false;
  }
  return true;
}

/**
 * What may still count unconfirmed within one policy step (one SQLite transaction). Admission is in the
 * caller's order, so the same rows in the same order always give the same answer.
 */
export class ZeroConfBudget {
  readonly #perAddress = new Map<string, bigint>();
  #total: bigint;

  /**
   * @param exposureOf the sum of an address's payments that count and are not in a block
   * @param total the same sum across the agent
   */
  constructor(
    private readonly exposureOf: (address: string) => bigint,
    total: bigint,
    private readonly addressMaxSat: bigint,
    private readonly totalMaxSat: bigint,
  ) {
    this.#total = total;
  }

  /** Takes `valueSat` from both caps and returns true, or takes nothing and returns false when either would be exceeded. */
  admit(address: string, valueSat: bigint): boolean {
    const used = this.#perAddress.get(address) ?? this.exposureOf(address);
    if (used + valueSat > this.addressMaxSat || this.#total + valueSat > this.totalMaxSat) {
      this.#perAddress.set(address, used);
      return false;
    }
    this.#perAddress.set(address, used + valueSat);
    this.#total += valueSat;
    return true;
  }
}
