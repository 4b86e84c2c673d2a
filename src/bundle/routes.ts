/**
 * GET /v1/bundle: the agent's own code bundle, which a child it spawns downloads at first boot and checks against
 * the codeHash in its user data. Free, under the shared rate limit.
 */
import { Type } from '@sinclair/typebox';
import { ErrorRef, type RoutePlugin } from '../http/index.ts';
import type { Bundle } from './make.ts';

// RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text. One list
// element at a time (RFC 9110 5.6.1: `#element`, where empty elements are allowed and skipped).
const ETAG_ITEM = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"|(\*))?[ \t]*(?:,|$)/y;

/**
 * Whether an If-None-Match value matches `tag` (RFC 9110 13.1.2): `*`, or any listed entity-tag by the weak
 * comparison. A malformed value matches nothing, so the request is answered as if it had no condition.
 */
function ifNoneMatch(header: string, tag: string): boolean {
  let matched = false;
  ETAG_ITEM.lastIndex = 0;
  while (ETAG_ITEM.lastIndex < header.length) {
    const m = ETAG_ITEM.exec(header);
    if (!m) return false;
    if (m[3] === '*' || m[2] === tag) matched = true;
  }
  return matched;
}

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
