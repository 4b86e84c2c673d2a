/**
 * The family's payment sink: deposits to proposals' addresses, told by the payment watcher inside its own
 * transaction (src/chain/watcher-types.ts), become entries of the proposal's ledger account, and move the
 * proposal: funded once what counts reaches its deposit, and back to awaiting_deposit when a deposit leaves the
 * chain before the proposal is past evaluation. Payments to any other address are not the family's, nor is the
 * change a spawn's payment sends back to the deposit address (./spawn-payments.ts).
 *
 * Deposits never count unconfirmed: proposal addresses are not among those the watcher polls for 0-conf, and the
 * agent tells the watcher they may not count early (PaymentWatcherOptions.zeroConfAllowed), so a deposit counts
 * at the configured confirmations (with `confirmations` 0 the operator has chosen to count everything on sight).
 */
import type { PaymentSink, WatchedPayment } from '../chain/index.ts';
import type { Accounts } from '../ledger/index.ts';
import type { FamilyRepository } from './repository.ts';
import type { SpawnRepository } from './repository-spawns.ts';
import { BEFORE_EVALUATION } from './states.ts';
import { accountOf } from './types.ts';

/** What has come in for the account: deposits less their reversals (refunds and fees are not subtracted). */
export function receivedSat(accounts: Accounts, account: string): bigint {
  return accounts.entries(account).reduce((a, e) => (e.kind === 'deposit' || e.kind === 'reversal' ? a + e.amountSat : a), 0n);
}

export function familySink(deps: { repo: FamilyRepository; spawns: SpawnRepository; accounts: Accounts; now: () => Date }): PaymentSink {
  const { repo, accounts } = deps;
  const entry = (p: WatchedPayment, kind: 'deposit' | 'reversal'): void => {
    const proposal = repo.byAddress(p.address);
    // The change of a spawn's payment, back at the deposit address: the account was debited only with what left.
    if (!proposal || deps.spawns.isPaymentTx(p.txid)) return;
    const account = accountOf(proposal.id);
    const outpoint = `${p.txid}:${p.vout}`;
    const at = deps.now();
    // The k-th credit of an outpoint and the k-th reversal both carry `<outpoint>/<k>` (src/ledger/accounts.ts).
    const k = accounts.reversalsOf(account, outpoint);
    const recorded = accounts.record(account, { kind, ref: `${outpoint}/${k}`, amountSat: kind === 'deposit' ? p.valueSat : -p.valueSat, at });
    if (!recorded) return;
    const received = receivedSat(accounts, account);
    const ms = BigInt(at.getTime());
    if (kind === 'deposit' && proposal.state === 'refunded') {
      // Paid after the refund: it goes back too (./refunds.ts).
      repo.setRefundDue(proposal.id, true);
    } else if (kind === 'deposit' && proposal.state === 'awaiting_deposit' && received >= proposal.deposit_sat) {
      if (repo.move(proposal.id, 'awaiting_deposit', 'funded', ms, `received ${received} sat of ${proposal.deposit_sat} at ${p.confirmations} confirmation(s)`)) repo.setFunded(proposal.id, ms);
    } else if (kind === 'reversal' && BEFORE_EVALUATION.includes(proposal.state) && received < proposal.deposit_sat) {
      repo.move(proposal.id, proposal.state, 'awaiting_deposit', ms, `deposit ${outpoint} (${p.valueSat} sat) left the chain: ${received} of ${proposal.deposit_sat} sat now`);
    }
  };
  return {
    onCounted: (p) => entry(p, 'deposit'),
    onReversed: (p) => entry(p, 'reversal'),
  };
}
