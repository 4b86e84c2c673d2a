/**
 * Limits on free work: the routes that cost the agent but not the caller (quotes, proposals, status, info) are
 * rate-limited per client with @fastify/rate-limit. Limiters are named: every route that asks for the same name
 * shares one budget per client, so a client cannot multiply its allowance by spreading over routes, and a new
 * route (proposals, a per-client cap on open quotes) takes a limiter by name instead of building its own.
 *
 * The client is `request.ip`: the socket's address, or with `trustProxy` the address the reverse proxy puts in
 * X-Forwarded-For (fastify's trustProxy). IPv6 clients are grouped by /64, as one host usually holds one.
 *
 * A refusal is 429 RATE_LIMITED in the one error envelope, with `Retry-After` (seconds, RFC 9110 section
 * 10.2.3) and the plugin's x-ratelimit-* headers.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Config } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';

/** The named budgets. `free`: quotes, status, info (and proposals once they exist). */
const LIMITS = {
  free: (c: LimitConfig) => ({ max: c.rateLimitMax, timeWindow: c.rateLimitWindowSeconds * 1000 }),
} as const;

type LimitName = keyof typeof LIMITS;
type LimitConfig = Pick<Config, 'rateLimitMax' | 'rateLimitWindowSeconds'>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The onRequest hook of the named limiter; the same hook (one budget per client) for every route asking. */
    limit(name: LimitName): onRequestAsyncHookHandler;
  }
}

/** Registers the rate-limit plugin (on no route by itself) and the `limit(name)` decorator. */
export async function installLimits(app: FastifyInstance, c: LimitConfig): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => new AgentError('RATE_LIMITED', `too many requests from this client: retry in ${ctx.after}`),
  });
  const hooks = new Map<LimitName, onRequestAsyncHookHandler>();
  app.decorate('limit', (name: LimitName): onRequestAsyncHookHandler => {
    let hook = hooks.get(name);
    if (!hook) {
      // One call to rateLimit() is one store: every route holding this hook counts against the same budget.
      hook = app.rateLimit(LIMITS[name](c));
      hooks.set(name, hook);
    }
    return hook;
  });
}
