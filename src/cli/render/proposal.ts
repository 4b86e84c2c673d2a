/** How the investor's commands show a proposal: text for a person, and the --json form (satoshis as JSON integers). */
import { formatBtc, satToJson } from '../../money/index.ts';
import type { Proposal } from '../client/parse-proposal.ts';
import type { Ui } from './ui.ts';

/** A proposal as the --json line shows it: the API's fields, as the agent sent them. */
export function proposalJson(p: Proposal): Record<string, unknown> {
  return {
    id: p.id,
    state: p.state,
    provider: p.provider,
    investmentSat: satToJson(p.investmentSat),
    depositSat: satToJson(p.depositSat),
    receivedSat: satToJson(p.receivedSat),
    ...(p.evaluation ? { evaluation: p.evaluation } : {}),
    ...(p.child ? { child: p.child } : {}),
    payments: p.payments.map((x) => ({ purpose: x.purpose, amountSat: satToJson(x.amountSat), txid: x.txid })),
    ...(p.refund ? { refund: { amountSat: satToJson(p.refund.amountSat), txid: p.refund.txid } } : {}),
    payback: { owedSat: satToJson(p.payback.owedSat), paidSat: satToJson(p.payback.paidSat), txids: p.payback.txids },
    ...(p.history ? { history: p.history } : {}),
  };
}

const sat = (n: bigint) => `${n} sat (${formatBtc(n)} BTC)`;

/** Every part of one proposal: state, money, evaluation with each check, payments, refund, payback, history. */
export function showProposal(ui: Ui, p: Proposal): void {
  ui.say(`proposal      ${p.id}`);
  ui.say(`state         ${p.state}`);
  ui.say(`provider      ${p.provider}`);
  ui.say(`investment    ${sat(p.investmentSat)}`);
  ui.say(`deposit       ${p.receivedSat} of ${p.depositSat} sat received`);
  if (p.evaluation) {
    const passed = p.evaluation.checks.filter((c) => c.passed).length;
    ui.say(`evaluation    ${p.evaluation.passed ? 'passed' : 'failed'} (${passed} of ${p.evaluation.checks.length} checks passed)`);
    for (const c of p.evaluation.checks) ui.say(`  ${c.passed ? 'pass' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  } else {
    ui.say('evaluation    not yet (it runs once the deposit is funded)');
  }
  if (p.child) ui.say(`child         ${p.child.nodeId} at ${p.child.url}`);
  if (p.payments.length === 0) ui.say('payments      none');
  else {
    ui.say('payments');
    for (const x of p.payments) ui.say(`  ${x.purpose}  ${x.amountSat} sat  ${x.txid ?? '(not yet broadcast)'}`);
  }
  if (p.refund) ui.say(`refund        ${sat(p.refund.amountSat)} to the payout address${p.refund.txid ? `, txid ${p.refund.txid}` : ' (not yet broadcast)'}`);
  ui.say(`payback       ${p.payback.paidSat} of ${p.payback.owedSat} sat paid${p.payback.txids.length ? ` (${p.payback.txids.join(', ')})` : ''}`);
  if (p.history) {
    ui.say('history');
    for (const h of p.history) ui.say(`  ${h.at}  ${h.state.padEnd(16)}  ${h.reason}`);
  }
}

/** One line per proposal, for `storj proposals`. */
export function showProposalList(ui: Ui, ps: Proposal[]): void {
  if (ps.length === 0) {
    ui.say('no proposals');
    return;
  }
  for (const p of ps) {
    const evaluation = p.evaluation ? (p.evaluation.passed ? 'evaluation passed' : 'evaluation failed') : 'not evaluated';
    ui.say(`${p.id}  ${p.state.padEnd(16)}  ${p.provider}  ${p.receivedSat}/${p.depositSat} sat  ${evaluation}`);
  }
}
