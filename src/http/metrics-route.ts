/**
 * Prometheus metrics over HTTP: every response counted by route pattern and status, `GET /metrics` on the
 * main listener behind the admin token, and optionally a separate listener (config `metricsListen`, meant
 * for a private interface) that serves only `GET /metrics`, without a token.
 */
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { AgentError } from '../errors/index.ts';
import type { AgentMetrics } from '../metrics/index.ts';
import { bearer, tokenMatches } from './auth.ts';

/**
 * Counts every response and adds `GET /metrics` (admin token). The route label is the route's pattern
 * (`/f/:fileId`), never the URL: a fileId is a download capability, and raw URLs would make one time series
 * per file.
 */
export function registerMetrics(app: FastifyInstance, metrics: AgentMetrics, adminToken: string): void {
  app.addHook('onResponse', (req, reply, done) => {
    metrics.request(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode);
    done();
  });
  // A scrape every few seconds would be most of the log at info: its request lines are kept to warnings.
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (req, reply) => {
    if (!tokenMatches(bearer(req.headers.authorization), adminToken)) throw new AgentError('UNAUTHORIZED', 'a valid admin bearer token is required');
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });
}

export interface MetricsListener {
  /** The address bound, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

const json = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/**
 * Listens on `listen` (`host:port` or `[v6]:port`, as the config schema checked it) and answers `GET /metrics` (no token: whoever can reach this address may read the
 * metrics, so bind it to a private interface); anything else is a 404 in the one error shape.
 */
export async function startMetricsListener(hostPort: string, metrics: AgentMetrics): Promise<MetricsListener> {
  const i = hostPort.lastIndexOf(':');
  const listen = { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(json('NOT_FOUND', 'this listener serves only GET /metrics'));
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => res.writeHead(500, { 'content-type': 'application/json' }).end(json('INTERNAL', 'internal error')),
    );
  });
  // A scrape is one small request: the same bounds as the main listener's defaults, kept short.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : listen.port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
