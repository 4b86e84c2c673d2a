// Open quotes per client (src/host/quote-slots.ts, docs/payments.md): a client at quotesPerClientMax gets 429
// TOO_MANY_QUOTES with Retry-After (when its first quote expires), another client is unaffected, and an expired
// or uploaded quote frees its place. Over HTTP and against the host with an injected clock; nothing timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { isAgentError } from '../../src/errors/index.ts';
import { clientKey } from '../../src/host/quote-slots.ts';
import { startTestAgent } from '../helpers/agent.ts';
import { bytes, hostFixture } from './helpers.ts';

/** The error a call throws, with its details. */
async function refusal(fn: () => Promise<unknown>): Promise<{ code: string; retryAfterSeconds: unknown }> {
  try {
    await fn();
  } catch (e) {
    if (isAgentError(e)) return { code: e.code, retryAfterSeconds: e.details?.retryAfterSeconds };
    throw e;
  }
  assert.fail('the call did not fail');
}

test('a client holds at most quotesPerClientMax open quotes; an expired or uploaded one frees its place, another client is unaffected', async (t) => {
  const f = hostFixture(t, { config: { quotesPerClientMax: 3 } });
  const ttlMs = f.deps.config.quoteTtlSeconds * 1000;
  const a = '203.0.113.7';
  const quotes = [];
  for (let i = 0; i < 3; i++) {
    quotes.push(await f.host.createUpload({ size: 4 }, a));
    f.advance(60_000);
  }
  // The first expires ttl after it was made, 3 minutes ago.
  assert.deepEqual(await refusal(() => f.host.createUpload({ size: 4 }, a)), { code: 'TOO_MANY_QUOTES', retryAfterSeconds: ttlMs / 1000 - 180 });
  const files = (): bigint => (f.db.prepare('SELECT count(*) AS n FROM files').get() as { n: bigint }).n;
  assert.equal(files(), 3n, 'a refused quote leaves nothing behind');
  // Another client, and the same client over IPv4-mapped IPv6 is the same client.
  await f.host.createUpload({ size: 4 }, '203.0.113.8');
  assert.equal((await refusal(() => f.host.createUpload({ size: 4 }, `::ffff:${a}`))).code, 'TOO_MANY_QUOTES');

  // One of them uploaded: no longer open, its place is free.
  const up = quotes[1];
  assert.ok(up);
  f.pay(up.address, up.amountSat);
  await f.host.putUpload(up.id, up.uploadToken, bytes(Buffer.from('abcd')));
  await f.host.createUpload({ size: 4 }, a);
  assert.equal((await refusal(() => f.host.createUpload({ size: 4 }, a))).code, 'TOO_MANY_QUOTES');

  // The first expires: one place again, and only one.
  f.advance(ttlMs - 180_000 + 1);
  await f.host.createUpload({ size: 4 }, a);
  assert.equal((await refusal(() => f.host.createUpload({ size: 4 }, a))).code, 'TOO_MANY_QUOTES');
  // A quote that fails for another reason gives its place back.
  let problems = ['disk below its reserve'];
  const g = hostFixture(t, { config: { quotesPerClientMax: 1 }, storageProblems: () => Promise.resolve(problems) });
  assert.equal((await refusal(() => g.host.createUpload({ size: 4 }, a))).code, 'DEGRADED');
  problems = [];
  await g.host.createUpload({ size: 4 }, a);
  assert.equal((await refusal(() => g.host.createUpload({ size: 4 }, a))).code, 'TOO_MANY_QUOTES');
  // Without a client (the host called directly, not over HTTP) there is no limit.
  await g.host.createUpload({ size: 4 });
  await g.host.createUpload({ size: 4 });
});

test('a quote request keys its client by IPv4 address, or by IPv6 /64', () => {
  assert.equal(clientKey('198.51.100.4'), '198.51.100.4');
  assert.equal(clientKey('::ffff:198.51.100.4'), '198.51.100.4');
  assert.equal(clientKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8:0001:0002::ffff'), '2001:db8:1:2::/64');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'));
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey('fe80::'), 'fe80:0:0:0::/64');
});

/** One quote request over its own connection from `localAddress` (127.0.0.x are all loopback on Linux). */
function quote(url: string, localAddress: string): Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, method: 'POST', path: '/v1/uploads', agent: false, localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const body = JSON.parse(Buffer.concat(parts).toString()) as { error?: { code: string } };
        const after = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: typeof after === 'string' ? after : undefined, code: body.error?.code });
      });
    });
    r.on('error', reject);
    r.end('{"size": 1000}');
  });
}

test('over HTTP, quote spam from one client gets 429 TOO_MANY_QUOTES with Retry-After, while another client is served', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_QUOTES_PER_CLIENT_MAX: '4', STORJ_QUOTE_TTL_SECONDS: '600' } });
  const url = a.agent.url;
  for (let i = 0; i < 4; i++) assert.equal((await quote(url, '127.0.0.1')).status, 201);
  for (let i = 0; i < 3; i++) {
    const r = await quote(url, '127.0.0.1');
    assert.equal(r.status, 429);
    assert.equal(r.code, 'TOO_MANY_QUOTES');
    const after = Number(r.retryAfter);
    assert.ok(Number.isInteger(after) && after >= 1 && after <= 600, `Retry-After ${r.retryAfter}`);
  }
  const other = await quote(url, '127.0.0.2');
  assert.equal(other.status, 201, 'another client is unaffected');
  assert.equal(other.retryAfter, undefined);
});
