// The sandbox's boundary (src/sandbox, docs/sandbox.md): a hostile script (fixtures/hostile.js) reaching for the
// host's objects, modules or environment finds nothing, and serialising everything it can reach does not give it
// the credential the agent attaches to its requests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { netTransport, SandboxSession } from '../../src/sandbox/index.ts';
import { fixture, json, show, testServer, type TestServer } from './helpers.ts';

const CREDENTIAL = 'sk-test-CREDENTIAL-9f8e7d6c5b4a';
/** The ECMAScript built-ins QuickJS provides: the whole of what a script's global object may hold. */
const BUILT_INS = new Set(('Error EvalError RangeError ReferenceError SyntaxError TypeError URIError InternalError AggregateError Array Object ' +
  'Function Iterator parseInt parseFloat isNaN isFinite decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape Infinity ' +
  'NaN undefined eval Number Boolean String Math Reflect Symbol globalThis BigInt Date RegExp JSON Proxy Map Set WeakMap WeakSet ArrayBuffer ' +
  'SharedArrayBuffer Uint8ClampedArray Int8Array Uint8Array Int16Array Uint16Array Int32Array Uint32Array BigInt64Array BigUint64Array ' +
  'Float16Array Float32Array Float64Array DataView Promise WeakRef FinalizationRegistry').split(' '));

let server: TestServer;
let session: SandboxSession;

before(async () => {
  server = await testServer((req, body, res) => {
    if (req.url === '/echo') {
      res.setHeader('x-echo', String(req.headers.authorization));
      return json(res, 200, { authorization: req.headers.authorization, host: req.headers.host });
    }
    json(res, 200, {});
  });
  // In the agent's own environment, as a misconfigured operator might leave it: the worker must not inherit it.
  process.env.STORJ_TEST_CREDENTIAL = CREDENTIAL;
  const opened = await SandboxSession.open({
    source: fixture('hostile.js', { PORT: server.port, OTHER: 1 }),
    transport: netTransport(),
    credentials: CREDENTIAL,
    limits: { maxLogBytes: 8 * 1024 * 1024 },
  });
  assert.ok(opened.ok, show(opened));
  session = opened.session;
});

after(async () => {
  delete process.env.STORJ_TEST_CREDENTIAL;
  session.close();
  await server.close();
});

async function attack(plan: string): Promise<string[]> {
  const out = await session.call('quote', { plan, days: 30 });
  assert.ok(out.ok, show(out));
  return out.log;
}

test('the global object holds the ECMAScript built-ins and nothing of the host', async () => {
  const [line] = await attack('globals');
  const { typeofs, globals } = JSON.parse(line ?? '{}') as { typeofs: Record<string, string>; globals: string[] };
  assert.ok(Object.keys(typeofs).length > 10);
  for (const [name, type] of Object.entries(typeofs)) assert.equal(type, 'undefined', `${name} is reachable`);
  assert.deepEqual(globals.filter((g) => !BUILT_INS.has(g)), []);
});

test('Function constructors, eval and import() reach only QuickJS, which has no process, require, environment or modules', async () => {
  const [line] = await attack('escapes');
  const r = JSON.parse(line ?? '{}') as Record<string, string>;
  assert.equal(r.functionThis, 'undefined');
  assert.equal(r.functionProcess, 'threw ReferenceError');
  assert.equal(r.functionRequire, 'threw ReferenceError');
  assert.equal(r.indirectEval, 'undefined');
  assert.equal(r.evalProcess, 'threw ReferenceError');
  assert.equal(r.ctxConstructor, 'undefined');
  assert.equal(r.httpConstructor, 'undefined');
  assert.equal(r.generatorConstructor, 'undefined');
  assert.equal(r.protoGlobal, 'undefined');
  assert.equal(r.environment, 'no process');
  for (const key of ['importFs', 'importChild', 'importRelative', 'importData']) {
    assert.match(r[key] ?? '', /^refused: .*imports are not available/, `${key}: ${r[key]}`);
  }
});

test('serialising everything reachable, an echo of its own request included, does not give the script the credential', async () => {
  const log = await attack('dump');
  const text = log.join('\n');
  assert.ok(text.length > 20_000, `the dump is too small to mean anything: ${text.length}`);
  for (const marker of ['prototype', 'http', 'sleep', 'JSON', 'Bearer [redacted]']) assert.ok(text.includes(marker), marker);
  assert.ok(!text.includes(CREDENTIAL));
  const collected = server.seen.find((s) => s.url === '/collect');
  assert.ok(collected && collected.body.length > 20_000);
  assert.ok(!collected.body.includes(CREDENTIAL));
  // The credential did travel: on the request the agent sent, in the header the script cannot read.
  assert.equal(server.seen.find((s) => s.url === '/echo')?.headers.authorization, `Bearer ${CREDENTIAL}`);
});

test("a script's own Authorization and Host headers are replaced by the agent's", async () => {
  const [line] = await attack('spoof');
  const echoed = JSON.parse(line ?? '{}') as { authorization: string; host: string };
  assert.equal(echoed.authorization, 'Bearer [redacted]');
  assert.equal(echoed.host, `127.0.0.1:${server.port}`);
  assert.equal(server.seen.at(-1)?.headers.authorization, `Bearer ${CREDENTIAL}`);
});

test("the worker process has neither the credential nor the agent's environment", () => {
  const pid = session.pid;
  assert.ok(pid !== undefined);
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  assert.ok(!environ.includes(CREDENTIAL) && !cmdline.includes(CREDENTIAL));
  assert.ok(!environ.includes('STORJ_TEST_CREDENTIAL'));
  assert.ok(!environ.includes('PATH='), 'nothing of the parent is inherited');
});
