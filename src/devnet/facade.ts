/**
 * The devnet's HTTP server: the Esplora-compatible routes under /api (esplora.ts, plain-text
 * errors as esplora gives them) and the control endpoints under /dev (control.ts, the project's
 * JSON error body), on one fastify instance.
 */
import Fastify from 'fastify';
import type { FastifyInstance, RawRequestDefaultExpression } from 'fastify';
import { controlRoutes, sendControlError, type DevnetControl } from './control.ts';
import { MAX_TX_BODY, esploraRoutes, sendEsploraError } from './esplora.ts';
import type { RegtestNode } from './node.ts';

const isControlPath = (url: string): boolean => url === '/dev' || url.startsWith('/dev/') || url.startsWith('/dev?');

/**
 * Resolves dot segments and drops trailing slashes, so `/api/blocks/tip/height/` is the tip's height
 * (as the esplora clients in the wild expect) and `/api/../etc/passwd` is plainly not found.
 */
function normalisedUrl(req: RawRequestDefaultExpression): string {
  try {
    const u = new URL(req.url ?? '/', 'http://devnet');
    return (u.pathname.replace(/\/+$/, '') || '/') + u.search;
  } catch {
    return '/';
  }
}

/** The facade's fastify instance, routes registered, not yet listening. */
export function buildFacade(node: RegtestNode, control: DevnetControl, log: (line: string) => void = () => {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    // esplora has no HEAD routes; a HEAD is not found, as any other method it lacks.
    exposeHeadRoutes: false,
    // close() ends idle keep-alive connections too, so a closed devnet frees its port at once.
    forceCloseConnections: true,
    rewriteUrl: normalisedUrl,
    // Unknown fields are refused (not dropped) and nothing is coerced; allErrors lists every unknown field.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true } },
    // The router's refusals (a bad percent-encoding) in the shape of the part of the API that was asked.
    frameworkErrors: (err, req, reply) => {
      if (isControlPath(req.url)) sendControlError(reply, err, log);
      else sendEsploraError(reply, err, log);
    },
  });
  // Everything outside /dev answers as esplora does, unknown paths included.
  app.setErrorHandler((err, _req, reply) => sendEsploraError(reply, err, log));
  app.setNotFoundHandler((_req, reply) => {
    void reply.status(404).type('text/plain; charset=utf-8').send('Not found');
  });
  // A broadcast is hex in any Content-Type (or none); /dev installs its own JSON parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_TX_BODY }, (_req, body, done) => done(null, String(body)));
  void app.register(esploraRoutes(node, control), { prefix: '/api' });
  void app.register(controlRoutes(control, log), { prefix: '/dev' });
  return app;
}
