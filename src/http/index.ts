/**
 * The HTTP server (fastify): routes, the one error mapping, and the OpenAPI document generated from the same
 * schemas that validate requests. What the routes do is passed in (`ServerDeps`), so the server knows nothing
 * about wallets or chains and tests can build it with real parts.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AgentError } from '../errors/index.ts';
import type { Config } from '../config/index.ts';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './errors.ts';
import { installConnections, serverTimeoutOptions, type Connections } from './connections.ts';
import { installLimits } from './limits.ts';
import { devGuard as devOriginAndType } from './dev-guard.ts';
import { bearer, tokenMatches } from './auth.ts';
import { registerHostRoutes } from './routes-host.ts';
import { registerMetrics } from './metrics-route.ts';
import type { AgentMetrics } from '../metrics/index.ts';
import type { Host } from '../host/index.ts';
import type { JobRun } from '../scheduler/index.ts';
import { DevAdvanceBody, DevAdvanceReply, DevJobParams, DevJobReply, DevMineBody, DevMineReply, DevPayBody, DevPayReply, ErrorRef, ErrorSchema, InfoSchema, type ErrorEnvelope, type Info } from './schemas.ts';

export type { Info } from './schemas.ts';
export { loggerOptions } from './log.ts';
export { startMetricsListener, type MetricsListener } from './metrics-route.ts';

/** The devnet's controls, present only when the agent runs on the embedded regtest chain. */
export interface DevControl {
  pay(address: string, amountSat: bigint): Promise<string>;
  mine(blocks: number): Promise<number>;
}

export interface ServerDeps {
  config: Config;
  info(): Info;
  /** `ok`, or `degraded` with stable reasons (disk low, database not writable, chain backend not answering). */
  health(): Promise<{ status: 'ok' | 'degraded'; reasons: string[] }>;
  /** The operator's view (GET /v1/agent). */
  operator(): Promise<Record<string, unknown>>;
  dev?: DevControl | undefined;
  /** Scheduled work, for the devnet's advance and jobs endpoints. */
  jobs?: { advance(seconds: number): Promise<Date>; run(name: string): Promise<JobRun> } | undefined;
  /** The base of links handed out (download URLs); default config.publicUrl. */
  publicUrl?: () => string;
  /** The customers' side; absent in tests of the bare server. */
  host?: Host | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Counts every response, and serves them at GET /metrics behind the admin token. */
  metrics?: AgentMetrics | undefined;
}


declare module 'fastify' {
  interface FastifyInstance {
    /** Closes the server, destroying whatever connections are still open after `timeoutMs` (src/http/connections.ts). */
    closeWithin(timeoutMs: number): Promise<void>;
  }
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  // Set once the server exists; the client error handler runs only after that.
  const ref: { connections?: Connections } = {};
  const app = Fastify({
    logger: deps.logger ?? false,
    // Reject unknown fields instead of silently dropping them (a typo must not pass unnoticed), and never coerce
    // types. Verbose, so a failed pattern can be explained by its field's description (src/http/errors.ts).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false, verbose: true } },
    bodyLimit: 64 * 1024,
    // The 503 while closing is SHUTTING_DOWN in the envelope (src/http/connections.ts), not fastify's own body.
    return503OnClosing: false,
    trustProxy: deps.config.trustProxy,
    ...serverTimeoutOptions(deps.config),
    frameworkErrors,
    clientErrorHandler: clientErrorHandler((socket) => ref.connections?.inFlight(socket)),
  });
  installErrorHandling(app);
  if (deps.metrics) registerMetrics(app, deps.metrics, deps.config.adminToken);
  // JSON in and out (the OpenAPI document at /v1/openapi.json): any other body is 415, not a string the schema then rejects. The upload PUT takes
  // every type in its own scope (src/http/routes-host.ts).
  app.removeContentTypeParser('text/plain');
  const connections = installConnections(app, deps.config);
  ref.connections = connections;
  app.decorate('closeWithin', (timeoutMs: number) => connections.close(timeoutMs));
  await installLimits(app, deps.config);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'storj-agent', version: deps.info().version, description: 'Pay-per-use file hosting paid in bitcoin. Errors are {"error": {"code", "message"}}.' },
    },
  });
  app.addSchema(ErrorSchema);
  // Every route from here on takes its request and reply types from its TypeBox schemas (the type provider only
  // types; validation is still fastify's ajv with the options above).
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  // No response schema (a serializer built from one drops every field the schema does not name), so the reply
  // types of its two answers (README.md, "GET /healthz") are written here instead of inferred.
  api.get<{ Reply: { 200: { status: 'ok' }; 503: { status: 'degraded'; reasons: string[] } & ErrorEnvelope } }>('/healthz', { schema: { hide: true } }, async (_req, reply) => {
    const h = await deps.health();
    if (h.status === 'ok') return { status: 'ok' };
    // The body README.md gives a degraded agent ("GET /healthz"), with the error envelope every non-2xx answer carries.
    return reply.status(503).send({ status: 'degraded', reasons: h.reasons, error: { code: 'DEGRADED', message: `degraded: ${h.reasons.join(', ')}` } });
  });

  api.get('/v1/info', { onRequest: app.limit('free'), schema: { summary: 'Prices, network and limits', response: { 200: InfoSchema } } }, () => deps.info());

  api.get('/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());

  // Likewise the operator view has no 200 schema, so its reply types are written here.
  api.get<{ Reply: { 200: Record<string, unknown>; 401: ErrorEnvelope } }>('/v1/agent', { schema: { summary: 'Operator view (admin token)', response: { 401: ErrorRef } } }, async (req) => {
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
  const devGuard = devOriginAndType(deps.publicUrl ?? (() => deps.config.publicUrl), () => void devOnly());
  api.post(
    '/v1/dev/pay',
    { ...devGuard, schema: { summary: 'Devnet: the miner pays an address', body: DevPayBody, response: { 200: DevPayReply, 400: ErrorRef, 404: ErrorRef } } },
    async (req) => {
      const dev = devOnly();
      return { txid: await dev.pay(req.body.address, BigInt(req.body.amountSat)) };
    },
  );
  api.post(
    '/v1/dev/mine',
    { ...devGuard, schema: { summary: 'Devnet: mine blocks', body: DevMineBody, response: { 200: DevMineReply, 400: ErrorRef, 404: ErrorRef } } },
    async (req) => {
      const dev = devOnly();
      return { height: await dev.mine(req.body.blocks) };
    },
  );
  api.post(
    '/v1/dev/advance',
    { ...devGuard, schema: { summary: 'Devnet: move this agent\'s clock forward; scheduled work that fell due runs', body: DevAdvanceBody, response: { 200: DevAdvanceReply, 400: ErrorRef, 404: ErrorRef } } },
    async (req) => {
      if (!deps.jobs) throw new AgentError('DEVNET_ONLY', 'no scheduler');
      const now = await deps.jobs.advance(req.body.seconds);
      return { now: now.toISOString() };
    },
  );
  api.post(
    '/v1/dev/jobs/:name',
    { ...devGuard, schema: { summary: 'Devnet: run one scheduled job now', params: DevJobParams, response: { 200: DevJobReply, 404: ErrorRef } } },
    async (req) => {
      if (!deps.jobs) throw new AgentError('DEVNET_ONLY', 'no scheduler');
      const r = await deps.jobs.run(req.params.name);
      return { job: r.job, outcome: r.outcome, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null, detail: r.detail ?? null };
    },
  );
  const publicUrl = deps.publicUrl ?? (() => deps.config.publicUrl);
  // File links point at the separate origin for customers' bytes when one is set (see file-headers.ts).
  if (deps.host) registerHostRoutes(api, deps.host, () => deps.config.filesUrl || publicUrl());
  return app;
}
