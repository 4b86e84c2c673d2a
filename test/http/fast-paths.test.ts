// Fast paths in front of the server's request listener (src/http/fast-paths.ts), on a bare node:http server whose
// one listener stands in for fastify's: what a fast path answers is tracked and counted under its route, what it
// leaves reaches the listener untouched, and one that throws neither crashes the process nor loses the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { installFastPaths, type FastPath } from '../../src/http/fast-paths.ts';

async function serve(t: { after(fn: () => unknown): void }, paths: FastPath[], open = true) {
  const server = createServer((_req, res) => res.end('routes'));
  const tracked: ServerResponse[] = [];
  const counted: string[] = [];
  installFastPaths(server, paths, { fastPathOpen: () => open, track: (res, closed) => (tracked.push(res), res.once('close', () => closed?.())) }, { request: (route, method, status) => counted.push(`${method} ${route} ${status}`) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, tracked, counted };
}

const fast: FastPath = (req, res) => {
  if (req.url !== '/fast') return undefined;
  res.end('fast');
  return '/fast-route';
};

test('a fast path answers what it takes, tracked and counted under its route; the rest reaches the routes', async (t) => {
  const s = await serve(t, [fast]);
  assert.equal(await (await fetch(`${s.url}/fast`)).text(), 'fast');
  assert.equal(await (await fetch(`${s.url}/other`)).text(), 'routes');
  assert.equal(s.tracked.length, 1);
  for (let i = 0; i < 100 && s.counted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(s.counted, ['GET /fast-route 200']);
});

test('while fast paths may not answer (closing, a trusted proxy), every request reaches the routes', async (t) => {
  let asked = 0;
  const s = await serve(t, [(req, res) => (asked++, fast(req, res))], false);
  assert.equal(await (await fetch(`${s.url}/fast`)).text(), 'routes');
  assert.equal(asked, 0);
});

test('a fast path that throws: before writing, the routes answer; after, the connection is cut; the process lives', async (t) => {
  const s = await serve(t, [
    (req, res) => {
      if (req.url === '/late') res.writeHead(200, { 'content-length': '10' }).write('half');
      throw new Error('a bug');
    },
  ]);
  assert.equal(await (await fetch(`${s.url}/early`)).text(), 'routes');
  await assert.rejects(async () => (await fetch(`${s.url}/late`)).text());
  assert.equal(await (await fetch(`${s.url}/early`)).text(), 'routes', 'the server still answers');
});
