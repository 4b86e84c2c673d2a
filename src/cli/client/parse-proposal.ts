/**
 * Parsers for the agent's answers about proposals (`POST /v1/proposals`, `GET /v1/proposals[/:id]`): every field
 * is checked, and every string that reaches the terminal is cleaned, as for the customer's answers (parse.ts).
 */
import { badResponse, clean, isRecord } from './api.ts';
import { ADDRESS, bip21, ID, oneOf, record, sat, str } from './parse.ts';

/** A proposal's states, in the order they are reached, then the two exits. */
export const PROPOSAL_STATES = [
  'awaiting_deposit',
  'funded',
  'evaluating',
  'rejected',
  'evaluated',
  'selected',
  'spawning',
  'testing',
  'proxied',
  'redirected',
  'adult',
  'terminated',
  'refunded',
] as const;
type ProposalState = (typeof PROPOSAL_STATES)[number];

const TXID = /^[0-9a-f]{64}$/;

/** The answer to a new proposal. */
export interface CreatedProposal {
  id: string;
  depositAddress: string;
  depositSat: bigint;
  bip21: string;
  state: ProposalState;
}
export function parseCreated(v: unknown): CreatedProposal {
  const w = 'new proposal';
  const o = record(v, w);
  const depositAddress = str(o, 'depositAddress', w, ADDRESS);
  return {
    id: str(o, 'id', w, ID),
    depositAddress,
    depositSat: sat(o, 'depositSat', w),
    bip21: bip21(o, 'bip21', w, depositAddress),
    state: oneOf(o, 'state', w, PROPOSAL_STATES),
  };
}

interface Check {
  name: string;
  passed: boolean;
  detail: string;
}
export interface Proposal {
  id: string;
  state: ProposalState;
  provider: string;
  investmentSat: bigint;
  depositSat: bigint;
  receivedSat: bigint;
  evaluation?: { passed: boolean; checks: Check[] };
  child?: { nodeId: string; url: string };
  payments: { purpose: string; amountSat: bigint; txid: string | null }[];
  refund?: { amountSat: bigint; txid: string | null };
  payback: { owedSat: bigint; paidSat: bigint; txids: string[] };
  /** Absent in the list, which leaves it out. */
  history?: { state: ProposalState; at: string; reason: string }[];
}

function bool(o: Record<string, unknown>, k: string, what: string): boolean {
  if (typeof o[k] !== 'boolean') throw badResponse(`${what}: "${k}" is not true or false`);
  return o[k];
}
function list(o: Record<string, unknown>, k: string, what: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw badResponse(`${what}: "${k}" is not a list`);
  return v;
}
/** A txid, or null for a payment not yet broadcast. */
function txidOrNull(o: Record<string, unknown>, k: string, what: string): string | null {
  return o[k] === null || o[k] === undefined ? null : str(o, k, what, TXID);
}
/** Free text (a check's detail, a transition's reason), cleaned and cut, since the agent may relay a script's words. */
function text(o: Record<string, unknown>, k: string, what: string): string {
  if (o[k] === null || o[k] === undefined) return '';
  return clean(str(o, k, what)).slice(0, 1000);
}

/** A time as the agent writes it: an ISO 8601 string, or milliseconds since the epoch (shown as ISO 8601). */
function instant(o: Record<string, unknown>, k: string, what: string): string {
  const v = o[k];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 8.64e15) return new Date(v).toISOString();
  return clean(str(o, k, what)).slice(0, 64);
}

/** One proposal; with `withHistory` its history is required (GET /v1/proposals/:id), else it is absent (the list). */
export function parseProposal(v: unknown, withHistory = true): Proposal {
  const w = 'proposal';
  const o = record(v, w);
  const p: Proposal = {
    id: str(o, 'id', w, ID),
    state: oneOf(o, 'state', w, PROPOSAL_STATES),
    provider: clean(str(o, 'provider', w)).slice(0, 64),
    investmentSat: sat(o, 'investmentSat', w),
    depositSat: sat(o, 'depositSat', w),
    receivedSat: sat(o, 'receivedSat', w),
    payments: list(o, 'payments', w).map((x) => {
      const r = record(x, `${w} payment`);
      return { purpose: text(r, 'purpose', `${w} payment`), amountSat: sat(r, 'amountSat', `${w} payment`), txid: txidOrNull(r, 'txid', `${w} payment`) };
    }),
    payback: (() => {
      const r = record(o.payback, `${w} payback`);
      return { owedSat: sat(r, 'owedSat', `${w} payback`), paidSat: sat(r, 'paidSat', `${w} payback`), txids: list(r, 'txids', `${w} payback`).map((t) => {
        if (typeof t !== 'string' || !TXID.test(t)) throw badResponse(`${w} payback: a txid is malformed`);
        return t;
      }) };
    })(),
  };
  if (o.evaluation !== undefined && o.evaluation !== null) {
    const e = record(o.evaluation, `${w} evaluation`);
    p.evaluation = {
      passed: bool(e, 'passed', `${w} evaluation`),
      checks: list(e, 'checks', `${w} evaluation`).map((c) => {
        const r = record(c, `${w} check`);
        return { name: clean(str(r, 'name', `${w} check`)).slice(0, 200), passed: bool(r, 'passed', `${w} check`), detail: text(r, 'detail', `${w} check`) };
      }),
    };
  }
  if (o.child !== undefined && o.child !== null) {
    const c = record(o.child, `${w} child`);
    p.child = { nodeId: clean(str(c, 'nodeId', `${w} child`)), url: clean(str(c, 'url', `${w} child`)) };
  }
  if (o.refund !== undefined && o.refund !== null) {
    const r = record(o.refund, `${w} refund`);
    p.refund = { amountSat: sat(r, 'amountSat', `${w} refund`), txid: txidOrNull(r, 'txid', `${w} refund`) };
  }
  if (withHistory || o.history !== undefined) {
    p.history = list(o, 'history', w).map((h) => {
      const r = record(h, `${w} history`);
      return { state: oneOf(r, 'state', `${w} history`, PROPOSAL_STATES), at: instant(r, 'at', `${w} history`), reason: text(r, 'reason', `${w} history`) };
    });
  }
  return p;
}

export function parseProposalList(v: unknown): Proposal[] {
  const o = record(v, 'proposals');
  if (!isRecord(o) || !Array.isArray(o.proposals)) throw badResponse('proposals: "proposals" is not a list');
  return o.proposals.map((p) => parseProposal(p, false));
}
