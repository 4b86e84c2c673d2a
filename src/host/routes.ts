/**
 * The customers' routes (README.md, "A customer's first steps"): quotes, uploads, file status and metered downloads.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { bearer, Bytes, ErrorRef, ifNoneMatch, type TypedApp } from '../http/index.ts';
import type { Host } from './host.ts';
import { parseRange } from './uri.ts';
import { bodyCutOff } from './body.ts';
import { AgentError, isAgentError } from '../errors/index.ts';
import { satToJson } from '../money/index.ts';
import { copyBlob } from '../storage/index.ts';
import { fileHeaders, notModifiedHeaders } from './file-headers.ts';
import { tusRoutes } from './tus-routes.ts';
import { CreateUploadBody, FileIdParams, FileReply, IdParams, NotModifiedReply, PutUploadReply, QuoteReply, UploadStatusReply } from './route-schemas.ts';

/**
 * A free 304 (RFC 9110 13.1.2, 15.4.5) when If-None-Match matches the file's ETag: nothing is reserved, charged or written.
 * Preconditions are ignored where the answer without them would not be a 2xx (RFC 9110 13.2.1): a frozen file's
 * GET stays a 402, a deleted file a 410, an unsatisfiable Range a 416. A balance short of the bytes asked for
 * does not stop the 304, since the 304 sends none of them.
 * @returns true when the 304 was sent
 */
function notModified(host: Host, fileId: string, req: FastifyRequest, reply: FastifyReply, method: 'GET' | 'HEAD'): boolean {
  const condition = req.headers['if-none-match'];
  if (typeof condition !== 'string') return false;
  const h = host.headFile(fileId);
  if (!ifNoneMatch(condition, h.sha256)) return false;
  if (method === 'GET') {
    if (h.state === 'frozen') return false;
    parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, h.size);
  }
  void reply.status(304).headers(notModifiedHeaders(h.sha256)).send();
  return true;
}

/**
 * The customers' routes, for the server to register. `filesUrl` is the base of the file links handed out: the
 * agent's own URL, or another origin set apart for customers' bytes (config `filesUrl`).
 */
export function hostRoutes(host: Host, filesUrl: () => string): (app: TypedApp) => void {
  return (app) => registerHostRoutes(app, host, filesUrl);
}

function registerHostRoutes(app: TypedApp, host: Host, filesUrl: () => string): void {
  app.post(
    '/v1/uploads',
    { onRequest: app.limit('free'), schema: { summary: 'Quote an upload: an address and an amount', body: CreateUploadBody, response: { 201: QuoteReply, 400: ErrorRef, 413: ErrorRef, 429: ErrorRef } } },
    async (req, reply) => {
      const q = await host.createUpload(req.body, req.ip).catch((e: unknown) => {
        // The client holds its most open quotes: Retry-After says when the first of them expires.
        const after = isAgentError(e, 'TOO_MANY_QUOTES') ? e.details?.retryAfterSeconds : undefined;
        if (typeof after === 'number') void reply.header('retry-after', String(after));
        throw e;
      });
      return reply.status(201).send({ id: q.id, address: q.address, amountSat: satToJson(q.amountSat), bip21: q.bip21, expiresAt: q.expiresAt.toISOString(), uploadToken: q.uploadToken });
    },
  );

  app.get('/v1/uploads/:id', { onRequest: app.limit('free'), schema: { summary: 'Upload status (the fileId only with Authorization: Bearer <uploadToken>)', params: IdParams, response: { 200: UploadStatusReply, 404: ErrorRef } } }, (req) => {
    const s = host.uploadStatus(req.params.id, bearer(req.headers.authorization));
    return { id: s.id, state: s.state, amountSat: satToJson(s.amountSat), receivedSat: satToJson(s.receivedSat), confirmedSat: satToJson(s.confirmedSat), ...(s.fileId ? { fileId: s.fileId } : {}) };
  });

  // The upload body is streamed straight to the blob store: in this encapsulated context every content type
  // is passed through unread, so no body limit or parser buffers it. The scope is typed like its parent: fastify
  // does not carry a type provider into a plugin's instance by itself.
  const uploadScope: FastifyPluginCallbackTypebox = (scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, next) => next(null, payload));
    // An upload refused before its whole body was read (400, 401, 402, 404, 409, 507, a wrong size, a full
    // disk): the rest of the body is not read, so the connection cannot be reused, and kept open it would hold
    // shutdown until the client gives up. With this header Node closes the socket once the answer is written.
    scope.addHook('onSend', (req, reply, payload, done) => {
      if (!req.raw.complete) void reply.header('connection', 'close');
      done(null, payload);
    });
    scope.put(
      '/v1/uploads/:id',
      {
        // The body streams for as long as it keeps moving: no whole-request deadline (src/http/connections.ts).
        config: { streaming: true },
        schema: {
          summary: 'Upload the file\'s bytes (Authorization: Bearer <uploadToken>)',
          params: IdParams,
          response: { 201: PutUploadReply, 400: ErrorRef, 401: ErrorRef, 402: ErrorRef, 404: ErrorRef, 409: ErrorRef },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const lengthHeader = req.headers['content-length'];
        const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
        if (contentLength !== undefined && !Number.isSafeInteger(contentLength)) throw new AgentError('BAD_REQUEST', 'bad Content-Length');
        const cutOff = bodyCutOff(req);
        try {
          const r = await host.putUpload(id, bearer(req.headers.authorization), req.raw, { ...(contentLength !== undefined ? { contentLength } : {}), signal: cutOff.signal });
          return await reply.status(201).send({ fileId: r.fileId, url: `${filesUrl()}/f/${r.fileId}`, size: r.size, sha256: r.sha256 });
        } finally {
          cutOff.dispose();
        }
      },
    );
    done();
  };
  void app.register(uploadScope);
  // The same upload in as many requests as it takes, resumable after a dropped connection or a restart.
  tusRoutes(app, host, filesUrl);

  app.get('/v1/files/:fileId', { onRequest: app.limit('free'), schema: { summary: 'A file\'s state and balance', params: FileIdParams, response: { 200: FileReply, 404: ErrorRef } } }, (req) => {
    const v = host.fileView(req.params.fileId);
    return {
      fileId: v.fileId,
      size: v.size,
      sha256: v.sha256,
      filename: v.filename,
      contentType: v.contentType,
      state: v.state,
      balanceMsat: v.balanceMsat.toString(),
      address: v.address,
      bip21: v.bip21,
      fundedUntil: v.fundedUntil.toISOString(),
      ...(v.deleteAt ? { deleteAt: v.deleteAt.toISOString() } : {}),
      ...(v.downloadTopUpSat !== undefined ? { downloadTopUpSat: satToJson(v.downloadTopUpSat) } : {}),
    };
  });

  app.head('/f/:fileId', { schema: { summary: 'File headers (free)', params: FileIdParams } }, async (req, reply) => {
    const { fileId } = req.params;
    if (notModified(host, fileId, req, reply, 'HEAD')) return reply;
    const h = host.headFile(fileId);
    return reply.status(200).headers(fileHeaders(h)).header('content-length', h.size).send();
  });

  app.get(
    '/f/:fileId',
    {
      exposeHeadRoute: false,
      schema: {
        summary: 'Download (metered; Range supported)',
        params: FileIdParams,
        response: { 200: Bytes('the whole file'), 206: Bytes('the requested range'), 304: NotModifiedReply, 402: ErrorRef, 404: ErrorRef, 410: ErrorRef, 416: ErrorRef },
      },
    },
    async (req, reply) => {
      const { fileId } = req.params;
      if (notModified(host, fileId, req, reply, 'GET')) return reply;
      const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
      const d = await host.startDownload(fileId, range);
      // From here the response is written by hand: copyBlob reuses its buffers (see there), which a stream
      // handed to reply.send() could not. Errors up to this point went through the one error mapping.
      reply.hijack();
      const res = reply.raw;
      let sent = 0;
      // Settle on close, whether the download finished or was cut off: the bytes the socket wrote are charged
      // (copyBlob counts each piece once written), with the next group commit (src/host/meter.ts). Neither may
      // throw or reject here, in a 'close' listener: settle only moves sums in memory.
      const done = () => {
        d.settle(sent);
        d.blob.close().catch((e: unknown) => req.log.warn({ err: e }, 'closing a blob after a download failed'));
      };
      res.once('close', done);
      // A client that hung up while the hold was being taken: its 'close' has already gone by.
      if (req.raw.socket.destroyed) done();
      res.writeHead(d.partial ? 206 : 200, {
        ...fileHeaders(d),
        'content-length': d.end - d.start + 1,
        ...(d.partial ? { 'content-range': `bytes ${d.start}-${d.end}/${d.size}` } : {}),
      });
      try {
        await copyBlob(d.blob, res, (n) => {
          sent += n;
        });
        res.end();
      } catch (e) {
        // The status line is gone, so the only honest signal left is a body shorter than its content-length.
        // A client that hung up is routine; anything else (a damaged blob, a read error) is worth a log line.
        if (!req.raw.socket.destroyed) req.log.error({ err: e }, 'download cut off');
        res.destroy();
      }
    },
  );
}
