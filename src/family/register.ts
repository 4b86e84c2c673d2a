/**
 * A child's registration (POST /v1/family/register) and the family as GET /v1/family shows it.
 *
 * A child registers once, at first boot, with the one-time ticket from its user data: the ticket must be one the
 * parent issued (only its sha256 is kept) and not yet spent, for a proposal still `spawning`, and the body must
 * be signed by the nodeId it names (the canonical JSON of the other fields, wallet/'s verifySignedFields). The
 * ticket is spent, the child stored and the proposal moved to `testing` in one transaction, so a second
 * registration with the same ticket, even at the same moment, gets FAMILY_BAD_TICKET.
 */
import { AgentError } from '../errors/index.ts';
import type { MetaStore } from '../db/index.ts';
import { verifySignedFields, type SignedRegistration } from '../../wallet/index.ts';
import type { FamilyRepository } from './repository.ts';
import type { SpawnRepository } from './repository-spawns.ts';
import { sha256 } from './spawn.ts';
import type { ProposalState } from './states.ts';

/** A child's registration, as wallet/ signs it (signedRegistration) and the parent checks it. */
export type Registration = SignedRegistration;

/**
 * @throws AgentError FAMILY_BAD_TICKET (unknown or spent ticket, or its proposal no longer spawning),
 *   FAMILY_BAD_SIGNATURE
 */
export function register(ctx: { repo: FamilyRepository; spawns: SpawnRepository; now: () => Date }, body: Registration): { proposalId: string } {
  const { repo, spawns } = ctx;
  const hash = sha256(body.ticket);
  const s = spawns.byTicket(hash);
  const p = s ? repo.byId(s.proposal_id) : undefined;
  const bad = (): AgentError => new AgentError('FAMILY_BAD_TICKET', 'the ticket is unknown or already used');
  if (!s || !p || s.ticket_used !== 0n || s.server_id === null || p.state !== 'spawning') throw bad();
  if (!verifySignedFields({ ...body }, body.nodeId)) throw new AgentError('FAMILY_BAD_SIGNATURE', 'the signature is not nodeId\'s over the canonical JSON of the other fields');
  const at = BigInt(ctx.now().getTime());
  const ok = repo.transaction(() => {
    if (!spawns.useTicket(hash, { nodeId: body.nodeId, url: body.url, codeHash: body.codeHash, accountXpub: body.accountXpub }, at)) return false;
    if (!repo.move(p.id, 'spawning', 'testing', at, `child ${body.nodeId.slice(0, 16)} registered at ${body.url}`)) throw bad();
    return true;
  });
  if (!ok) throw bad();
  return { proposalId: p.id };
}

export interface FamilyView {
  self: { nodeId: string; url: string; codeHash?: string; parent?: { nodeId: string; url: string } };
  children: Array<{
    proposalId: string;
    nodeId: string;
    url: string;
    state: ProposalState;
    since: Date;
    codeHash: string;
    trafficShare: number;
    revenueSat: bigint;
    shareOwedSat: bigint;
    sharePaidSat: bigint;
  }>;
}

/** The most children GET /v1/family lists. */
const CHILDREN_MAX = 1000;

/** This agent and its registered children; its parent from meta `family.parent` (written by a child at first boot). */
export function familyView(ctx: { repo: FamilyRepository; spawns: SpawnRepository; meta: MetaStore; nodeId: string; url: string; codeHash: string | undefined }): FamilyView {
  const parent = parentOf(ctx.meta.get('family.parent'));
  const children: FamilyView['children'] = [];
  for (const s of ctx.spawns.registered(CHILDREN_MAX)) {
    const p = ctx.repo.byId(s.proposal_id);
    if (!p || s.child_node_id === null || s.child_url === null || s.registered_at === null) continue;
    // Traffic and revenue come with the proxy and the audit of children; nothing is routed to a child yet.
    children.push({
      proposalId: p.id, nodeId: s.child_node_id, url: s.child_url, state: p.state, since: new Date(Number(s.registered_at)),
      codeHash: s.child_code_hash ?? '', trafficShare: 0, revenueSat: 0n, shareOwedSat: 0n, sharePaidSat: 0n,
    });
  }
  return { self: { nodeId: ctx.nodeId, url: ctx.url, ...(ctx.codeHash ? { codeHash: ctx.codeHash } : {}), ...(parent ? { parent } : {}) }, children };
}

function parentOf(raw: string | undefined): { nodeId: string; url: string } | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as { nodeId?: unknown; url?: unknown };
    return typeof v.nodeId === 'string' && typeof v.url === 'string' ? { nodeId: v.nodeId, url: v.url } : undefined;
  } catch {
    return undefined;
  }
}
