/**
 * The agent's own routes: its health, its public info, the proof of its identity, the operator's view, and on the
 * devnet the controls that pay, mine, move the clock and run a job. The customers' routes are the host module's
 * (src/host/routes.ts), and the code bundle's route is src/bundle/routes.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AgentError } from '../errors/index.ts';
import { bearer, devGuard as devOriginAndType, ErrorRef, Msat, Sat, tokenMatches, type ErrorEnvelope, type TypedApp } from '../http/index.ts';
import type { Config } from '../config/index.ts';
import type { JobRun } from '../scheduler/index.ts';

/** The devnet's controls, present only when the agent runs on the embedded regtest chain. */
export interface DevControl {
  pay(address: string, amountSat: bigint): Promise<string>;
  mine(blocks: number): Promise<number>;
}

export interface AgentRouteDeps {
  config: Config;
  info(): Info;
  /** The identity key's signature (hex) over `identityMessage(nonce)` (wallet/identity.ts), with the nodeId. */
  identity(nonce: string): IdentityProof;
  /** `ok`, or `degraded` with stable reasons (disk low, database not writable, chain backend not answering). */
  health(): Promise<{ status: 'ok' | 'degraded'; reasons: string[] }>;
  /** The operator's view (GET /v1/agent). */
  operator(): Promise<Record<string, unknown>>;
  dev?: DevControl | undefined;
  /** Scheduled work, for the devnet's advance and jobs endpoints. */
  jobs?: { advance(seconds: number): Promise<Date>; run(name: string): Promise<JobRun> } | undefined;
  /** The agent's own origin, which alone may use the devnet controls from a browser. */
  publicUrl: () => string;
}

const InfoSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  network: Type.Union([Type.Literal('mainnet'), Type.Literal('testnet'), Type.Literal('regtest')]),
  nodeId: Type.String({ description: 'hex ed25519 public key of the agent' }),
  codeHash: Type.String({ description: 'sha256 (hex) of the code bundle this agent runs and serves at GET /v1/bundle' }),
  prices: Type.Object({
    storageMsatPerGibDay: Msat('price of storing one GiB for one day'),
    egressMsatPerGib: Msat('price of sending one GiB'),
    minimumDepositSat: Sat('smallest payment accepted for an upload'),
    quoteTtlSeconds: Type.Integer(),
  }),
  confirmations: Type.Object({ required: Type.Integer(), zeroConfMaxSat: Sat('most that counts at 0 confirmations toward one file or quote, over all its payments') }),
  graceSeconds: Type.Integer(),
  maxFileSize: Type.Integer(),
});
export type Info = Static<typeof InfoSchema>;

const IdentityBody = Type.Object(
  { nonce: Type.String({ pattern: '^[0-9a-f]{64}$', description: '32 bytes chosen by the asker, as 64 lowercase hex characters' }) },
  { additionalProperties: false },
);
const IdentityReply = Type.Object({
  nodeId: Type.String({ description: 'hex ed25519 public key of the agent' }),
  signature: Type.String({ description: 'hex ed25519 signature by nodeId over the UTF-8 of "storj-agent/identity-nonce/v1:" followed by the nonce' }),
});
type IdentityProof = Static<typeof IdentityReply>;

const DevPayBody = Type.Object(
  { address: Type.String({ minLength: 14, maxLength: 90 }), amountSat: Type.Integer({ minimum: 1, maximum: 2_100_000_000_000_000 }) },
  { additionalProperties: false },
);
const DevMineBody = Type.Object({ blocks: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false });
const DevAdvanceBody = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10 * 365 * 86_400 }) }, { additionalProperties: false });
const DevAdvanceReply = Type.Object({ now: Type.String({ format: 'date-time' }) });
const DevJobParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
const DevJobReply = Type.Object({
  job: Type.String(),
  outcome: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('running')]),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
});
const DevPayReply = Type.Object({ txid: Type.String() });
const DevMineReply = Type.Object({ height: Type.Integer() });


/** The agent's own routes, for the server to register. */
export function agentRoutes(deps: AgentRouteDeps): (app: TypedApp) => void {
  return (app) => {
    // No response schema (a serializer built from one drops every field the schema does not name), so the reply
    // types of its two answers (README.md, "GET /healthz") are written here instead of inferred.
    app.get<{ Reply: { 200: { status: 'ok' }; 503: { status: 'degraded'; reasons: string[] } & ErrorEnvelope } }>('/healthz', { schema: { hide: true } }, async (_req, reply) => {
      const h = await deps.health();
      if (h.status === 'ok') return { status: 'ok' };
      // The body README.md gives a degraded agent ("GET /healthz"), with the error envelope every non-2xx answer carries.
      return reply.status(503).send({ status: 'degraded', reasons: h.reasons, error: { code: 'DEGRADED', message: `degraded: ${h.reasons.join(', ')}` } });
    });

    app.get('/v1/info', { onRequest: app.limit('free'), schema: { summary: 'Prices, network and limits', response: { 200: InfoSchema } } }, () => deps.info());

    // Cheap, but work done for anyone who asks: under the shared rate limit like every free route.
    app.post(
      '/v1/identity',
      { onRequest: app.limit('free'), schema: { summary: 'Prove the identity key: sign a nonce', body: IdentityBody, response: { 200: IdentityReply, 400: ErrorRef } } },
      (req) => deps.identity(req.body.nonce),
    );

    // Likewise the operator view has no 200 schema, so its reply types are written here.
    app.get<{ Reply: { 200: Record<string, unknown>; 401: ErrorEnvelope } }>('/v1/agent', { schema: { summary: 'Operator view (admin token)', response: { 401: ErrorRef } } }, async (req) => {
      if (!tokenMatches(bearer(req.headers.authorization), deps.config.adminToken)) {
        throw new AgentError('UNAUTHORIZED', 'a valid admin bearer token is required');
      }
      return deps.operator();
    });

    const devOnly = (): DevControl => {
      if (!deps.dev) throw new AgentError('DEVNET_ONLY', 'devnet endpoints exist only on the embedded regtest chain');
      return deps.dev;
    };
    // Checked before the body is read, so a non-devnet agent answers 404 whatever the body, and a page of another
    // origin or a body that is not JSON is refused before anything is parsed.
    const devGuard = devOriginAndType(deps.publicUrl, () => void devOnly());
    app.post(
      '/v1/dev/pay',
      { ...devGuard, schema: { summary: 'Devnet: the miner pays an address', body: DevPayBody, response: { 200: DevPayReply, 400: ErrorRef, 404: ErrorRef } } },
      async (req) => {
        const dev = devOnly();
        return { txid: await dev.pay(req.body.address, BigInt(req.body.amountSat)) };
      },
    );
    app.post(
      '/v1/dev/mine',
      { ...devGuard, schema: { summary: 'Devnet: mine blocks', body: DevMineBody, response: { 200: DevMineReply, 400: ErrorRef, 404: ErrorRef } } },
      async (req) => {
        const dev = devOnly();
        return { height: await dev.mine(req.body.blocks) };
      },
    );
    app.post(
      '/v1/dev/advance',
      { ...devGuard, schema: { summary: 'Devnet: move this agent\'s clock forward; scheduled work that fell due runs', body: DevAdvanceBody, response: { 200: DevAdvanceReply, 400: ErrorRef, 404: ErrorRef } } },
      async (req) => {
        if (!deps.jobs) throw new AgentError('DEVNET_ONLY', 'no scheduler');
        const now = await deps.jobs.advance(req.body.seconds);
        return { now: now.toISOString() };
      },
    );
    app.post(
      '/v1/dev/jobs/:name',
      { ...devGuard, schema: { summary: 'Devnet: run one scheduled job now', params: DevJobParams, response: { 200: DevJobReply, 404: ErrorRef } } },
      async (req) => {
        if (!deps.jobs) throw new AgentError('DEVNET_ONLY', 'no scheduler');
        // A job may run for minutes (a proposal's evaluation in the sandbox) without a byte either way: the
        // socket's idle timeout (src/http/connections.ts) would cut the answer off, so it waits while the job runs.
        const socket = req.raw.socket;
        const idleMs = socket.timeout ?? 0;
        socket.setTimeout(0);
        const r = await deps.jobs.run(req.params.name).finally(() => socket.setTimeout(idleMs));
        return { job: r.job, outcome: r.outcome, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null, detail: r.detail ?? null };
      },
    );
  };
}
