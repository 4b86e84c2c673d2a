// The one outbound HTTP client against a real local server (node:http on 127.0.0.1): which answers and
// failures it retries and how often, that a POST is sent once, Retry-After, the deadline of each try and the
// caller's abort (both driven by events, never by a clock), the size cap, and redirects. Credentials have
// their own file (scrub.test.ts).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyText, HttpClient, type HttpClientOptions, type HttpRequest } from '../../src/net/index.ts';
import { routes, serve, type Script, type Scripted } from '../chain/helpers.ts';
import { closedUrl, manualDeadlines, netError } from './helpers.ts';

async function setup(t: TestContext, script: Script, opts: Partial<HttpClientOptions> = {}): Promise<{ srv: Scripted; c: HttpClient; sleeps: number[] }> {
  const srv = await serve(script);
  t.after(() => srv.close());
  const sleeps: number[] = [];
  const c = new HttpClient({
    baseUrl: srv.url,
    timeoutMs: 2000,
    retries: 2,
    backoffMs: 100,
    random: () => 0.5,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...opts,
  });
  return { srv, c, sleeps };
}

const GET = (extra: Partial<HttpRequest> = {}): HttpRequest => ({ method: 'GET', path: '/x', ...extra });

// ---- what is retried, and how often ----

void test('429, 502, 503 and 504 are retried until an answer comes, with exponential backoff and equal jitter', async (t) => {
  for (const status of [429, 502, 503, 504]) {
    const { srv, c, sleeps } = await setup(t, (_req, n) => (n < 3 ? { status, body: 'busy' } : { body: 'ok' }));
    const res = await c.request(GET());
    assert.equal(res.status, 200, `HTTP ${status}`);
    assert.equal(bodyText(res), 'ok');
    assert.equal(res.tries, 3);
    assert.equal(srv.requests.length, 3);
    // backoffMs 100 doubled per retry; random 0.5: half of the step fixed, half of the other half drawn.
    assert.deepEqual(sleeps, [75, 150], `HTTP ${status}`);
  }
});

void test('a status that stays retryable is returned as the last answer after 1 + retries tries', async (t) => {
  const { srv, c, sleeps } = await setup(t, () => ({ status: 503, body: 'still busy' }), { retries: 3, random: () => 0 });
  const res = await c.request(GET());
  assert.equal(res.status, 503);
  assert.equal(bodyText(res), 'still busy');
  assert.equal(res.tries, 4);
  assert.equal(srv.requests.length, 4);
  assert.deepEqual(sleeps, [50, 100, 200], 'random 0: only the fixed half of each step');
});

void test('other answers are final at once: 2xx, 3xx, 4xx, 500 and 501 are never retried', async (t) => {
  for (const status of [200, 204, 301, 400, 401, 404, 408, 500, 501]) {
    const headers: Record<string, string> = status === 301 ? { location: '/elsewhere' } : {};
    const { srv, c, sleeps } = await setup(t, () => ({ status, body: status === 204 ? '' : 'no', headers }));
    const res = await c.request(GET());
    assert.equal(res.status, status);
    assert.equal(res.tries, 1);
    assert.equal(srv.requests.length, 1, `HTTP ${status}`);
    assert.deepEqual(sleeps, []);
  }
});

void test('a dropped connection is retried, and after the last try is a NetError network with the tries made', async (t) => {
  const { srv, c } = await setup(t, (_req, n) => (n < 3 ? 'destroy' : { body: 'ok' }));
  assert.equal((await c.request(GET())).status, 200);
  assert.equal(srv.requests.length, 3);

  const { srv: down, c: c2, sleeps } = await setup(t, () => 'destroy', { retries: 2 });
  const e = await netError(c2.request(GET()));
  assert.equal(e.kind, 'network');
  assert.equal(e.tries, 3);
  assert.equal(e.notSent, false, 'the request reached the server: its effect is unknown');
  assert.equal(down.requests.length, 3);
  assert.deepEqual(sleeps, [75, 150]);
});

void test('a refused connection is retried for a GET and reported as certainly not sent', async (t) => {
  const sleeps: number[] = [];
  const c = new HttpClient({ baseUrl: await closedUrl(), retries: 2, backoffMs: 100, random: () => 1, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });
  const e = await netError(c.request(GET()));
  assert.equal(e.kind, 'network');
  assert.equal(e.reason, 'ECONNREFUSED');
  assert.equal(e.notSent, true);
  assert.equal(e.tries, 3);
  assert.deepEqual(sleeps, [100, 200], 'random 1: the whole step');
  t.diagnostic(e.message);
});

void test('HEAD is retried like GET; PUT, PATCH and DELETE only when marked idempotent', async (t) => {
  const { srv, c } = await setup(t, (_req, n) => (n === 1 ? { status: 503 } : { body: '' }));
  assert.equal((await c.request({ method: 'HEAD', path: '/x' })).status, 200);
  assert.equal(srv.requests.length, 2);
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    const { srv: once, c: c1 } = await setup(t, (_req, n) => (n === 1 ? { status: 503 } : { body: '' }));
    assert.equal((await c1.request({ method, path: '/x' })).status, 503, method);
    assert.equal(once.requests.length, 1, method);
    const { srv: twice, c: c2 } = await setup(t, (_req, n) => (n === 1 ? { status: 503 } : { body: '' }));
    assert.equal((await c2.request({ method, path: '/x', idempotent: true })).status, 200, method);
    assert.equal(twice.requests.length, 2, method);
  }
});

void test('the backoff step doubles up to its cap of 30 s, and a jitter draw outside [0, 1] is clamped', async (t) => {
  const { c, sleeps } = await setup(t, () => ({ status: 502 }), { retries: 6, backoffMs: 10_000, random: () => 7 });
  assert.equal((await c.request(GET())).tries, 7);
  assert.deepEqual(sleeps, [10_000, 20_000, 30_000, 30_000, 30_000, 30_000]);
  const { c: low, sleeps: lowSleeps } = await setup(t, () => ({ status: 502 }), { retries: 2, random: () => -3 });
  await low.request(GET());
  assert.deepEqual(lowSleeps, [50, 100]);
});

// ---- a POST is sent once ----

void test('a POST is sent once whatever happens: 503, a dropped connection, a deadline', async (t) => {
  const { srv, c, sleeps } = await setup(t, () => ({ status: 503 }), { retries: 4 });
  const res = await c.request({ method: 'POST', path: '/tx', body: 'abcd' });
  assert.equal(res.status, 503);
  assert.equal(res.tries, 1);
  assert.equal(srv.requests.length, 1);
  assert.equal(srv.requests[0]?.body, 'abcd');

  const { srv: dropped, c: c2 } = await setup(t, () => 'destroy', { retries: 4 });
  const e = await netError(c2.request({ method: 'POST', path: '/tx', body: 'abcd' }));
  assert.equal(e.kind, 'network');
  assert.equal(e.notSent, false);
  assert.equal(e.tries, 1);
  assert.equal(dropped.requests.length, 1);

  const d = manualDeadlines();
  const { srv: hung, c: c3 } = await setup(
    t,
    () => {
      setImmediate(() => d.expireOpen());
      return 'hang';
    },
    { retries: 4, deadline: d.deadline },
  );
  const late = await netError(c3.request({ method: 'POST', path: '/tx', body: 'abcd' }));
  assert.equal(late.kind, 'timeout');
  assert.equal(hung.requests.length, 1);
  assert.deepEqual(sleeps, []);
});

void test('a POST marked idempotent is retried', async (t) => {
  const { srv, c } = await setup(t, (_req, n) => (n === 1 ? { status: 504 } : { body: 'done' }));
  const res = await c.request({ method: 'POST', path: '/jobs/watcher', idempotent: true });
  assert.equal(res.status, 200);
  assert.equal(srv.requests.length, 2);
});

void test('bodies go as given, strings and bytes, with the caller\'s headers', async (t) => {
  const { srv, c } = await setup(t, () => ({ body: 'ok' }));
  await c.request({ method: 'POST', path: '/a', body: '{"n": 1}', headers: { 'content-type': 'application/json' } });
  await c.request({ method: 'PUT', path: '/b', body: new Uint8Array([104, 105]) });
  assert.equal(srv.requests[0]?.body, '{"n": 1}');
  assert.equal(srv.requests[0]?.headers['content-type'], 'application/json');
  assert.equal(srv.requests[1]?.body, 'hi');
  await c.request({ method: 'POST', path: '/c' });
  // No Content-Type unless the caller names one: never a form type that no caller sends.
  assert.deepEqual(srv.requests.slice(1).map((r) => [r.body, r.headers['content-type']]), [['hi', undefined], ['', undefined]]);
  // Never a compressed answer, whatever the caller asks: the body is read and capped as it comes.
  await c.request({ method: 'GET', path: '/d', headers: { 'Accept-Encoding': 'gzip, br' } });
  assert.deepEqual(srv.requests.map((r) => r.headers['accept-encoding']), ['identity', 'identity', 'identity', 'identity']);
});

// ---- Retry-After ----

void test('Retry-After on 429 and 503 is honoured as seconds or an HTTP-date, and capped', async (t) => {
  const answers = [
    { status: 429, headers: { 'retry-after': '2' } },
    { status: 503, headers: { 'retry-after': '3600' } },
    { status: 503, headers: { 'retry-after': new Date(Date.UTC(2999, 0, 1)).toUTCString() } },
    { status: 503, headers: { 'retry-after': new Date(Date.UTC(2000, 0, 1)).toUTCString() } },
    { status: 429, headers: { 'retry-after': 'soon' } },
  ];
  const { c, sleeps } = await setup(t, (_req, n) => answers[n - 1] ?? { body: '1' }, { retries: 5, backoffMs: 10, maxRetryAfterMs: 5000 });
  assert.equal((await c.request(GET())).tries, 6);
  // 2 s; an hour capped to 5 s; a date far ahead capped too; a date past is no wait beyond the backoff (60 ms
  // at the 4th retry), and a value that is neither is ignored (the backoff, 120 ms).
  assert.deepEqual(sleeps, [2000, 5000, 5000, 60, 120]);
});

void test('Retry-After is never shorter than the backoff, and is ignored on 502 and 504', async (t) => {
  const answers = [
    { status: 503, headers: { 'retry-after': '0' } },
    { status: 502, headers: { 'retry-after': '9' } },
    { status: 504, headers: { 'retry-after': '9' } },
  ];
  const { c, sleeps } = await setup(t, (_req, n) => answers[n - 1] ?? { body: '1' }, { retries: 3 });
  await c.request(GET());
  assert.deepEqual(sleeps, [75, 150, 300]);
});

// ---- the deadline of each try, and the caller's abort ----

void test('a server that never answers: each try gets its own deadline of timeoutMs, then NetError timeout', async (t) => {
  const d = manualDeadlines();
  const { srv, c, sleeps } = await setup(
    t,
    () => {
      setImmediate(() => d.expireOpen());
      return 'hang';
    },
    { timeoutMs: 1234, retries: 2, deadline: d.deadline },
  );
  const e = await netError(c.request(GET()));
  assert.equal(e.kind, 'timeout');
  assert.equal(e.tries, 3);
  assert.match(e.message, /no answer within 1234 ms/);
  assert.equal(srv.requests.length, 3);
  assert.deepEqual(d.armed.map((x) => [x.ms, x.expired]), [[1234, true], [1234, true], [1234, true]]);
  assert.deepEqual(sleeps, [75, 150]);
});

void test('an answer in time clears its deadline, and a late retry gets a fresh one', async (t) => {
  const d = manualDeadlines();
  const { c } = await setup(t, (_req, n) => (n === 1 ? (setImmediate(() => d.expireOpen()), 'hang') : { body: 'ok' }), { deadline: d.deadline });
  assert.equal((await c.request(GET())).status, 200);
  assert.deepEqual(d.armed.map((x) => [x.expired, x.cancelled]), [[true, true], [false, true]]);
});

void test('the default deadline is a real timer', async (t) => {
  const { c } = await setup(t, () => 'hang', { timeoutMs: 50, retries: 0, deadline: undefined });
  const e = await netError(c.request(GET()));
  assert.equal(e.kind, 'timeout');
});

void test('an aborted signal sends nothing and rejects with its reason', async (t) => {
  const { srv, c } = await setup(t, () => ({ body: '1' }));
  const ctl = new AbortController();
  ctl.abort(new Error('not wanted'));
  await assert.rejects(c.request(GET({ signal: ctl.signal })), { message: 'not wanted' });
  await assert.rejects(c.request({ method: 'POST', path: '/tx', signal: ctl.signal }), { message: 'not wanted' });
  assert.equal(srv.requests.length, 0);
});

void test('an abort during a try ends it at once, clears its deadline, and is not retried', async (t) => {
  const ctl = new AbortController();
  const d = manualDeadlines();
  const { srv, c, sleeps } = await setup(
    t,
    () => {
      setImmediate(() => ctl.abort(new Error('shutting down')));
      return 'hang';
    },
    { retries: 4, deadline: d.deadline },
  );
  await assert.rejects(c.request(GET({ signal: ctl.signal })), { message: 'shutting down' });
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(sleeps, []);
  assert.deepEqual(d.armed.map((x) => [x.expired, x.cancelled]), [[false, true]], 'ended by the abort, not the deadline');
});

void test('an abort during the wait between tries stops before the next try', async (t) => {
  const ctl = new AbortController();
  const { srv, c } = await setup(t, () => ({ status: 503 }), {
    retries: 4,
    sleep: (_ms, signal) => {
      ctl.abort();
      return Promise.reject(signal?.reason as Error);
    },
  });
  await assert.rejects(c.request(GET({ signal: ctl.signal })), { name: 'AbortError' });
  assert.equal(srv.requests.length, 1);
});

// A default sleep that ignored the signal would hold this test for the whole Retry-After (a minute): the
// test's own timeout fails it first.
void test('the default sleep waits, and an abort ends it', { timeout: 30_000 }, async (t) => {
  const { srv, c } = await setup(t, (_req, n) => (n === 1 ? { status: 503 } : { body: '3' }), { sleep: undefined, backoffMs: 20 });
  assert.equal((await c.request(GET())).status, 200);
  assert.equal(srv.requests.length, 2);
  const ctl = new AbortController();
  const { srv: slow, c: c2 } = await setup(t, () => ({ status: 503, headers: { 'retry-after': '60' } }), {
    sleep: undefined,
    maxRetryAfterMs: 60_000,
    // The jitter is drawn just before the sleep starts: the abort lands on the next turn, inside the sleep.
    random: () => {
      setImmediate(() => ctl.abort());
      return 0.5;
    },
  });
  await assert.rejects(c2.request(GET({ signal: ctl.signal })), { name: 'AbortError' });
  assert.equal(slow.requests.length, 1);
});

// ---- the size cap, redirects ----

void test('an answer over maxBytes is NetError too_large, at once and without a retry; at the cap it is read whole', async (t) => {
  const { srv, c } = await setup(t, routes({ '/big': { body: 'x'.repeat(1001) }, '/fits': { body: 'y'.repeat(1000) } }));
  const e = await netError(c.request({ method: 'GET', path: '/big', maxBytes: 1000 }));
  assert.equal(e.kind, 'too_large');
  assert.equal(e.limit, 1000);
  assert.equal(e.tries, 1);
  assert.equal(srv.requests.length, 1);
  assert.equal((await c.request({ method: 'GET', path: '/fits', maxBytes: 1000 })).body.length, 1000);
  assert.equal((await c.request({ method: 'GET', path: '/big' })).body.length, 1001, 'no cap unless asked for');
});

void test('an answer streamed without a length is cut off once it passes the cap, not read to its end', async (t) => {
  // Chunked, with no Content-Length to refuse it by: the cap must hold while the bytes arrive.
  const total = 64 * 1024 * 1024;
  let written = 0;
  let closed!: () => void;
  const gone = new Promise<void>((ok) => (closed = ok));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 97);
    const pump = (): void => {
      while (written < total && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (written >= total) res.end();
    };
    res.on('close', () => closed());
    pump();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))));
  const c = new HttpClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const e = await netError(c.request({ method: 'GET', path: '/', maxBytes: 1024 * 1024 }));
  assert.equal(e.kind, 'too_large');
  await gone;
  assert.ok(written < total, `the server sent ${written} of ${total} bytes before the client hung up`);
});

void test('a redirect is not followed unless the client allows it', async (t) => {
  const { srv, c } = await setup(t, routes({ '/old': { status: 302, headers: { location: '/new' } }, '/new': { body: 'moved here' } }));
  const res = await c.request({ method: 'GET', path: '/old' });
  assert.equal(res.status, 302);
  assert.deepEqual(srv.requests.map((r) => r.path), ['/old']);
  const follows = new HttpClient({ baseUrl: srv.url, maxRedirects: 3 });
  assert.equal(bodyText(await follows.request({ method: 'GET', path: '/old' })), 'moved here');
});

void test('the base URL\'s path prefixes every request and its query goes along', async (t) => {
  const { srv } = await setup(t, () => ({ body: 'ok' }));
  const c = new HttpClient({ baseUrl: `${srv.url}/api/?v=2` });
  await c.request({ method: 'GET', path: '/blocks/tip/height' });
  assert.equal(srv.requests[0]?.url, '/api/blocks/tip/height?v=2');
});

void test('options out of range are RangeErrors naming the option; a base URL that is not http(s) is a TypeError', () => {
  for (const [key, value] of [['timeoutMs', 0], ['retries', -1], ['retries', 21], ['backoffMs', 1.5], ['maxRetryAfterMs', -5], ['maxRedirects', 99]] as const) {
    assert.throws(() => new HttpClient({ baseUrl: 'http://x', [key]: value }), (e: unknown) => e instanceof RangeError && e.message.startsWith(key));
  }
  assert.throws(() => new HttpClient({ baseUrl: 'ftp://x' }), TypeError);
  assert.throws(() => new HttpClient({ baseUrl: 'not a url' }), TypeError);
});

void test('a path may carry its own query, which follows the base URL\'s', async (t) => {
  const { srv } = await setup(t, () => ({ body: 'ok' }));
  await new HttpClient({ baseUrl: `${srv.url}/api?v=2` }).request({ method: 'GET', path: '/q?since=5&n=1' });
  await new HttpClient({ baseUrl: srv.url }).request({ method: 'GET', path: '/q?since=5' });
  assert.deepEqual(srv.requests.map((r) => r.url), ['/api/q?v=2&since=5&n=1', '/q?since=5']);
});

void test('a redirect followed: a 303 after a POST is a GET without the body; a 307 keeps the method and the body', async (t) => {
  const { srv } = await setup(t, routes({ '/see': { status: 303, headers: { location: '/other' } }, '/keep': { status: 307, headers: { location: '/other' } }, '/other': { body: 'here' } }));
  const c = new HttpClient({ baseUrl: srv.url, maxRedirects: 1 });
  await c.request({ method: 'POST', path: '/see', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
  await c.request({ method: 'POST', path: '/keep', body: '{"b":2}', headers: { 'content-type': 'application/json' } });
  assert.deepEqual(
    srv.requests.map((r) => [r.method, r.path, r.body, r.headers['content-type']]),
    [['POST', '/see', '{"a":1}', 'application/json'], ['GET', '/other', '', undefined], ['POST', '/keep', '{"b":2}', 'application/json'], ['POST', '/other', '{"b":2}', 'application/json']],
  );
  const hops = await setup(t, (_req, n) => ({ status: 302, headers: { location: `/hop${n}` } }));
  const res = await new HttpClient({ baseUrl: hops.srv.url, maxRedirects: 2 }).request({ method: 'GET', path: '/start' });
  assert.equal(res.status, 302, 'the redirect after the last one allowed is the answer');
  assert.deepEqual(hops.srv.requests.map((r) => r.path), ['/start', '/hop1', '/hop2']);
});

void test('a connection reset while the body is read is a NetError network, retried for a GET', async (t) => {
  let n = 0;
  const server = createServer((_req, res) => {
    n++;
    if (n > 2) return void res.end('whole');
    res.writeHead(200, { 'content-length': '1000' });
    res.write('only ten b', () => res.socket?.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const once = new HttpClient({ baseUrl: url, retries: 0 });
  const e = await netError(once.request(GET()));
  assert.equal(e.kind, 'network');
  assert.equal(e.notSent, false);
  const retried = new HttpClient({ baseUrl: url, retries: 1, sleep: () => Promise.resolve() });
  assert.equal(bodyText(await retried.request(GET())), 'whole');
  assert.equal(n, 3);
});
