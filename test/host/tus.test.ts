// The tus 1.0 endpoint (src/host/tus-routes.ts, docs/uploads.md) on a real agent and devnet: discovery,
// creation, HEAD offsets, PATCH in pieces, termination, the errors with their codes, and a PATCH cut off halfway
// that resumes from the fsynced offset, with nothing visible before the last byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { paidQuote, quote, type Quote } from '../helpers/paid.ts';
import { pattern, storeFiles, tusHeaders, until, uploadMetadata } from './tus-helpers.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const OCTETS = { 'content-type': 'application/offset+octet-stream' };

interface ErrorBody {
  error: { code: string; message: string };
}

async function create(a: TestAgent, q: Quote, size: number) {
  return a.api<ErrorBody>('POST', '/v1/tus', undefined, tusHeaders(q, { 'upload-length': String(size), 'upload-metadata': uploadMetadata(q.id) }));
}
/** A HEAD answers with headers only (an error's code is not there to read). */
async function head(a: TestAgent, q: Quote): Promise<{ status: number; headers: Headers }> {
  const r = await fetch(`${a.agent.url}/v1/tus/${q.id}`, { method: 'HEAD', headers: tusHeaders(q) });
  return { status: r.status, headers: r.headers };
}
async function patch(a: TestAgent, q: Quote, offset: number, body: Uint8Array, extra: Record<string, string> = {}) {
  return a.api<ErrorBody>('PATCH', `/v1/tus/${q.id}`, body, tusHeaders(q, { ...OCTETS, 'upload-offset': String(offset), ...extra }));
}

test('discovery, creation, HEAD offsets, PATCH in pieces, and the upload completes as a PUT does', async (t) => {
  const a = await startTestAgent(t);
  const opts = await a.api('OPTIONS', '/v1/tus');
  assert.equal(opts.status, 204);
  assert.equal(opts.headers.get('tus-resumable'), '1.0.0');
  assert.equal(opts.headers.get('tus-version'), '1.0.0');
  assert.equal(opts.headers.get('tus-extension'), 'creation,termination');
  assert.equal(opts.headers.get('tus-max-size'), String(a.config.maxFileSize));

  // The browser's tus client comes from the agent itself (src/web/assets/upload.js loads it), not a CDN.
  const vendor = await fetch(`${a.agent.url}/assets/vendor/tus.js`);
  assert.equal(vendor.status, 200);
  assert.match(vendor.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(await vendor.text(), /tus/);

  const bytes = pattern(300_000, 1);
  const q = await paidQuote(a.api, { size: bytes.length });
  const c = await create(a, q, bytes.length);
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.get('location'), `/v1/tus/${q.id}`);
  assert.equal(c.headers.get('tus-resumable'), '1.0.0');
  const h0 = await head(a, q);
  assert.equal(h0.status, 200);
  assert.equal(h0.headers.get('upload-offset'), '0');
  assert.equal(h0.headers.get('upload-length'), String(bytes.length));
  assert.equal(h0.headers.get('cache-control'), 'no-store');

  const cuts = [0, 100_000, 100_001, 250_000, bytes.length];
  for (let i = 0; i + 1 < cuts.length - 1; i++) {
    const r = await patch(a, q, cuts[i] ?? 0, bytes.subarray(cuts[i], cuts[i + 1]));
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers.get('upload-offset'), String(cuts[i + 1]));
    assert.equal(r.headers.get('storj-file-id'), null, 'no file before the last byte');
    assert.equal((await head(a, q)).headers.get('upload-offset'), String(cuts[i + 1]));
  }
  // Nothing is visible before the last byte: no fileId, no blob.
  const before = await a.api<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(before.body.state, 'paid');
  assert.equal(before.body.fileId, undefined);
  assert.deepEqual(storeFiles(a.dataDir, 'blobs'), []);
  assert.equal(storeFiles(a.dataDir, 'partial').find((f) => f.path.endsWith('.data'))?.size, 250_000);

  const last = await patch(a, q, 250_000, bytes.subarray(250_000));
  assert.equal(last.status, 204, last.text);
  assert.equal(last.headers.get('upload-offset'), String(bytes.length));
  const fileId = last.headers.get('storj-file-id') ?? '';
  assert.equal(last.headers.get('storj-sha256'), sha256(bytes));
  assert.equal(last.headers.get('storj-file-url'), `${a.agent.url}/f/${fileId}`);
  const after = await a.api<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(after.body.state, 'complete');
  assert.equal(after.body.fileId, fileId);
  const file = await a.api<{ state: string; sha256: string; balanceMsat: string }>('GET', `/v1/files/${fileId}`);
  assert.equal(file.body.state, 'active');
  assert.equal(file.body.sha256, sha256(bytes));
  assert.ok(BigInt(file.body.balanceMsat) > 0n, 'the payment is the opening balance');
  const dl = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.deepEqual(new Uint8Array(await dl.arrayBuffer()), bytes);
  assert.deepEqual(storeFiles(a.dataDir, 'partial'), [], 'the partial upload is gone once it is a blob');

  // A complete upload: HEAD says so (with its file), a PATCH, a new POST, a PUT and a DELETE get 409.
  const h1 = await head(a, q);
  assert.equal(h1.headers.get('upload-offset'), String(bytes.length));
  assert.equal(h1.headers.get('storj-file-id'), fileId);
  assert.equal((await patch(a, q, bytes.length, new Uint8Array(0))).body.error.code, 'UPLOAD_COMPLETE');
  assert.equal((await create(a, q, bytes.length)).body.error.code, 'UPLOAD_COMPLETE');
  assert.equal((await a.api<ErrorBody>('DELETE', `/v1/tus/${q.id}`, undefined, tusHeaders(q))).status, 409);
  const put = await a.api<ErrorBody>('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(put.body.error.code, 'UPLOAD_COMPLETE');
});

test('errors: 412, 401, 402 (as the PUT\'s), 400s, 404, 409 and 415, each with its code, and nothing kept', async (t) => {
  const a = await startTestAgent(t);
  const size = 1000;
  const unpaid = await quote(a.api, { size });
  const noVersion = await a.api<ErrorBody>('POST', '/v1/tus', undefined, { authorization: `Bearer ${unpaid.uploadToken}`, 'upload-length': String(size), 'upload-metadata': uploadMetadata(unpaid.id) });
  assert.equal(noVersion.status, 412);
  assert.equal(noVersion.body.error.code, 'TUS_VERSION_UNSUPPORTED');

  const c402 = await create(a, unpaid, size);
  const put402 = await a.api<ErrorBody>('PUT', `/v1/uploads/${unpaid.id}`, new Uint8Array(size), { authorization: `Bearer ${unpaid.uploadToken}` });
  assert.equal(c402.status, 402);
  assert.equal(c402.body.error.code, 'PAYMENT_REQUIRED');
  assert.deepEqual(c402.body, put402.body, 'the same 402 body as the PUT\'s');

  const q = await paidQuote(a.api, { size });
  const wrong = { ...q, uploadToken: `${q.uploadToken}x` };
  assert.equal((await create(a, wrong, size)).body.error.code, 'UNAUTHORIZED');
  assert.equal((await create(a, wrong, size)).status, 401);
  assert.equal((await create(a, q, size + 1)).body.error.code, 'UPLOAD_SIZE_MISMATCH');
  assert.equal((await create(a, q, size + 1)).status, 400);
  const noId = await a.api<ErrorBody>('POST', '/v1/tus', undefined, tusHeaders(q, { 'upload-length': String(size) }));
  assert.equal(noId.status, 400);
  assert.equal(noId.body.error.code, 'BAD_REQUEST');
  const badLength = await a.api<ErrorBody>('POST', '/v1/tus', undefined, tusHeaders(q, { 'upload-length': '-1', 'upload-metadata': uploadMetadata(q.id) }));
  assert.equal(badLength.body.error.code, 'BAD_REQUEST');
  const unknown = { ...q, id: 'A'.repeat(22) };
  assert.equal((await create(a, unknown, size)).status, 404);
  assert.equal((await head(a, q)).status, 404, 'no resumable upload started yet');
  assert.equal((await patch(a, q, 0, new Uint8Array(10))).body.error.code, 'NOT_FOUND');

  assert.equal((await create(a, q, size)).status, 201);
  assert.equal((await head(a, wrong)).status, 401);
  assert.equal((await patch(a, wrong, 0, new Uint8Array(10))).body.error.code, 'UNAUTHORIZED');
  const media = await a.api<ErrorBody>('PATCH', `/v1/tus/${q.id}`, new Uint8Array(10), tusHeaders(q, { 'content-type': 'application/octet-stream', 'upload-offset': '0' }));
  assert.equal(media.status, 415);
  assert.equal(media.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  const noOffset = await a.api<ErrorBody>('PATCH', `/v1/tus/${q.id}`, new Uint8Array(10), tusHeaders(q, OCTETS));
  assert.equal(noOffset.body.error.code, 'BAD_REQUEST');
  assert.equal((await patch(a, q, 0, new Uint8Array(400))).status, 204);
  const gap = await patch(a, q, 500, new Uint8Array(10));
  assert.equal(gap.status, 409);
  assert.equal(gap.body.error.code, 'UPLOAD_OFFSET_MISMATCH');
  assert.match(gap.body.error.message, /holds 400 bytes/);

  // More bytes than the length, declared (refused before reading) or not (a chunked body): nothing kept.
  const over = await patch(a, q, 400, new Uint8Array(601));
  assert.equal(over.status, 400);
  assert.equal(over.body.error.code, 'UPLOAD_SIZE_MISMATCH');
  const chunked = await rawPatch(a, q, 400, [new Uint8Array(300), new Uint8Array(301)]);
  assert.equal(chunked.status, 400, chunked.text);
  assert.match(chunked.text, /UPLOAD_SIZE_MISMATCH/);
  assert.equal((await head(a, q)).headers.get('upload-offset'), '400', 'none of those bytes kept');
  assert.equal(storeFiles(a.dataDir, 'partial').find((f) => f.path.endsWith('.data'))?.size, 400);

  // Termination removes the bytes; the quote stays paid and can start again.
  assert.equal((await a.api('DELETE', `/v1/tus/${q.id}`, undefined, tusHeaders(wrong))).status, 401);
  assert.equal((await a.api('DELETE', `/v1/tus/${q.id}`, undefined, tusHeaders(q))).status, 204);
  assert.deepEqual(storeFiles(a.dataDir, 'partial'), []);
  assert.equal((await head(a, q)).status, 404);
  assert.equal((await a.api<ErrorBody>('DELETE', `/v1/tus/${q.id}`, undefined, tusHeaders(q))).body.error.code, 'NOT_FOUND');
  assert.equal((await create(a, q, size)).status, 201);
  assert.equal((await patch(a, q, 0, new Uint8Array(size))).headers.get('upload-offset'), String(size));
});

/** A PATCH written in `parts` with chunked transfer encoding (no Content-Length). */
function rawPatch(a: TestAgent, q: Quote, offset: number, parts: Uint8Array[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${a.agent.url}/v1/tus/${q.id}`, { method: 'PATCH', headers: tusHeaders(q, { ...OCTETS, 'upload-offset': String(offset) }) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

test('a PATCH cut off halfway keeps what arrived, fsynced; the upload resumes there and sends only the rest', async (t) => {
  const a = await startTestAgent(t);
  const bytes = pattern(4 * 1024 * 1024, 2);
  const half = bytes.length / 2;
  const q = await paidQuote(a.api, { size: bytes.length });
  assert.equal((await create(a, q, bytes.length)).status, 201);
  const partialData = () => storeFiles(a.dataDir, 'partial').find((f) => f.path.endsWith('.data'));

  // The client says it sends everything, sends half, waits until the agent has written it, and drops the connection.
  const req = request(`${a.agent.url}/v1/tus/${q.id}`, { method: 'PATCH', headers: tusHeaders(q, { ...OCTETS, 'upload-offset': '0', 'content-length': String(bytes.length) }) });
  req.on('error', () => undefined);
  req.write(bytes.subarray(0, half));
  await until('the first half on disk', () => (partialData()?.size === half ? true : undefined));
  req.destroy();
  const resumeAt = await until('the offset of the cut-off PATCH', async () => {
    const h = await head(a, q);
    return h.headers.get('upload-offset') === String(half) ? half : undefined;
  });
  // Nothing visible before the last byte.
  const status = await a.api<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(status.body.fileId, undefined);
  assert.deepEqual(storeFiles(a.dataDir, 'blobs'), []);

  const rest = bytes.subarray(resumeAt);
  assert.equal(rest.length, bytes.length - half, 'only the remainder goes again');
  const done = await patch(a, q, resumeAt, rest);
  assert.equal(done.status, 204, done.text);
  assert.equal(done.headers.get('storj-sha256'), sha256(bytes));
  const dl = await fetch(`${a.agent.url}/f/${done.headers.get('storj-file-id') ?? ''}`);
  assert.equal(sha256(new Uint8Array(await dl.arrayBuffer())), sha256(bytes));
});

test('a PUT whose client closes its end mid-body is let go: the same upload can be sent again at once', async (t) => {
  const a = await startTestAgent(t);
  const bytes = pattern(2 * 1024 * 1024, 4);
  const q = await paidQuote(a.api, { size: bytes.length });
  const req = request(`${a.agent.url}/v1/uploads/${q.id}`, { method: 'PUT', headers: { authorization: `Bearer ${q.uploadToken}`, 'content-length': String(bytes.length) } });
  req.on('error', () => undefined);
  req.write(bytes.subarray(0, bytes.length / 2));
  const tmp = () => storeFiles(a.dataDir, 'tmp');
  await until('half of the PUT on disk', () => (tmp().some((f) => f.size === bytes.length / 2) ? true : undefined));
  req.destroy();
  // Without the socket's close (src/host/body.ts) the first PUT would hold the upload forever: UPLOAD_IN_PROGRESS.
  const r = await until('the upload to be free again', async () => {
    const put = await a.api<{ sha256: string; error?: { code: string } }>('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
    return put.status === 201 ? put : undefined;
  });
  assert.equal(r.body.sha256, sha256(bytes));
});
