/**
 * The investors' routes: POST /v1/proposals, GET /v1/proposals/:id, GET /v1/proposals; and the family's:
 * POST /v1/family/register (a child, once, with its ticket) and GET /v1/family. A proposal's body carries a
 * script and a transcript, so its route has a body limit of its own (config `proposalBodyMaxBytes`) instead of the
 * server's 64 KiB. Nothing here returns or logs credentials: the request log holds no bodies (src/http/log.ts).
 */
import type { Static } from '@sinclair/typebox';
import { ErrorRef, type TypedApp } from '../http/index.ts';
import { satToJson } from '../money/index.ts';
import type { Family, ProposalView } from './family.ts';
import { FamilyReply, ProposalBodySchema, ProposalIdParams, ProposalList, ProposalReply, ProposedReply, RegisterBody, RegisteredReply, type ProposalSummary } from './route-schemas.ts';

export function familyRoutes(family: Family, opts: { bodyLimit: number }): (app: TypedApp) => void {
  return (app) => {
    app.post(
      '/v1/proposals',
      {
        bodyLimit: opts.bodyLimit,
        onRequest: app.limit('free'),
        schema: { summary: 'Propose a provider script with an investment', body: ProposalBodySchema, response: { 201: ProposedReply, 400: ErrorRef, 413: ErrorRef } },
      },
      async (req, reply) => {
        const p = family.propose(req.body);
        return reply.status(201).send({ id: p.id, depositAddress: p.depositAddress, depositSat: satToJson(p.depositSat), bip21: p.bip21, state: p.state });
      },
    );
    app.get('/v1/proposals/:id', { onRequest: app.limit('free'), schema: { summary: 'A proposal, its evaluation and its history', params: ProposalIdParams, response: { 200: ProposalReply, 404: ErrorRef } } }, (req) => {
      const v = family.get(req.params.id);
      return { ...summaryJson(v), history: v.history.map((h) => ({ state: h.state, at: h.at.toISOString(), reason: h.reason })) };
    });
    app.get('/v1/proposals', { onRequest: app.limit('free'), schema: { summary: 'Every proposal, newest first, without history', response: { 200: ProposalList } } }, () => ({
      proposals: family.list().map((v) => summaryJson(v)),
    }));
    app.post(
      '/v1/family/register',
      {
        onRequest: app.limit('free'),
        schema: { summary: 'A spawned child registers, once, with its one-time ticket', body: RegisterBody, response: { 201: RegisteredReply, 400: ErrorRef, 401: ErrorRef } },
      },
      async (req, reply) => reply.status(201).send(family.register(req.body)),
    );
    app.get('/v1/family', { onRequest: app.limit('free'), schema: { summary: 'This agent, its parent and its children', response: { 200: FamilyReply } } }, () => {
      const v = family.view();
      return {
        self: v.self,
        children: v.children.map((c) => ({ ...c, since: c.since.toISOString(), revenueSat: satToJson(c.revenueSat), shareOwedSat: satToJson(c.shareOwedSat), sharePaidSat: satToJson(c.sharePaidSat) })),
      };
    });
  };
}

function summaryJson(v: Omit<ProposalView, 'history'>): Static<typeof ProposalSummary> {
  return {
    id: v.id,
    state: v.state,
    provider: v.provider,
    investmentSat: satToJson(v.investmentSat),
    depositSat: satToJson(v.depositSat),
    receivedSat: satToJson(v.receivedSat),
    ...(v.evaluation ? { evaluation: v.evaluation } : {}),
    ...(v.child ? { child: v.child } : {}),
    payments: v.payments.map((p) => ({ purpose: p.purpose, amountSat: satToJson(p.amountSat), txid: p.txid })),
    ...(v.refund ? { refund: { amountSat: satToJson(v.refund.amountSat), txid: v.refund.txid } } : {}),
    payback: { owedSat: satToJson(v.payback.owedSat), paidSat: satToJson(v.payback.paidSat), txids: v.payback.txids },
  };
}
