/**
 * The HTTP server (fastify): the one error mapping, limits, timeouts, logs, /metrics, and the OpenAPI document
 * generated from the same schemas that validate requests. It knows no module: each module hands it its routes
 * (`RoutePlugin`), which the composition root (src/agent) lists, so tests can build it with real parts.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config/index.ts';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './errors.ts';
import { installConnections, serverTimeoutOptions, type Connections } from './connections.ts';
import { installLimits } from './limits.ts';
import { registerMetrics } from './metrics-route.ts';
import type { AgentMetrics } from '../metrics/index.ts';
import { ErrorSchema, type TypedApp } from './schemas.ts';
import { lazyOpenapi } from './openapi.ts';
import { installFastPaths, type FastPath } from './fast-paths.ts';

export { Bytes, ErrorRef, Msat, Sat, type ErrorEnvelope, type TypedApp } from './schemas.ts';
export { bearer, tokenMatches } from './auth.ts';
export { ifNoneMatch } from './conditional.ts';
export { devGuard } from './dev-guard.ts';
export { loggerOptions } from './log.ts';
export { startMetricsListener, type MetricsListener } from './metrics-route.ts';
export type { FastPath } from './fast-paths.ts';

/** A module's routes: registered on the typed server, under the limits and the error mapping every route shares. */
export type RoutePlugin = (app: TypedApp) => void;

export interface ServerDeps {
  config: Config;
  /** The agent's version, for the OpenAPI document. */
  version: string;
  /** Every module's routes, in order. */
  routes: readonly RoutePlugin[];
  /** Handlers tried, in order, before the routes (src/http/fast-paths.ts). */
  fastPaths?: readonly FastPath[];
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
  // every type in its own scope (src/host/routes.ts).
  app.removeContentTypeParser('text/plain');
  const connections = installConnections(app, deps.config);
  ref.connections = connections;
  app.decorate('closeWithin', (timeoutMs: number) => connections.close(timeoutMs));
  await installLimits(app, deps.config);
  // The document lists the routes registered from here on; it is built on its first request (src/http/openapi.ts).
  const openapi = lazyOpenapi(app, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'storj-agent', version: deps.version, description: 'Pay-per-use file hosting paid in bitcoin. Errors are {"error": {"code", "message"}}.' },
    },
  });
  app.addSchema(ErrorSchema);
  // Every route from here on takes its request and reply types from its TypeBox schemas (the type provider only
  // types; validation is still fastify's ajv with the options above).
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1/openapi.json', { schema: { hide: true } }, () => openapi());
  for (const routes of deps.routes) routes(api);
  if (deps.fastPaths?.length) installFastPaths(app.server, deps.fastPaths, connections, deps.metrics);
  return app;
}
