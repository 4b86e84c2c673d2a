/**
 * A proposal's states and the transitions allowed between them (docs/ARCHITECTURE.md; the API's states). Every
 * change goes through `canMove`, and is written with its history row in one transaction (./repository.ts).
 *
 * awaiting_deposit -> funded -> evaluating -> (rejected | evaluated) -> selected -> spawning -> testing -> proxied
 * -> redirected -> adult, with the exits `terminated` and `refunded`. Two steps back are allowed: a deposit that
 * leaves the chain (a reorg, a double spend) takes a proposal not yet past evaluation back to awaiting_deposit,
 * and a proposal left `evaluating` by an interruption is evaluated again from `evaluating` itself. A deposit that
 * never reached its amount is refunded from awaiting_deposit once the selection timeout has passed since the proposal.
 */
export const STATES = [
  'awaiting_deposit', 'funded', 'evaluating', 'rejected', 'evaluated', 'selected', 'spawning', 'testing', 'proxied',
  'redirected', 'adult', 'terminated', 'refunded',
] as const;

export type ProposalState = (typeof STATES)[number];

const TRANSITIONS: Readonly<Record<ProposalState, readonly ProposalState[]>> = {
  awaiting_deposit: ['funded', 'refunded'],
  funded: ['evaluating', 'awaiting_deposit', 'refunded'],
  evaluating: ['evaluated', 'rejected', 'awaiting_deposit', 'refunded'],
  rejected: ['refunded'],
  evaluated: ['selected', 'refunded'],
  selected: ['spawning', 'refunded'],
  spawning: ['testing', 'terminated'],
  testing: ['proxied', 'terminated'],
  proxied: ['redirected', 'terminated'],
  redirected: ['adult', 'terminated'],
  adult: ['terminated'],
  terminated: [],
  refunded: [],
};

/** True when a proposal in `from` may move to `to`. */
export function canMove(from: ProposalState, to: ProposalState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States a deposit's reversal takes back to awaiting_deposit: not yet past evaluation. */
export const BEFORE_EVALUATION: readonly ProposalState[] = ['funded', 'evaluating'];

/** States in which a proposal waits to be chosen: past the selection timeout it is refunded. */
export const AWAITING_SELECTION: readonly ProposalState[] = ['funded', 'evaluating', 'evaluated'];
