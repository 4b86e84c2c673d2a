// Limits on free work: quotes, status and info share one per-client budget (429 RATE_LIMITED with Retry-After
// once it is spent) while another client is unaffected, by source address or, behind a trusted proxy, by
// X-Forwarded-For; and a per-client cap on open connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import { startTestAgent } from '../helpers/agent.ts';
import { codeOf, envelopeProblem, hostPort, RawConnection, type RawResponse } from './helpers.ts';

/** One request over its own connection, from `localAddress` (127.0.0.x are all loopback on Linux). */
function call(url: string, method: string, path: string, opts: { localAddress?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const { host, port } = hostPort(url);
  return new Promise((resolve, reject) => {
    const r = request({ host, port, method, path, agent: false, headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: Buffer.concat(parts) }));
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

function assertLimited(res: RawResponse, what: string): void {
  assert.equal(res.status, 429, `${what}: ${res.body.toString()}`);
  assert.equal(envelopeProblem(res), undefined, what);
  assert.equal(codeOf(res), 'RATE_LIMITED', what);
  const after = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(after) && after > 0 && after <= 60, `${what}: Retry-After ${res.headers['retry-after']}`);
}

test('after its burst a client gets 429 with Retry-After on every free route, while another address is served', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_RATE_LIMIT_MAX: '6', STORJ_RATE_LIMIT_WINDOW_SECONDS: '60' } });
  const url = a.agent.url;
  const quote = await call(url, 'POST', '/v1/uploads', { body: '{"size": 1000}' });
  assert.equal(quote.status, 201, quote.body.toString());
  const id = (JSON.parse(quote.body.toString()) as { id: string }).id;
  // One budget for all free routes: 1 quote + 5 more of any kind spend it.
  for (const path of ['/v1/info', `/v1/uploads/${id}`, '/v1/info', `/v1/uploads/${id}`, '/v1/info']) {
    const r = await call(url, 'GET', path);
    assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  }
  assertLimited(await call(url, 'GET', '/v1/info'), 'info');
  assertLimited(await call(url, 'GET', `/v1/uploads/${id}`), 'status');
  assertLimited(await call(url, 'GET', '/v1/files/0000'), 'file status');
  assertLimited(await call(url, 'POST', '/v1/uploads', { body: '{"size": 1000}' }), 'quote');
  // Routes that are not free work are not counted against it.
  assert.equal((await call(url, 'GET', '/v1/openapi.json')).status, 200);

  const other = await call(url, 'GET', '/v1/info', { localAddress: '127.0.0.2' });
  assert.equal(other.status, 200, 'another client is unaffected');
  assert.equal((await call(url, 'POST', '/v1/uploads', { localAddress: '127.0.0.2', body: '{"size": 1000}' })).status, 201);
  // Without trustProxy, X-Forwarded-For is the client's own say-so and changes nothing.
  assertLimited(await call(url, 'GET', '/v1/info', { headers: { 'x-forwarded-for': '10.9.9.9' } }), 'a forged X-Forwarded-For');
});

test('behind a trusted proxy the client is X-Forwarded-For, for the rate limit and for requests in flight', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_TRUST_PROXY: 'true', STORJ_RATE_LIMIT_MAX: '3', STORJ_MAX_CONNECTIONS_PER_CLIENT: '2' } });
  const url = a.agent.url;
  const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
  for (let i = 0; i < 3; i++) assert.equal((await call(url, 'GET', '/v1/info', from('10.0.0.1'))).status, 200);
  assertLimited(await call(url, 'GET', '/v1/info', from('10.0.0.1')), 'the proxied client over its budget');
  assert.equal((await call(url, 'GET', '/v1/info', from('10.0.0.2'))).status, 200, 'another proxied client');

  // Two requests in flight from 10.0.0.3 (bodies still arriving); a third is refused, 10.0.0.4 is served.
  const held: RawConnection[] = [];
  for (let i = 0; i < 2; i++) {
    const c = new RawConnection(url);
    await c.ready();
    c.write('POST /v1/dev/mine HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 10.0.0.3\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"bl');
    held.push(c);
  }
  let third: RawResponse | undefined;
  // The held requests reach the server in their own time: retry (bounded) until both count.
  for (let i = 0; i < 50; i++) {
    third = await call(url, 'GET', '/v1/openapi.json', from('10.0.0.3'));
    if (third.status === 429) break;
  }
  assert.ok(third);
  assertLimited(third, 'a third request in flight');
  assert.equal((await call(url, 'GET', '/v1/openapi.json', from('10.0.0.4'))).status, 200);
  for (const c of held) c.destroy();
});

test('a client over its connection limit is refused at connect; other clients and freed slots are served', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_MAX_CONNECTIONS_PER_CLIENT: '3', STORJ_HEADERS_TIMEOUT_MS: '60000' } });
  const url = a.agent.url;
  const held: RawConnection[] = [];
  for (let i = 0; i < 3; i++) {
    const c = new RawConnection(url);
    await c.ready();
    c.write('GET /v1/info HTTP/1.1\r\nhost: a\r\n'); // headers never finished: the connection stays open
    held.push(c);
  }
  // Each held connection is counted on accept; wait (bounded) until the server has all three.
  for (let i = 0; i < 200 && (await count(a.agent.app.server)) < 3; i++) await new Promise((r) => setImmediate(r));
  const over = new RawConnection(url);
  await over.ready().catch(() => undefined);
  over.write('GET /v1/info HTTP/1.1\r\nhost: a\r\n\r\n');
  assert.equal(await over.read(), undefined, 'the fourth connection is closed without an answer');

  const other = await call(url, 'GET', '/v1/info', { localAddress: '127.0.0.2' });
  assert.equal(other.status, 200, 'another address is served');

  held.pop()?.destroy();
  let res: RawResponse | undefined;
  for (let i = 0; i < 50 && res?.status !== 200; i++) res = await call(url, 'GET', '/v1/info').catch(() => undefined);
  assert.equal(res?.status, 200, 'a freed slot is usable');
  for (const c of held) c.destroy();
});

function count(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}
