/**
 * The local cloud's HTTP API, exactly as docs/local-cloud.md describes it: JSON in and out, and its own wire
 * error codes in `{"error": {"code", "message"}}` (a provider's codes, not the agent's catalogue).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { CloudApiError, type Cloud } from './cloud.ts';

/** Room for 32 KiB of user data even when JSON escapes every character of it. */
const BODY_LIMIT = 256 * 1024;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.status(status).send({ error: { code, message } });
}

/** The request's body as an object, or a BAD_REQUEST. */
function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'string') throw new CloudApiError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new CloudApiError(400, 'BAD_REQUEST', 'the body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CloudApiError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** The cloud's fastify instance, routes registered, not yet listening. */
export function buildCloudApp(cloud: Cloud, log: (line: string) => void = () => undefined): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: BODY_LIMIT });
  app.removeAllContentTypeParsers();
  // Any content type is read as text and parsed here, so that a bad body gets the cloud's own error code.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));
  app.setErrorHandler((err: FastifyError | CloudApiError, req, reply) => {
    if (err instanceof CloudApiError) return sendError(reply, err.status, err.code, err.message);
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, 400, 'BAD_REQUEST', err.message);
    log(`${req.method} ${req.url} failed: ${err.stack ?? err.message}`);
    return sendError(reply, 500, 'INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url}`));

  app.get('/v1/plans', () => ({ network: 'regtest', minDays: cloud.minDays, plans: cloud.plans }));
  app.post('/v1/servers', async (req, reply) => reply.status(201).send(cloud.createServer(object(req.body))));
  app.get<{ Params: { id: string } }>('/v1/servers/:id', (req) => ({ server: cloud.getServer(req.params.id) }));
  app.post<{ Params: { id: string } }>('/v1/servers/:id/renewals', async (req, reply) =>
    reply.status(201).send({ invoice: cloud.renew(req.params.id, object(req.body)) }),
  );
  app.delete<{ Params: { id: string } }>('/v1/servers/:id', async (req) => ({ server: await cloud.deleteServer(req.params.id) }));
  app.get<{ Params: { id: string } }>('/v1/invoices/:id', (req) => ({ invoice: cloud.getInvoice(req.params.id) }));
  // The devnet's clock moved forward: the agent's POST /v1/dev/advance calls this with the same seconds.
  app.post('/v1/dev/advance', async (req) => {
    const { seconds } = object(req.body);
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > 10 * 366 * 86_400) {
      throw new CloudApiError(400, 'BAD_REQUEST', 'seconds must be a number from 0 to ten years');
    }
    return { now: await cloud.advance(seconds) };
  });
  return app;
}
