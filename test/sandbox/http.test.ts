// ctx.http as the agent carries it out (src/sandbox/gate.ts, src/sandbox/transport.ts), against servers on
// 127.0.0.1: only declared hosts, no redirect followed, an oversized answer cut off, credentials attached as
// meta.auth says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { netTransport, runCall, SandboxSession } from '../../src/sandbox/index.ts';
import { fixture, json, show, testServer, type TestServer } from './helpers.ts';

let server: TestServer;
let other: TestServer;
let session: SandboxSession;

before(async () => {
  other = await testServer((_req, _body, res) => json(res, 200, { stolen: true }));
  server = await testServer((req, _body, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${other.port}/stolen` });
      return res.end();
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('y'.repeat(200 * 1024));
    }
    json(res, 200, { headers: req.headers });
  });
  const opened = await SandboxSession.open({
    source: fixture('hostile.js', { PORT: server.port, OTHER: other.port }),
    transport: netTransport(),
    credentials: 'tok-123456',
    limits: { maxResponseBytes: 64 * 1024 },
  });
  assert.ok(opened.ok, show(opened));
  session = opened.session;
});

after(async () => {
  session.close();
  await server.close();
  await other.close();
});

test('requests to undeclared hosts, other schemes or with userinfo are refused before anything is sent', async () => {
  const out = await session.call('quote', { plan: 'undeclared', days: 30 });
  assert.ok(out.ok, show(out));
  const lines = JSON.parse(out.log[0] ?? '[]') as string[];
  assert.equal(lines.length, 6);
  for (const line of lines) assert.match(line, / refused: /, line);
  assert.match(lines[0] ?? '', new RegExp(`host 127\\.0\\.0\\.1:${other.port} is not declared`));
  assert.match(lines[1] ?? '', /host example\.com is not declared/);
  assert.match(lines[3] ?? '', /user or password/);
  assert.match(lines[4] ?? '', /https only/);
  assert.deepEqual(other.seen, []);
  assert.equal(out.requests.length, 6);
  assert.ok(out.requests.every((r) => r.error !== undefined && r.status === undefined));
});

test('a redirect comes back to the script as it is, and its target is never asked', async () => {
  const out = await session.call('quote', { plan: 'redirect', days: 30 });
  assert.ok(out.ok, show(out));
  assert.deepEqual(JSON.parse(out.log[0] ?? '{}'), { status: 302, location: `http://127.0.0.1:${other.port}/stolen` });
  assert.deepEqual(other.seen, []);
  assert.deepEqual(out.requests, [{ method: 'GET', url: `http://127.0.0.1:${server.port}/redirect`, status: 302 }]);
});

test('an answer over the size limit is cut off and the script gets an error instead', async () => {
  const out = await session.call('quote', { plan: 'big', days: 30 });
  assert.ok(out.ok, show(out));
  assert.match(out.log[0] ?? '', /^refused: .*larger than 65536 bytes and was cut off/);
  assert.match(out.requests[0]?.error ?? '', /cut off/);
});

test('a header credential goes in the header meta.auth names, and no Authorization is sent', async () => {
  const source = fixture('good.js', { PORT: server.port }).replace("auth: { type: 'bearer' }", "auth: { type: 'header', name: 'X-Api-Key' }");
  const before = server.seen.length;
  const out = await runCall({ source, call: 'quote', args: { plan: 'small', days: 2 }, transport: netTransport(), credentials: 'key-abcdef' });
  // The test server answers {headers}, not {satPerDay}, so the quote is malformed: only the request matters here.
  assert.ok(!out.ok);
  const sent = server.seen.slice(before);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.headers['x-api-key'], 'key-abcdef');
  assert.equal(sent[0]?.headers.authorization, undefined);
});

test('without credentials nothing is attached', async () => {
  const before = server.seen.length;
  await runCall({ source: fixture('good.js', { PORT: server.port }), call: 'quote', args: { plan: 'small', days: 2 }, transport: netTransport() });
  assert.equal(server.seen.length, before + 1);
  assert.equal(server.seen.at(-1)?.headers.authorization, undefined);
});
