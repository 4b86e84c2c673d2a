/**
 * The check every payment request of a script passes before the agent pays it: within the quote, within the
 * proposal's budget, and each id paid at most once. Pure: the caller keeps what was paid (keyed, so that a
 * restart cannot pay twice) and passes it in.
 */
import type { Payment } from './schemas.ts';

export interface PaymentLimits {
  /** What the quote allows for this step (the spawn, a renewal), in sat. */
  quoteSat: bigint;
  /** What is left of the proposal's money for it, in sat. */
  budgetSat: bigint;
  /** The ids already paid for this proposal. */
  alreadyPaidIds: ReadonlySet<string> | readonly string[];
}

export type PaymentCheck = { ok: true; totalSat: bigint } | { ok: false; code: 'SANDBOX_PAYMENT_REFUSED'; reason: string };

/**
 * Accepts `requests` as a whole, or refuses them with the first reason: an id repeated in the list or already
 * paid, or a total above the quote or the budget. A partial payment is never proposed: a provider that asks
 * for more than was quoted gets nothing.
 */
export function checkPayments(requests: readonly Payment[], limits: PaymentLimits): PaymentCheck {
  const paid = new Set(limits.alreadyPaidIds);
  const seen = new Set<string>();
  let total = 0n;
  for (const p of requests) {
    if (p.amountSat <= 0n) return refuse(`payment ${p.id} asks for ${p.amountSat} sat: an amount must be positive`);
    if (paid.has(p.id)) return refuse(`payment ${p.id} was already paid`);
    if (seen.has(p.id)) return refuse(`payment ${p.id} is asked for twice`);
    seen.add(p.id);
    total += p.amountSat;
  }
  if (total > limits.quoteSat) return refuse(`the payments total ${total} sat, above the quote of ${limits.quoteSat} sat`);
  if (total > limits.budgetSat) return refuse(`the payments total ${total} sat, above the budget of ${limits.budgetSat} sat`);
  return { ok: true, totalSat: total };
}

function refuse(reason: string): PaymentCheck {
  return { ok: false, code: 'SANDBOX_PAYMENT_REFUSED', reason };
}
