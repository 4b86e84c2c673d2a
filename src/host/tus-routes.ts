/**
 * The tus 1.0 endpoint (core, creation, termination) for paid uploads, written here rather than with
 * @tus/server (docs/uploads.md says why, with the numbers). `POST /v1/tus` starts the resumable upload of a paid
 * quote, `HEAD` and `PATCH /v1/tus/<uploadId>` give and move its offset, `DELETE` terminates it. Every answer
 * carries `Tus-Resumable: 1.0.0`; errors are the agent's one envelope with a stable code.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { bearer, ErrorRef, type TypedApp } from '../http/index.ts';
import { AgentError } from '../errors/index.ts';
import type { Host } from './host.ts';
import type { ResumableState } from './resumable.ts';
import { IdParams, TusCreatedReply } from './route-schemas.ts';
import { bodyCutOff } from './body.ts';

const TUS_VERSION = '1.0.0';
const NoBody = Type.Null({ description: 'no body: the answer is in the headers' });
const TUS_HEADERS = ['Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Upload-Offset', 'Upload-Length', 'Location', 'Storj-File-Id', 'Storj-File-Url', 'Storj-Sha256'];

/** A header's one value (a repeated header is not one value). */
function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** A non-negative integer header, or BAD_REQUEST. */
function integerHeader(req: FastifyRequest, name: string): number {
  const raw = header(req, name);
  const n = raw !== undefined && /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new AgentError('BAD_REQUEST', `${name} must be a non-negative integer`);
  return n;
}

/** tus's Upload-Metadata: comma-separated `key base64value` pairs. */
function metadata(raw: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of (raw ?? '').split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (!key) continue;
    if (extra !== undefined || (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) throw new AgentError('BAD_REQUEST', 'Upload-Metadata is comma-separated "key base64value" pairs');
    out.set(key, Buffer.from(value ?? '', 'base64').toString('utf8'));
  }
  return out;
}

/** The offset headers of an upload, and its file's once complete. */
function stateHeaders(s: ResumableState, filesUrl: string): Record<string, string> {
  return {
    'upload-offset': String(s.offset),
    'upload-length': String(s.size),
    'cache-control': 'no-store',
    ...(s.file ? { 'storj-file-id': s.file.fileId, 'storj-file-url': `${filesUrl}/f/${s.file.fileId}`, 'storj-sha256': s.file.sha256 } : {}),
  };
}

/** Registers the tus routes in a scope of their own, where bodies stream unread (as the PUT's do: ./routes.ts). */
export function tusRoutes(app: TypedApp, host: Host, filesUrl: () => string): void {
  const scope: FastifyPluginCallbackTypebox = (tus, _opts, done) => {
    tus.removeAllContentTypeParsers();
    tus.addContentTypeParser('*', (_req, payload, next) => next(null, payload));
    tus.addHook('onRequest', (req, _reply, next) => {
      // OPTIONS is how a client learns the version, so it needs none (tus 1.0, "Tus-Resumable").
      const v = header(req, 'tus-resumable');
      if (req.method !== 'OPTIONS' && v !== TUS_VERSION) next(new AgentError('TUS_VERSION_UNSUPPORTED', `this endpoint speaks tus ${TUS_VERSION}: send Tus-Resumable: ${TUS_VERSION}`, { version: TUS_VERSION }));
      else next();
    });
    tus.addHook('onSend', (req, reply, payload, next) => {
      void reply.header('tus-resumable', TUS_VERSION).header('tus-version', TUS_VERSION).header('access-control-expose-headers', TUS_HEADERS.join(', '));
      // A request refused before its body was read: close the connection once answered (see ./routes.ts).
      if (!req.raw.complete) void reply.header('connection', 'close');
      next(null, payload);
    });

    const discovery = async (_req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      await reply.status(204).headers({ 'tus-extension': 'creation,termination', 'tus-max-size': String(host.resumable.maxSize) }).send();
    };
    tus.options('/v1/tus', { schema: { summary: 'tus discovery: version, extensions, largest upload (answers 204 with headers only)' } }, discovery);
    tus.options('/v1/tus/:id', { schema: { summary: 'tus discovery', params: IdParams } }, discovery);

    tus.post(
      '/v1/tus',
      {
        schema: {
          summary: 'Start the resumable (tus) upload of a paid quote: Upload-Length is its size, Upload-Metadata carries uploadId, Authorization: Bearer <uploadToken>',
          response: { 201: TusCreatedReply, 400: ErrorRef, 401: ErrorRef, 402: ErrorRef, 404: ErrorRef, 409: ErrorRef, 412: ErrorRef },
        },
      },
      async (req, reply) => {
        if (header(req, 'upload-defer-length') !== undefined) throw new AgentError('BAD_REQUEST', 'Upload-Defer-Length is not supported: send Upload-Length, the quote\'s size');
        const length = integerHeader(req, 'upload-length');
        const id = metadata(header(req, 'upload-metadata')).get('uploadId');
        if (!id) throw new AgentError('BAD_REQUEST', 'Upload-Metadata must carry uploadId (the quote\'s id)');
        // Creation with upload is not offered (Tus-Extension): the bytes come with PATCH.
        if (Number(header(req, 'content-length') ?? 0) > 0) throw new AgentError('BAD_REQUEST', 'send the bytes with PATCH, not with the POST');
        const s = await host.resumable.create(id, bearer(req.headers.authorization), length);
        const location = `/v1/tus/${encodeURIComponent(id)}`;
        return reply.status(201).headers({ location, ...stateHeaders(s, filesUrl()) }).send({ location, offset: s.offset, length: s.size });
      },
    );

    tus.head('/v1/tus/:id', { schema: { summary: 'A resumable upload\'s fsynced offset (Upload-Offset); once complete, its file (Storj-File-Id, Storj-File-Url, Storj-Sha256)', params: IdParams } }, async (req, reply) => {
      const s = await host.resumable.state(req.params.id, bearer(req.headers.authorization));
      return reply.status(200).headers(stateHeaders(s, filesUrl())).send();
    });

    tus.patch(
      '/v1/tus/:id',
      {
        config: { streaming: true },
        schema: {
          summary: 'Append bytes (Content-Type: application/offset+octet-stream) at Upload-Offset; the reply\'s Upload-Offset is fsynced',
          params: IdParams,
          response: { 204: NoBody, 400: ErrorRef, 401: ErrorRef, 402: ErrorRef, 404: ErrorRef, 409: ErrorRef, 412: ErrorRef, 415: ErrorRef },
        },
      },
      async (req, reply) => {
        if (header(req, 'content-type') !== 'application/offset+octet-stream') throw new AgentError('UNSUPPORTED_MEDIA_TYPE', 'a PATCH carries Content-Type: application/offset+octet-stream');
        const offset = integerHeader(req, 'upload-offset');
        const lengthHeader = header(req, 'content-length');
        const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
        if (contentLength !== undefined && !Number.isSafeInteger(contentLength)) throw new AgentError('BAD_REQUEST', 'bad Content-Length');
        const cutOff = bodyCutOff(req);
        try {
          const s = await host.resumable.append(req.params.id, bearer(req.headers.authorization), offset, req.raw, { ...(contentLength !== undefined ? { contentLength } : {}), signal: cutOff.signal });
          return await reply.status(204).headers(stateHeaders(s, filesUrl())).send(null);
        } finally {
          cutOff.dispose();
        }
      },
    );

    tus.delete('/v1/tus/:id', { schema: { summary: 'Terminate a resumable upload: its bytes are removed, the quote stays paid', params: IdParams, response: { 204: NoBody, 401: ErrorRef, 404: ErrorRef, 409: ErrorRef } } }, async (req, reply) => {
      await host.resumable.terminate(req.params.id, bearer(req.headers.authorization));
      return reply.status(204).send(null);
    });
    done();
  };
  void app.register(scope);
}
