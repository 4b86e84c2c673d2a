// A property-based fuzz (fast-check) of the whole HTTP surface, against a real agent on the devnet, over raw
// sockets (so it can send what fetch cannot: bad encodings, broken framing, huge request lines and headers):
// every route, with odd methods, paths, headers, auth, ranges and bodies of every kind. The property: no answer
// is a 5xx, every request gets an answer, and every error answer is the one envelope with a code from the
// catalogue (src/errors/index.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomInt } from 'node:crypto';
import { startTestAgent } from '../helpers/agent.ts';
import { payAndConfirm, quote, upload } from '../helpers/paid.ts';
import { codeOf, envelopeProblem, rawExchange, RawConnection, type RawResponse } from './helpers.ts';

// FUZZ_RUNS runs fewer (or more) while working on it; the suite runs 10,000.
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

interface Req {
  method: string;
  path: string;
  headers: [string, string][];
  rawHeaderLines: string[];
  body: Buffer | undefined;
  framing: 'length' | 'none' | 'short' | 'long' | 'chunked' | 'bad-chunked';
}

test(`${RUNS} generated requests across every route: no 5xx, and every error is the envelope`, async (t) => {
  const a = await startTestAgent(t, {
    env: { STORJ_RATE_LIMIT_MAX: '1000000', STORJ_MAX_CONNECTIONS_PER_CLIENT: '100000', STORJ_REQUEST_TIMEOUT_MS: '200' },
  });
  const url = a.agent.url;
  // Real resources, so the fuzz reaches past "not found": a file with a balance, a paid quote, an unpaid one.
  const filled = await quote(a.api, { size: 4096, downloads: 200 });
  const paid = await quote(a.api, { size: 64, downloads: 1 });
  await payAndConfirm(a.api, [filled, paid]);
  const fileBytes = new Uint8Array(4096).fill(9);
  const { fileId, sha256 } = await upload(a.api, filled, fileBytes);
  const unpaid = await quote(a.api, { size: 10, downloads: 1 });

  // ---- generators ----
  const odd = ['%ff', '%00', '%2e%2e', '..', '%2F', 'a%20b', '%E2%82%AC', '%', '%zz', 'a'.repeat(150), '', '%C0%AF', '~', '!$&\'()*+,;=', '%25ff'];
  const idLike = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(fileId, filled.id, paid.id, unpaid.id, sha256, 'watcher', 'sweep', 'deletion', 'pricing') },
    { weight: 2, arbitrary: fc.constantFrom(...odd) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/) },
  );
  // Every route with its own method; a third of the time another method.
  const route = fc.constantFrom(
    ['GET', '/v1/info'], ['GET', '/v1/openapi.json'], ['GET', '/healthz'], ['GET', '/v1/agent'], ['POST', '/v1/uploads'],
    ['GET', '/v1/uploads/{}', paid.id], ['PUT', '/v1/uploads/{}', paid.id], ['PUT', '/v1/uploads/{}', unpaid.id], ['GET', '/v1/files/{}', fileId],
    ['GET', '/f/{}', fileId], ['GET', '/f/{}', fileId], ['HEAD', '/f/{}', fileId],
    ['POST', '/v1/dev/pay'], ['POST', '/v1/dev/mine'], ['POST', '/v1/dev/advance'], ['POST', '/v1/dev/jobs/{}', 'watcher'],
    ['GET', '/'], ['GET', '/v1/{}'], ['GET', '/metrics'], ['POST', '/v1/proposals'], ['GET', '/v1/proposals/{}'],
    ['GET', '/v1/bundle'], ['HEAD', '/v1/bundle'], ['POST', '/v1/identity'],
  );
  const suffix = fc.constantFrom('', '', '', '', '', '/', '?x=1', '?%ff', '?a=%00&a=2', '//', '/..', '#f', ';x', `?${'q'.repeat(300)}`);
  const otherMethod = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT') },
    { weight: 2, arbitrary: fc.constantFrom('DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'get', 'BREW', 'CONNECT', 'PROPFIND', 'M-SEARCH') },
  );
  const target = fc
    .tuple(route, fc.option(otherMethod, { freq: 3 }), fc.option(idLike, { freq: 2 }), suffix)
    .map(([[own, tpl, natural], other, id, s]) => ({ method: other ?? own ?? 'GET', path: (tpl ?? '/').replace('{}', id ?? natural ?? '') + s }));
  const token = fc.constantFrom(filled.uploadToken, paid.uploadToken, unpaid.uploadToken, a.config.adminToken, 'x', '', 'a'.repeat(500));
  const safe = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);
  const header: fc.Arbitrary<[string, string]> = fc.oneof(
    fc.tuple(fc.constant('content-type'), fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/JSON', '', ';;', 'application/json; charset=latin1')),
    fc.tuple(fc.constant('authorization'), fc.oneof(token.map((v) => `Bearer ${v}`), fc.constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'bearer  x', 'Bearer a b'), safe)),
    fc.tuple(fc.constant('range'), fc.oneof(fc.constantFrom('bytes=0-0', 'bytes=0-', 'bytes=-1', 'bytes=4095-', 'bytes=4096-', 'bytes=1-0', 'bytes=0-1,2-3', 'bytes=-0', 'items=0-1', 'bytes=99999999999999999999-'), fc.tuple(fc.integer({ min: -5, max: 5000 }), fc.integer({ min: -5, max: 5000 })).map(([x, y]) => `bytes=${x}-${y}`))),
    fc.tuple(fc.constant('origin'), fc.constantFrom(new URL(url).origin, 'http://evil.example', 'null', '')),
    fc.tuple(fc.constant('if-none-match'), fc.constantFrom(`"${sha256}"`, '*', 'W/"x"', sha256)),
    fc.tuple(fc.constantFrom('x-forwarded-for', 'accept', 'accept-encoding', 'x-request-id', 'cookie', 'user-agent', 'expect', 'host', 'upgrade'), safe),
    fc.tuple(fc.constant('expect'), fc.constant('100-continue')),
  );
  const bigHeader: fc.Arbitrary<[string, string]> = fc.constant(['x-big', 'b'.repeat(20_000)]);
  const jsonBody = fc.oneof(
    fc.record({ size: fc.integer({ min: -2, max: 100_000 }), days: fc.integer({ min: -1, max: 400 }), downloads: fc.integer({ min: -1, max: 20 }), filename: safe, contentType: fc.constantFrom('text/plain', 'image/png', 'text/html', 'x', 'text/plain; x=\u0001', '') }, { requiredKeys: ['size'] }),
    fc.record({ blocks: fc.integer({ min: -2, max: 2 }) }),
    fc.record({ seconds: fc.integer({ min: -2, max: 3600 }) }),
    fc.record({ address: fc.constantFrom(unpaid.address, 'bcrt1qxyz', ''), amountSat: fc.integer({ min: -1, max: 2000 }) }),
    fc.record({ nonce: fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32), 'ab', '') }),
    fc.jsonValue({ maxDepth: 3 }),
  ).map((v) => Buffer.from(JSON.stringify(v)));
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: jsonBody },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from(fileBytes), Buffer.from(new Uint8Array(64).fill(1)), Buffer.from(new Uint8Array(10))) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)) },
  );
  const rawHeaderLine = fc.constantFrom<string>('bad header', 'x: a\rb', ' folded: x', 'content-length: 5', 'content-length: -1', 'content-length: 1e3', 'transfer-encoding: gzip', ': empty', 'x\u00ff: y');
  const framing = fc.oneof(
    { weight: 60, arbitrary: fc.constant('length' as const) },
    { weight: 3, arbitrary: fc.constant('chunked' as const) },
    { weight: 1, arbitrary: fc.constantFrom('none' as const, 'short' as const, 'long' as const, 'bad-chunked' as const) },
  );
  const request: fc.Arbitrary<Req> = fc.record({
    target,
    headers: fc.oneof({ weight: 30, arbitrary: fc.array(header, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(bigHeader, { minLength: 1, maxLength: 1 }) }),
    rawHeaderLines: fc.oneof({ weight: 15, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.array(rawHeaderLine, { minLength: 1, maxLength: 2 }) }),
    body,
    framing,
  }).map(({ target: { method, path }, ...rest }) => ({ method, path, ...rest }));

  const encode = (r: Req): { bytes: Buffer; plain: boolean } => {
    const lines = [`${r.method} ${r.path} HTTP/1.1`, 'host: agent'];
    const names = new Set(r.headers.map(([k]) => k));
    for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
    lines.push(...r.rawHeaderLines);
    const b = r.body ?? Buffer.alloc(0);
    let payload = b;
    let plain = r.rawHeaderLines.length === 0 && !names.has('host') && !names.has('x-big') && !names.has('upgrade');
    switch (r.framing) {
      case 'length':
        if (r.body !== undefined || r.method === 'POST' || r.method === 'PUT') lines.push(`content-length: ${b.length}`);
        break;
      case 'none':
        plain = false;
        break;
      case 'short':
        lines.push(`content-length: ${b.length + 10}`);
        plain = false;
        break;
      case 'long':
        lines.push(`content-length: ${Math.max(0, b.length - 3)}`);
        plain = false;
        break;
      case 'chunked':
        lines.push('transfer-encoding: chunked');
        payload = Buffer.concat([b.length ? Buffer.from(`${b.length.toString(16)}\r\n`) : Buffer.alloc(0), b, b.length ? Buffer.from('\r\n') : Buffer.alloc(0), Buffer.from('0\r\n\r\n')]);
        break;
      case 'bad-chunked':
        lines.push('transfer-encoding: chunked');
        payload = Buffer.concat([Buffer.from('zz\r\n'), b]);
        plain = false;
        break;
    }
    if (r.method === 'CONNECT') plain = false;
    return { bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]), plain };
  };

  // ---- the property ----
  let conn: RawConnection | undefined;
  const statuses = new Map<number, number>();
  const codes = new Set<string>();
  let sent = 0;
  const check = (res: RawResponse, r: Req, bytes: Buffer): void => {
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const code = codeOf(res);
    if (code) codes.add(code);
    const what = `${bytes.subarray(0, 300).toString('latin1')}\n=> ${res.status} ${res.body.subarray(0, 300).toString()}`;
    assert.ok(res.status < 500, `a 5xx: ${what}`);
    if (r.path.startsWith('/healthz') && res.status < 400) return;
    assert.equal(envelopeProblem(res, r.method === 'HEAD'), undefined, what);
  };

  // Requests with framing the server must untangle go on connections of their own, in the background (a body
  // that never comes waits for the request timeout), at most 64 at once; their failures are collected.
  const background = new Set<Promise<void>>();
  const failures: string[] = [];
  const aside = (r: Req, bytes: Buffer): Promise<void> => {
    const p = (async () => {
      const answers = (await rawExchange(url, bytes, { head: r.method === 'HEAD' })).filter((x) => x.status >= 200);
      if (answers.length === 0) throw new Error('no answer');
      for (const res of answers) check(res, r, bytes);
    })().catch((e: unknown) => {
      failures.push(`${String(e)}\n${bytes.subarray(0, 300).toString('latin1')}`);
    });
    const tracked = p.finally(() => background.delete(tracked));
    background.add(tracked);
    return background.size >= 64 ? Promise.race(background) : Promise.resolve();
  };

  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      sent++;
      const { bytes, plain } = encode(r);
      if (!plain) return aside(r, bytes);
      if (!conn || conn.closed) {
        conn?.destroy();
        conn = new RawConnection(url);
        await conn.ready();
      }
      conn.write(bytes);
      let res = await conn.read(r.method === 'HEAD');
      while (res && res.status < 200) res = await conn.read(r.method === 'HEAD');
      assert.ok(res, `no answer to ${bytes.subarray(0, 300).toString('latin1')}`);
      check(res, r, bytes);
      if (res.headers.connection?.toLowerCase() === 'close') {
        conn.destroy();
        conn = undefined;
      }
    }),
    { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31)), endOnFailure: true, includeErrorInReport: true },
  );
  await Promise.all(background);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} request(s) of their own failed`);
  conn?.destroy();

  assert.ok(sent >= RUNS);
  t.diagnostic(`statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}; codes ${[...codes].sort().join(' ')}`);
  // The fuzz reached past the front door: successes, refusals of every layer, and the routes' own answers.
  for (const s of [200, 400, 404, 415, 431]) assert.ok(statuses.has(s), `some answer was ${s}`);
  for (const c of ['BAD_REQUEST', 'NOT_FOUND', 'UNAUTHORIZED', 'UNSUPPORTED_MEDIA_TYPE', 'HEADERS_TOO_LARGE']) assert.ok(codes.has(c), `some answer was ${c}`);
});
