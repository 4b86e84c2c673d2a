/**
 * Refunds: a proposal that is `rejected`, or that waited longer than the selection timeout after it was funded, or
 * whose deposit never reached its amount within that timeout after it was proposed, gets its account's balance back
 * on chain at its payout address, less the network fee. Money that reaches a proposal after its refund goes back
 * the same way, in a refund of its own.
 *
 * Never twice, even across a kill -9: the transaction is recorded (txid, hex and the coins it spends, 'pending') in
 * the moment between its signing and its broadcast (Treasury.payBack's `beforeBroadcast`), so a run that finds a
 * pending refund broadcasts that same transaction again instead of making a new one; a transaction the chain
 * already has is not sent again (Treasury.rebroadcast). A proposal has at most one pending refund, and a new one is
 * made only from what its account still holds, never from the coins an earlier one spent. Once the chain has it,
 * one transaction debits the account (the amount sent and the fee, each keyed by txid, so once), marks the refund
 * sent and moves the proposal to `refunded`.
 */
import type { Accounts } from '../ledger/index.ts';
import type { FamilyRepository, ProposalRow, RefundRow } from './repository.ts';
import { AWAITING_SELECTION, canMove } from './states.ts';
import { accountOf, type FamilyDeps } from './types.ts';

interface RefundCtx {
  repo: FamilyRepository;
  accounts: Accounts;
  deps: Pick<FamilyDeps, 'now' | 'payBack' | 'rebroadcast' | 'selectTimeoutSeconds'>;
}

export async function refundDue(ctx: RefundCtx): Promise<string> {
  const { repo, deps } = ctx;
  const failures: string[] = [];
  let done = 0;
  // First what an interruption left between signing and the chain: the same transaction, again.
  for (const r of repo.pendingRefunds()) {
    try {
      await deps.rebroadcast(r.txid, r.hex);
      if (finish(ctx, r)) done++;
    } catch (e) {
      failures.push(`${r.proposal_id.slice(0, 8)}: ${message(e)}`);
    }
  }
  const now = deps.now().getTime();
  const cutoff = BigInt(now - deps.selectTimeoutSeconds * 1000);
  const due: Array<{ p: ProposalRow; reason: string; later: boolean }> = [
    ...repo.inStates(['rejected']).map((p) => ({ p, reason: 'rejected by evaluation', later: false })),
    ...repo.fundedBefore(AWAITING_SELECTION, cutoff).map((p) => ({ p, reason: `not selected within ${deps.selectTimeoutSeconds} s of funding`, later: false })),
    ...repo.createdBefore('awaiting_deposit', cutoff).map((p) => ({ p, reason: `the deposit did not reach ${p.deposit_sat} sat within ${deps.selectTimeoutSeconds} s`, later: false })),
    // Flagged with no refund yet: refunded before its spawn (./spawn.ts, a quote above the proposal's).
    ...repo.refundDue().map((p) => ({ p, reason: repo.refundOf(p.id) ? 'paid after the refund' : 'not spawned', later: true })),
  ];
  for (const { p, reason, later } of due) {
    const earlier = repo.refundsOf(p.id);
    // One pending at a time; and a proposal already refunded is paid back again only for money that came later.
    if (earlier.some((r) => r.state === 'pending') || (!later && earlier.length > 0)) continue;
    const creditSat = ctx.accounts.balanceSat(accountOf(p.id));
    if (creditSat <= 0n) {
      if (later) repo.setRefundDue(p.id, false);
      continue;
    }
    let recorded: RefundRow | undefined;
    try {
      await deps.payBack({
        from: p.deposit_address,
        to: p.payout_address,
        creditSat,
        exclude: new Set(earlier.flatMap((r) => JSON.parse(r.inputs) as string[])),
        beforeBroadcast: (tx) => {
          // What the investor is charged as fee is what the account held less what was sent.
          recorded = { proposal_id: p.id, txid: tx.txid, hex: tx.hex, inputs: JSON.stringify(tx.inputs), amount_sat: tx.amountSat, fee_sat: creditSat - tx.amountSat, state: 'pending', reason };
          repo.insertRefund(recorded, BigInt(deps.now().getTime()));
        },
      });
      if (recorded && finish(ctx, recorded)) done++;
    } catch (e) {
      // Recorded and not known to have left: the next run broadcasts the same transaction again.
      failures.push(`${p.id.slice(0, 8)}: ${message(e)}`);
    }
  }
  const detail = `${done} refunded`;
  if (failures.length > 0) throw new Error(`${detail}; ${failures.length} failed: ${failures.join('; ').slice(0, 500)}`);
  return detail;
}

/**
 * Debits the account, marks the refund sent and the proposal refunded (or, already refunded, says so in its
 * history), in one transaction; false if already done. Money the account still holds then is due back too.
 */
function finish(ctx: RefundCtx, r: RefundRow): boolean {
  const { repo, accounts, deps } = ctx;
  const now = deps.now();
  const at = BigInt(now.getTime());
  return repo.transaction(() => {
    if (!repo.refundSent(r.txid, at)) return false;
    const account = accountOf(r.proposal_id);
    accounts.record(account, { kind: 'refund', ref: r.txid, amountSat: -r.amount_sat, at: now });
    accounts.record(account, { kind: 'fee', ref: r.txid, amountSat: -r.fee_sat, at: now });
    const p = repo.byId(r.proposal_id);
    const what = `${r.reason}: ${r.amount_sat} sat sent back in ${r.txid} (fee ${r.fee_sat} sat)`;
    if (p && canMove(p.state, 'refunded')) repo.move(p.id, p.state, 'refunded', at, what);
    else if (p?.state === 'refunded') repo.addHistory(p.id, 'refunded', at, what);
    repo.setRefundDue(r.proposal_id, repo.byId(r.proposal_id)?.state === 'refunded' && accounts.balanceSat(account) > 0n);
    return true;
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
