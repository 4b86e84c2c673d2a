// One error shape: every non-2xx answer is {error: {code, message}} with a code from the catalogue, whoever
// answers (a route, fastify, the router, the body parser, Node's HTTP parser), and nothing else at the top level
// but a 402's payment details. Also the devnet controls' guard (JSON only, the agent's own Origin only).
import { test } from 'node:test';
import type { Server } from 'node:http';
import assert from 'node:assert/strict';
import { startTestAgent } from '../helpers/agent.ts';
import { codeOf, envelopeProblem, rawExchange, RawConnection, type RawResponse } from './helpers.ts';

const req = (method: string, path: string, headers: Record<string, string> = {}, body = '') => {
  const h = { host: 'agent', ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
};

function expectError(res: RawResponse | undefined, status: number, code: string, what: string): void {
  assert.ok(res, `${what}: no answer`);
  assert.equal(res.status, status, `${what}: ${res.body.toString()}`);
  assert.equal(envelopeProblem(res), undefined, `${what}: ${res.body.toString()}`);
  assert.equal(codeOf(res), code, what);
}

test('errors from the router, the parsers and Node\'s HTTP parser come in the envelope with catalogue codes', async (t) => {
  const a = await startTestAgent(t);
  const url = a.agent.url;
  const one = async (bytes: string, head = false, endFirst = false) => (await rawExchange(url, bytes, { head, endFirst }))[0];

  for (const path of ['/v1/%ff', '/v1/files/%ff', '/f/%E0%A4%A', '/v1/uploads/%c0%af', '/%']) {
    expectError(await one(req('GET', path)), 400, 'BAD_REQUEST', `bad encoding ${path}`);
  }
  expectError(await one(req('GET', `/v1/files/${'a'.repeat(300)}`)), 414, 'URI_TOO_LONG', 'a parameter over maxParamLength');
  expectError(await one(req('GET', `/${'a'.repeat(20_000)}`)), 431, 'HEADERS_TOO_LARGE', 'a request line over the header limit');
  expectError(await one(req('GET', '/v1/info', { 'x-big': 'b'.repeat(20_000) })), 431, 'HEADERS_TOO_LARGE', 'a header over the limit');
  expectError(await one(req('OPTIONS', '/v1/info')), 404, 'NOT_FOUND', 'OPTIONS');
  expectError(await one(req('OPTIONS', '/v1/uploads', { 'content-type': 'text/plain' }, 'x')), 404, 'NOT_FOUND', 'OPTIONS with a body');
  expectError(await one(req('DELETE', '/v1/files/abc')), 404, 'NOT_FOUND', 'no route');
  expectError(await one('BREW /pot HTTP/1.1\r\nhost: x\r\n\r\n'), 400, 'BAD_REQUEST', 'a method Node does not know');
  expectError(await one('GET / HTTP/1.1\r\nbad header\r\n\r\n'), 400, 'BAD_REQUEST', 'a header without a colon');
  expectError(await one('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n'), 400, 'BAD_REQUEST', 'CONNECT');
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'application/json' }, '{"size": ')), 400, 'BAD_REQUEST', 'bad JSON');
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'application/json' }, '{"size": 1, "x": 1}')), 400, 'BAD_REQUEST', 'an unknown field');
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'text/plain' }, '{"size": 1}')), 415, 'UNSUPPORTED_MEDIA_TYPE', 'text/plain on a JSON route');
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'application/json' }, `{"size": 1, "filename": "${'x'.repeat(70_000)}"}`)), 413, 'PAYLOAD_TOO_LARGE', 'a body over bodyLimit');
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, 'zz\r\n')), 400, 'BAD_REQUEST', 'a broken chunk');
  // A body shorter than its Content-Length, then the end of the connection.
  expectError(await one(req('POST', '/v1/uploads', { 'content-type': 'application/json', 'content-length': '100' }).replace(/content-length: \d+/, 'content-length: 100') + '{"si', false, true), 400, 'BAD_REQUEST', 'a body cut short');

  // Details stay out of the top level: the message carries them.
  const big = await one(req('POST', '/v1/uploads', { 'content-type': 'application/json' }, `{"size": ${a.config.maxFileSize + 1}}`));
  expectError(big, 413, 'PAYLOAD_TOO_LARGE', 'a size over maxFileSize');
  assert.match((JSON.parse(big!.body.toString()) as { error: { message: string } }).error.message, new RegExp(String(a.config.maxFileSize)));
  const job = await one(req('POST', '/v1/dev/jobs/no-such-job'));
  expectError(job, 404, 'JOB_NOT_FOUND', 'an unknown job');
  assert.deepEqual(Object.keys(JSON.parse(job!.body.toString()) as object), ['error']);

  // A 402 carries the payment details README.md documents ("Error codes"), and nothing else.
  const q = await a.api<{ id: string; uploadToken: string; address: string; amountSat: number }>('POST', '/v1/uploads', { size: 10 });
  const put = await one(req('PUT', `/v1/uploads/${q.body.id}`, { authorization: `Bearer ${q.body.uploadToken}`, 'content-type': 'application/octet-stream' }, '0123456789'));
  expectError(put, 402, 'PAYMENT_REQUIRED', 'an unpaid upload');
  const body402 = JSON.parse(put!.body.toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body402).sort(), ['address', 'amountSat', 'bip21', 'error', 'receivedSat']);
  assert.equal(body402.address, q.body.address);
  assert.equal(body402.amountSat, q.body.amountSat);

  // A HEAD of something missing: the status is the catalogue's, with no body.
  const head = await one(req('HEAD', '/f/nope'), true);
  assert.equal(head?.status, 404);
});

test('the devnet controls take only JSON, and refuse a page of another origin', async (t) => {
  const a = await startTestAgent(t);
  const own = new URL(a.agent.url).origin;
  const mine = (headers: Record<string, string>, body?: string) =>
    fetch(`${a.agent.url}/v1/dev/mine`, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string }; height?: number } }));

  const plain = await mine({ 'content-type': 'text/plain' }, '{"blocks": 1}');
  assert.equal(plain.status, 415);
  assert.equal(plain.body.error?.code, 'UNSUPPORTED_MEDIA_TYPE');
  const form = await mine({ 'content-type': 'application/x-www-form-urlencoded' }, 'blocks=1');
  assert.equal(form.status, 415);

  for (const origin of ['http://evil.example', 'null', `${own}.evil.example`, own.replace('http:', 'https:')]) {
    const r = await mine({ 'content-type': 'application/json', origin }, '{"blocks": 1}');
    assert.equal(r.status, 403, origin);
    assert.equal(r.body.error?.code, 'FORBIDDEN_ORIGIN', origin);
  }
  const jobForeign = await fetch(`${a.agent.url}/v1/dev/jobs/watcher`, { method: 'POST', headers: { origin: 'http://evil.example' } });
  assert.equal(jobForeign.status, 403);

  const before = (await mine({ 'content-type': 'application/json' }, '{"blocks": 1}')).body.height;
  assert.equal(typeof before, 'number', 'no Origin (curl, the CLI): works');
  const sameOrigin = await mine({ 'content-type': 'application/json; charset=utf-8', origin: own }, '{"blocks": 1}');
  assert.equal(sameOrigin.status, 200, 'the agent\'s own origin: works');
  assert.equal(sameOrigin.body.height, (before ?? 0) + 1);
  const job = await fetch(`${a.agent.url}/v1/dev/jobs/watcher`, { method: 'POST' });
  assert.equal(job.status, 200, 'a POST without a body needs no Content-Type');
});

test('a request that arrives while the agent closes gets 503 SHUTTING_DOWN in the envelope, and close() still ends', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_SHUTDOWN_TIMEOUT_MS: '30000' } });
  const c = new RawConnection(a.agent.url);
  await c.ready();
  c.write('GET /v1/info HTTP/1.1\r\nhost: agent\r\n');
  // The connection is known to the server (its headers have started) before the close begins.
  for (let i = 0; i < 200 && a.agent.app.server.listening && (await connectionCount(a.agent.app.server)) < 1; i++) await new Promise((r) => setImmediate(r));
  const closing = a.agent.close();
  for (let i = 0; i < 1000 && a.agent.app.server.listening; i++) await new Promise((r) => setImmediate(r));
  assert.equal(a.agent.app.server.listening, false);
  c.write('\r\n');
  const res = await c.read();
  expectError(res, 503, 'SHUTTING_DOWN', 'a request during shutdown');
  assert.equal(res?.headers.connection, 'close');
  await closing;
});

function connectionCount(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}
