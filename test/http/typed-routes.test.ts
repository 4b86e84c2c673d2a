// Routes take their request and reply types from their TypeBox schemas (@fastify/type-provider-typebox), so no
// handler casts what fastify validated, and a reply that does not match its schema does not compile. The
// `@ts-expect-error` lines below are checked by the type check of `npm test` (tsc covers test/): if the error
// they expect went away (say ErrorRef became an untyped `{ $ref }` again, which makes every reply `unknown`), the
// directive itself is the error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Bytes, ErrorRef, ErrorSchema } from '../../src/http/schemas.ts';
import { IdParams, NotModifiedReply, PutUploadReply } from '../../src/host/route-schemas.ts';

const SRC = join(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

// `req.body as X`, `(request.params as X)`, `<X>req.query`: what a type provider makes unnecessary.
const CAST = /\b(?:req|request)\.(?:body|params|query)\)?\s+as\s|<[^<>]+>\s*(?:req|request)\.(?:body|params|query)\b/;

test('no handler in src/ casts the request body, params or query', () => {
  const found: string[] = [];
  for (const file of sources(SRC)) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (CAST.test(line)) found.push(`${file.slice(SRC.length + 1)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
  // The pattern itself catches the casts the routes used to have.
  assert.ok(CAST.test('const body = req.body as Static<typeof DevPayBody>;'));
  assert.ok(CAST.test('host.fileView((req.params as Static<typeof FileIdParams>).fileId)'));
});

test('params, body and replies are typed from the schemas, and the schemas serialize as before', async () => {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ErrorSchema);
  app.get('/uploads/:id', { schema: { params: IdParams, response: { 200: PutUploadReply, 404: ErrorRef } } }, async (req, reply) => {
    // @ts-expect-error IdParams has no fileId
    assert.equal(req.params.fileId, undefined);
    if (req.params.id === 'gone') return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such upload' } });
    return { fileId: req.params.id, url: `/f/${req.params.id}`, size: 3, sha256: 'ab' };
  });
  // @ts-expect-error size is an integer in PutUploadReply: a string does not compile
  app.get('/wrong', { schema: { response: { 200: PutUploadReply, 404: ErrorRef } } }, () => ({ fileId: 'f', url: 'u', size: '3', sha256: 'ab' }));
  app.get('/error-only', { schema: { response: { 404: ErrorRef } } }, async (_req, reply) => {
    // @ts-expect-error a 404 declared as ErrorRef carries the envelope, not a bare message
    void reply.status(404).send({ message: 'no' });
    return reply;
  });
  // Bytes are written by hand after hijack: no value may be returned for them, and a 304 has no body.
  // @ts-expect-error Bytes is `never` to the serializer
  app.get('/bytes', { schema: { response: { 200: Bytes('the file'), 304: NotModifiedReply } } }, () => 'abc');

  const ok = await app.inject({ method: 'GET', url: '/uploads/abc' });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { fileId: 'abc', url: '/f/abc', size: 3, sha256: 'ab' });
  const gone = await app.inject({ method: 'GET', url: '/uploads/gone' });
  assert.equal(gone.statusCode, 404);
  assert.deepEqual(gone.json(), { error: { code: 'NOT_FOUND', message: 'no such upload' } });
  await app.close();

  // What the OpenAPI document and the serializers see: the same JSON the routes wrote by hand before.
  assert.equal(JSON.stringify(ErrorRef), '{"$ref":"Error#"}');
  assert.equal(JSON.stringify(Bytes('the whole file')), '{"description":"the whole file","type":"string","format":"binary"}');
  assert.equal(JSON.stringify(NotModifiedReply), '{"description":"If-None-Match matched the ETag; free","type":"null"}');
});
