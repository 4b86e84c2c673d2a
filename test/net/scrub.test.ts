// Credentials never leave through an error: a base URL with user:pass@ and ?key=secret, an Authorization
// header, a token header and a secret in a request's query are all used for the request, and none of them
// shows in any failure's message, fields, JSON, inspection or cause. A server that echoes them gets them
// redacted when a caller repeats its words.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { HttpClient, type HttpClientOptions, type NetError } from '../../src/net/index.ts';
import { serve, type Script, type Scripted } from '../chain/helpers.ts';
import { closedUrl, manualDeadlines, netError } from './helpers.ts';

const SECRETS = ['alice', 'hunter2', 's3cretkey', 'tok-abc123', 'hdr-key-789', 'q-secret-42'];

/** Every way the error can be shown: message, String, JSON, util.inspect (with its stack and fields), and its cause. */
function assertClean(e: NetError, what: string): void {
  assert.equal(e.cause, undefined, `${what}: no cause, which would carry the request's config`);
  const shown = [e.message, String(e), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), e.stack ?? ''].join('\n');
  for (const secret of SECRETS) assert.ok(!shown.includes(secret), `${what}: "${secret}" shows in\n${shown}`);
  assert.ok(!e.url.includes('?') && !e.message.includes('?'), `${what}: no query at all in ${e.message}`);
}

/** Two clients of one server: credentials in the URL (sent as Basic), and in headers (the URL's win over a header). */
async function clients(t: TestContext, script: Script, opts: Partial<HttpClientOptions> = {}): Promise<{ srv: Scripted; inUrl: HttpClient; inHeaders: HttpClient }> {
  const srv = await serve(script);
  t.after(() => srv.close());
  const common = { retries: 1, sleep: () => Promise.resolve(), ...opts };
  const inUrl = new HttpClient({ baseUrl: srv.url.replace('http://', 'http://alice:hunter2@') + '/api?key=s3cretkey', ...common });
  const inHeaders = new HttpClient({ baseUrl: `${srv.url}/api?key=s3cretkey`, headers: { authorization: 'Bearer tok-abc123', 'x-api-key': 'hdr-key-789' }, ...common });
  return { srv, inUrl, inHeaders };
}

const REQ = { method: 'GET', path: '/blocks?token=q-secret-42', headers: { 'x-auth-token': 'hdr-key-789' } } as const;

void test('the credentials are sent: Basic from the URL\'s userinfo, the query, the headers', async (t) => {
  const { srv, inUrl, inHeaders } = await clients(t, () => ({ body: 'ok' }));
  await inUrl.request(REQ);
  await inHeaders.request(REQ);
  const [a, b] = srv.requests;
  assert.equal(a?.headers.authorization, `Basic ${Buffer.from('alice:hunter2').toString('base64')}`);
  assert.equal(a?.url, '/api/blocks?key=s3cretkey&token=q-secret-42');
  assert.equal(b?.headers.authorization, 'Bearer tok-abc123');
  assert.equal(b?.headers['x-api-key'], 'hdr-key-789');
  assert.equal(b?.headers['x-auth-token'], 'hdr-key-789');
});

void test('a dropped connection, after its retries, shows no credential', async (t) => {
  const { inUrl, inHeaders } = await clients(t, () => 'destroy');
  for (const [name, c] of [['in the URL', inUrl], ['in headers', inHeaders]] as const) {
    const e = await netError(c.request(REQ));
    assert.equal(e.tries, 2);
    assert.equal(e.url.endsWith('/blocks'), true, e.url);
    assertClean(e, name);
  }
});

void test('a refused connection shows no credential', async () => {
  const base = (await closedUrl()).replace('http://', 'http://alice:hunter2@');
  const c = new HttpClient({ baseUrl: `${base}/api?key=s3cretkey`, retries: 0 });
  const e = await netError(c.request(REQ));
  assert.equal(e.reason, 'ECONNREFUSED');
  assertClean(e, 'refused');
  const h = new HttpClient({ baseUrl: `${await closedUrl()}/api?key=s3cretkey`, headers: { authorization: 'Bearer tok-abc123' }, retries: 0 });
  assertClean(await netError(h.request(REQ)), 'refused, in headers');
});

void test('a deadline and an answer over the cap show no credential', async (t) => {
  const d = manualDeadlines();
  const { inUrl, inHeaders } = await clients(
    t,
    (req) => {
      if (req.path.endsWith('/big')) return { body: 'hunter2 tok-abc123 '.repeat(100) };
      setImmediate(() => d.expireOpen());
      return 'hang';
    },
    { deadline: d.deadline },
  );
  for (const [name, c] of [['in the URL', inUrl], ['in headers', inHeaders]] as const) {
    const late = await netError(c.request(REQ));
    assert.equal(late.kind, 'timeout');
    assertClean(late, `${name}, timeout`);
    const big = await netError(c.request({ ...REQ, path: '/big?token=q-secret-42', maxBytes: 100 }));
    assert.equal(big.kind, 'too_large');
    assertClean(big, `${name}, too large`);
  }
});

void test('a redirect to another origin, when followed, takes no credential there; one to the same origin keeps them', async (t) => {
  const other = await serve(() => ({ body: 'elsewhere' }));
  t.after(() => other.close());
  const { srv, inUrl, inHeaders } = await clients(t, (req) => (req.path === '/api/same' ? { body: 'same' } : { status: 302, headers: { location: req.path === '/api/away' ? `${other.url}/landing` : '/api/same' } }), { maxRedirects: 1 });
  for (const c of [inUrl, inHeaders]) {
    assert.equal((await c.request({ ...REQ, path: '/away' })).body.toString(), 'elsewhere');
    assert.equal((await c.request({ ...REQ, path: '/stay' })).body.toString(), 'same');
  }
  assert.equal(other.requests.length, 2);
  for (const r of other.requests) {
    for (const name of ['authorization', 'x-api-key', 'x-auth-token']) assert.equal(r.headers[name], undefined, name);
    assert.equal(r.url, '/landing');
  }
  const same = srv.requests.filter((r) => r.path === '/api/same');
  assert.deepEqual(same.map((r) => r.headers.authorization), [`Basic ${Buffer.from('alice:hunter2').toString('base64')}`, 'Bearer tok-abc123']);
  assert.equal(same[1]?.headers['x-api-key'], 'hdr-key-789');
});

void test('redact() removes the client\'s credentials from text a server sent back, and short values are left alone', () => {
  const c = new HttpClient({ baseUrl: 'http://alice:hunt%65r2@127.0.0.1:1/api?key=s3cretkey&v=2', headers: { authorization: 'Bearer tok-abc123', 'X-Api-Key': 'hdr-key-789' } });
  assert.equal(
    c.redact('user alice, pass hunter2 (or hunt%65r2), key s3cretkey, Bearer tok-abc123, and hdr-key-789, v=2'),
    'user ***, pass *** (or ***), key ***, ***, and ***, v=2',
  );
  assert.equal(c.origin, 'http://127.0.0.1:1');
});
