/**
 * The parser for `GET /v1/family`: an agent's own place in its family (its code hash, and its parent if it has
 * one) and its children. Every field is checked and every string that reaches the terminal is cleaned, as for the
 * other answers (parse.ts).
 */
import { badResponse, clean } from './api.ts';
import { httpUrl, ID, oneOf, record, sat, str } from './parse.ts';
import { PROPOSAL_STATES } from './parse-proposal.ts';

const NODE_ID = /^[0-9a-f]{64}$/;
const CODE_HASH = /^[0-9a-f]{64}$/;

interface FamilyMember {
  nodeId: string;
  url: string;
}

interface Child extends FamilyMember {
  proposalId: string;
  state: (typeof PROPOSAL_STATES)[number];
  since: string;
  codeHash: string | null;
  /** The share of customers routed to the child, 0 to 1, as the agent reports it (display only; never money). */
  trafficShare: number;
  revenueSat: bigint;
  shareOwedSat: bigint;
  sharePaidSat: bigint;
}

export interface Family {
  self: FamilyMember & { codeHash: string | null; parent?: FamilyMember };
  children: Child[];
}

function member(v: unknown, what: string): FamilyMember {
  const o = record(v, what);
  return { nodeId: str(o, 'nodeId', what, NODE_ID), url: httpUrl(o, 'url', what) };
}

function codeHash(o: Record<string, unknown>, what: string): string | null {
  return o.codeHash === null || o.codeHash === undefined ? null : str(o, 'codeHash', what, CODE_HASH);
}

function share(o: Record<string, unknown>, what: string): number {
  const v = o.trafficShare;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw badResponse(`${what}: "trafficShare" is not a share between 0 and 1`);
  return v;
}

function child(v: unknown, i: number): Child {
  const w = `child ${i + 1}`;
  const o = record(v, w);
  return {
    ...member(o, w),
    proposalId: str(o, 'proposalId', w, ID),
    state: oneOf(o, 'state', w, PROPOSAL_STATES),
    since: clean(str(o, 'since', w)),
    codeHash: codeHash(o, w),
    trafficShare: share(o, w),
    revenueSat: sat(o, 'revenueSat', w),
    shareOwedSat: sat(o, 'shareOwedSat', w),
    sharePaidSat: sat(o, 'sharePaidSat', w),
  };
}

export function parseFamily(v: unknown): Family {
  const w = 'family';
  const o = record(v, w);
  const s = record(o.self, 'family self');
  const children = o.children;
  if (!Array.isArray(children)) throw badResponse('family: "children" is not a list');
  return {
    self: { ...member(s, 'family self'), codeHash: codeHash(s, 'family self'), ...(s.parent !== undefined && s.parent !== null ? { parent: member(s.parent, 'family parent') } : {}) },
    children: children.map(child),
  };
}
