/**
 * Paying a spawn's payment requests from the proposal's deposit, each at most once, even across a kill -9: the
 * intent (key, address, amount) is recorded with the server that asked for it (./spawn.ts), the signed transaction
 * is recorded before its one broadcast (Treasury.payFromDeposit's `beforeBroadcast`), and a signed transaction
 * found at the next run is broadcast again, never rebuilt. Once the chain has it, one transaction marks it sent and
 * debits the proposal's account with what was paid and the network fee, each keyed by txid.
 *
 * The change of such a transaction goes back to the deposit address; the family's payment sink knows it by its
 * txid (SpawnRepository.isPaymentTx) and does not count it as a deposit, since the account was debited only with
 * what left it.
 */
import type { Accounts } from '../ledger/index.ts';
import type { FamilyRepository, ProposalRow } from './repository.ts';
import type { SpawnPaymentRow, SpawnRepository } from './repository-spawns.ts';
import { accountOf, type FamilyDeps, type SpawnDeps } from './types.ts';

export interface PayCtx {
  repo: FamilyRepository;
  spawns: SpawnRepository;
  accounts: Accounts;
  deps: Pick<FamilyDeps, 'now' | 'rebroadcast'>;
  spawn: Pick<SpawnDeps, 'payFromDeposit'>;
}

/**
 * Broadcasts again every signed payment of the proposal and, with `intents`, pays every intent, oldest first.
 * @returns how many payments the chain took in this run
 * @throws whatever a payment meets (coins not yet confirmed, the chain unavailable): the rest wait for the next run
 */
export async function payOpen(ctx: PayCtx, p: ProposalRow, opts: { intents: boolean }): Promise<number> {
  const { spawns } = ctx;
  let paid = 0;
  for (const pay of spawns.openPayments(p.id)) {
    if (pay.state === 'signed' && pay.txid !== null && pay.hex !== null) {
      await ctx.deps.rebroadcast(pay.txid, pay.hex);
      if (finish(ctx, pay)) paid++;
      continue;
    }
    if (!opts.intents) continue;
    // Coins an earlier payment of this proposal spent, which the chain may not show as spent yet.
    const exclude = new Set(spawns.paymentsOf(p.id).flatMap((x) => (x.inputs === null ? [] : (JSON.parse(x.inputs) as string[]))));
    let signed: SpawnPaymentRow | undefined;
    await ctx.spawn.payFromDeposit({
      from: p.deposit_address,
      to: pay.address,
      amountSat: pay.amount_sat,
      exclude,
      beforeBroadcast: (tx) => {
        const row = { key: pay.key, txid: tx.txid, hex: tx.hex, inputs: JSON.stringify(tx.inputs), fee_sat: tx.feeSat };
        // Another run signed it first: this transaction must not go out.
        if (!spawns.paymentSigned(row)) throw new Error(`payment ${pay.payment_id} was signed by another run`);
        signed = { ...pay, ...row, state: 'signed' };
      },
    });
    if (signed && finish(ctx, signed)) paid++;
  }
  return paid;
}

/** Marks the payment sent and debits the account, in one transaction; false if already done. */
function finish(ctx: PayCtx, pay: SpawnPaymentRow): boolean {
  const { repo, spawns, accounts } = ctx;
  const now = ctx.deps.now();
  const at = BigInt(now.getTime());
  if (pay.txid === null) return false;
  const txid = pay.txid;
  const fee = pay.fee_sat ?? 0n;
  return repo.transaction(() => {
    if (!spawns.paymentSent(pay.key, at)) return false;
    const account = accountOf(pay.proposal_id);
    // The ledger's kinds for an account are deposit, reversal, refund and fee: what the provider was paid is an
    // expense of the proposal's, as the network fee is; the refs tell them apart.
    accounts.record(account, { kind: 'fee', ref: `spawn:${txid}`, amountSat: -pay.amount_sat, at: now });
    accounts.record(account, { kind: 'fee', ref: txid, amountSat: -fee, at: now });
    const p = repo.byId(pay.proposal_id);
    if (p) repo.addHistory(p.id, p.state, at, `paid ${pay.amount_sat} sat for ${pay.call} (the provider's ${pay.payment_id}) in ${txid}, fee ${fee} sat`);
    return true;
  });
}
