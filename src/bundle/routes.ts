/**
 * GET /v1/bundle: the agent's own code bundle, which a child it spawns downloads at first boot and checks against
 * the codeHash in its user data. Free, under the shared rate limit.
 */
import { Type } from '@sinclair/typebox';
import { ErrorRef, ifNoneMatch, type RoutePlugin } from '../http/index.ts';
import type { Bundle } from './make.ts';

const NotModified = Type.Null({ description: 'If-None-Match matched the ETag (the codeHash)' });
/** A Buffer, which fastify sends as it is (no serializer runs); binary in the OpenAPI document. */
const BundleBytes = Type.Unsafe<Buffer>({ description: 'the bundle: a gzip\'d tar (docs/bundle.md)', type: 'string', format: 'binary' });

/** The bundle's route, for the server to register. HEAD answers the same headers (fastify's HEAD for a GET). */
export function bundleRoutes(bundle: Bundle): RoutePlugin {
  const etag = `"${bundle.codeHash}"`;
  return (app) => {
    app.get(
      '/v1/bundle',
      {
        onRequest: app.limit('free'),
        schema: {
          summary: 'The agent\'s code bundle (gzip\'d tar); its ETag is the codeHash of /v1/info',
          response: { 200: BundleBytes, 304: NotModified, 429: ErrorRef },
        },
      },
      async (req, reply) => {
        // Revalidate before reuse: the same URL serves other bytes once the agent runs other code.
        void reply.header('etag', etag).header('cache-control', 'no-cache');
        const condition = req.headers['if-none-match'];
        if (typeof condition === 'string' && ifNoneMatch(condition, bundle.codeHash)) return reply.status(304).send(null);
        return reply.status(200).header('content-type', 'application/gzip').header('content-length', bundle.bytes.length).send(bundle.bytes);
      },
    );
  };
}
