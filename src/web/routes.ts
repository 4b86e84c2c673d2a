/**
 * The pages' routes: `/` (quote, pay, upload, share), `/s/:fileId` (a shared file's page), their files under
 * `/assets/`, and `/v1/qr`, the QR code of a bitcoin: URI as SVG. Every answer of these routes carries the
 * pages' headers (pageHeaders below); docs/web.md explains them.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { AgentError } from '../errors/index.ts';
import { ErrorRef, ifNoneMatch, type RoutePlugin } from '../http/index.ts';
import { asset, ASSET_NAME, type Asset } from './assets.ts';
import { qrSvg } from './qr.ts';

export interface WebDeps {
  /** The pages' files, by name (./assets.ts loadAssets). */
  assets: ReadonlyMap<string, Asset>;
  /** Scripts of installed packages the pages load, by name (./assets.ts loadVendor), at /assets/vendor/:name. */
  vendor: ReadonlyMap<string, Asset>;
  /** The separate origin that serves customers' bytes (config `filesUrl`), when there is one: the file page fetches from it. */
  filesUrl?: string;
}

/**
 * The Content-Security-Policy of every page and asset: only the agent's own scripts, styles and connections; no
 * inline script or style; no frame, plugin, form target or base URL elsewhere. `img-src` adds `data:` and `blob:`
 * for images a page makes itself, `worker-src 'self'` lets a page run the agent's own workers. `connect-src` adds
 * the files' origin only when the files have one apart (config `filesUrl`), since the file page reads the bytes
 * from there to decrypt them.
 */
function contentSecurityPolicy(filesOrigin?: string): string {
  const connect = filesOrigin ? `'self' ${filesOrigin}` : "'self'";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src ${connect}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

// A bitcoin: URI (BIP21) in printable ASCII, the only text /v1/qr draws: the page must not become a QR code
// service for anything else. 512 characters hold any address with an amount, a label and a message.
const BITCOIN_URI = '^bitcoin:[A-Za-z0-9]{14,90}(\\?[\\x21-\\x7e]{0,400})?$';
const QrQuery = Type.Object({ data: Type.String({ maxLength: 512, pattern: BITCOIN_URI, description: 'a bitcoin: URI (BIP21)' }) }, { additionalProperties: false });
const AssetParams = Type.Object({ name: Type.String({ maxLength: 64, pattern: ASSET_NAME }) });
const ShareParams = Type.Object({ fileId: Type.String({ minLength: 1, maxLength: 64 }) });
/** A page or asset: bytes sent as they are (no serializer runs). */
const Bytes = Type.Unsafe<Buffer>({ type: 'string', format: 'binary' });
const Svg = Type.String({ description: 'an SVG document' });
const NotModified = Type.Null({ description: 'If-None-Match matched the ETag' });

/** The pages' routes, for the server to register. HEAD answers the same headers (fastify's HEAD for a GET). */
export function webRoutes(deps: WebDeps): RoutePlugin {
  const headers = {
    'content-security-policy': contentSecurityPolicy(deps.filesUrl ? new URL(deps.filesUrl).origin : undefined),
    'x-content-type-options': 'nosniff',
    // A share link's #fragment is the key of an encrypted file: no page of the agent names itself to another site.
    'referrer-policy': 'no-referrer',
    // Revalidated on every use (free, with the ETag): the agent's pages change when its code does.
    'cache-control': 'no-cache',
  };
  const page = (name: string): Asset => {
    const a = deps.assets.get(name);
    if (!a) throw new AgentError('INTERNAL', `the page ${name} is missing from src/web/assets`);
    return a;
  };
  const index = page('index.html');
  const file = page('file.html');
  const schema = { hide: true, response: { 200: Bytes, 304: NotModified, 404: ErrorRef } };
  return (app) => {
    // Sends `a` with the pages' headers, or a 304 when If-None-Match names its ETag.
    const send = (a: Asset, condition: string | undefined, reply: FastifyReply): void => {
      void reply.headers(headers).header('etag', `"${a.tag}"`);
      if (condition !== undefined && ifNoneMatch(condition, a.tag)) void reply.status(304).send(null);
      else void reply.status(200).header('content-type', a.contentType).header('content-length', a.body.length).send(a.body);
    };
    app.get('/', { schema }, (req, reply) => send(index, req.headers['if-none-match'], reply));
    app.get('/s/:fileId', { schema: { ...schema, params: ShareParams } }, (req, reply) => send(file, req.headers['if-none-match'], reply));
    app.get('/assets/:name', { schema: { ...schema, params: AssetParams } }, (req, reply) => {
      const a = deps.assets.get(req.params.name);
      if (!a || a.contentType.startsWith('text/html')) throw new AgentError('NOT_FOUND', 'no such asset');
      // A service worker (sw.js) may control the file pages' downloads under /s/ although it is served from /assets/.
      if (req.params.name === 'sw.js') void reply.header('service-worker-allowed', '/s/');
      send(a, req.headers['if-none-match'], reply);
    });
    app.get('/assets/vendor/:name', { schema: { ...schema, params: AssetParams } }, (req, reply) => {
      const a = deps.vendor.get(req.params.name);
      if (!a) throw new AgentError('NOT_FOUND', 'no such asset');
      send(a, req.headers['if-none-match'], reply);
    });
    app.get(
      '/v1/qr',
      {
        onRequest: app.limit('free'),
        schema: { summary: 'The QR code of a bitcoin: URI, as SVG', querystring: QrQuery, response: { 200: Svg, 304: NotModified, 400: ErrorRef, 429: ErrorRef } },
      },
      (req, reply) => send(asset(Buffer.from(qrSvg(req.query.data)), 'image/svg+xml'), req.headers['if-none-match'], reply),
    );
  };
}
