// The client through a proxy named by the environment (src/net/proxy.ts), against a real forward proxy on
// 127.0.0.1: an http URL goes to the proxy as an absolute URL with Proxy-Authorization; an https URL goes
// through a CONNECT tunnel that carries only TLS, so the proxy never sees the path; NO_PROXY sends a request
// direct; a proxy that refuses the tunnel is a NetError that shows no credential. Which hosts NO_PROXY
// matches, and which variable names the proxy, are checked on their own.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { HttpClient } from '../../src/net/index.ts';
import { bypassesProxy, proxyFor } from '../../src/net/proxy.ts';
import { serve } from '../chain/helpers.ts';
import { netError } from './helpers.ts';

interface ProxySeen {
  method: string;
  url: string;
  auth: string | undefined;
}

const PROXY_USER = 'proxyuser';
const PROXY_PASS = 'proxypass9';
const BASIC = `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASS}`).toString('base64')}`;

async function listen(t: TestContext, server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; close(cb: () => void): unknown }): Promise<number> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => server.close(() => ok())));
  return (server.address() as AddressInfo).port;
}

/** A forward proxy: absolute-URL requests are forwarded, CONNECT is tunnelled (or refused with 407 when `refuse`). */
async function forwardProxy(t: TestContext, refuse = false): Promise<{ url: string; seen: ProxySeen[] }> {
  const seen: ProxySeen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const target = new URL(req.url ?? '');
    const { 'proxy-authorization': _auth, ...headers } = req.headers;
    const up = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  server.on('connect', (req, socket: Socket, head: Buffer) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
    if (refuse) return void socket.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n');
    const [host, port] = [(req.url ?? '').replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(req.url ?? '')?.[1])];
    const up = connect(port, host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const port = await listen(t, server);
  return { url: `http://${PROXY_USER}:${PROXY_PASS}@127.0.0.1:${port}`, seen };
}

void test('an http URL goes to HTTP_PROXY as an absolute URL, with the proxy\'s userinfo as Proxy-Authorization', async (t) => {
  const srv = await serve(() => ({ body: 'through' }));
  t.after(() => srv.close());
  const proxy = await forwardProxy(t);
  const target = srv.url.replace('http://', 'http://alice:hunter2@');
  const c = new HttpClient({ baseUrl: `${target}/api`, retries: 0, env: { HTTP_PROXY: proxy.url } });
  const res = await c.request({ method: 'GET', path: '/x?n=1' });
  assert.equal(res.body.toString(), 'through');
  assert.deepEqual(proxy.seen, [{ method: 'GET', url: `${srv.url}/api/x?n=1`, auth: BASIC }], 'the URL without its userinfo');
  assert.equal(srv.requests[0]?.headers.authorization, `Basic ${Buffer.from('alice:hunter2').toString('base64')}`);
  assert.equal(srv.requests[0]?.headers.host, srv.url.slice('http://'.length));
});

void test('NO_PROXY sends the request direct; https_proxy is not used for an http URL', async (t) => {
  const srv = await serve(() => ({ body: 'direct' }));
  t.after(() => srv.close());
  const proxy = await forwardProxy(t);
  const port = new URL(srv.url).port;
  for (const env of [{ http_proxy: proxy.url, no_proxy: '127.0.0.1' }, { HTTP_PROXY: proxy.url, NO_PROXY: `localhost:${port}` }, { https_proxy: proxy.url }]) {
    const c = new HttpClient({ baseUrl: srv.url, retries: 0, env });
    assert.equal((await c.request({ method: 'GET', path: '/' })).body.toString(), 'direct', JSON.stringify(env));
  }
  assert.deepEqual(proxy.seen, []);
  assert.equal(srv.requests.length, 3);
});

void test('an https URL goes through a CONNECT tunnel that carries only TLS: the proxy sees the host, never the path', async (t) => {
  // The server behind the tunnel records the first bytes it gets and hangs up: no certificate is needed to see
  // that they are a TLS handshake and not the request in the clear.
  let first: Buffer | undefined;
  const tls = createTcpServer((s) => s.once('data', (d: Buffer) => ((first = d), s.destroy())));
  const tlsPort = await listen(t, tls);
  const proxy = await forwardProxy(t);
  const c = new HttpClient({ baseUrl: `https://127.0.0.1:${tlsPort}/api?key=s3cretkey`, retries: 0, env: { HTTPS_PROXY: proxy.url } });
  const e = await netError(c.request({ method: 'GET', path: '/secret-path' }));
  assert.equal(e.kind, 'network');
  assert.deepEqual(proxy.seen, [{ method: 'CONNECT', url: `127.0.0.1:${tlsPort}`, auth: BASIC }]);
  assert.ok(first !== undefined, 'the tunnel reached the server');
  assert.equal(first[0], 0x16, 'a TLS handshake record');
  assert.ok(!first.includes('secret-path') && !first.includes('s3cretkey'));
  for (const secret of [PROXY_USER, PROXY_PASS, 's3cretkey']) assert.ok(!e.message.includes(secret), e.message);
});

void test('a proxy that refuses the tunnel is a NetError network that names neither the proxy nor its credentials', async (t) => {
  const proxy = await forwardProxy(t, true);
  const c = new HttpClient({ baseUrl: 'https://example.invalid/api', retries: 0, env: { all_proxy: proxy.url } });
  const e = await netError(c.request({ method: 'GET', path: '/x' }));
  assert.equal(e.kind, 'network');
  assert.equal(e.reason, 'the proxy answered 407 to CONNECT');
  assert.equal(e.url, 'https://example.invalid/x');
  assert.deepEqual(proxy.seen.map((s) => s.url), ['example.invalid:443']);
  for (const secret of [PROXY_USER, PROXY_PASS, new URL(proxy.url).port]) assert.ok(!e.message.includes(secret), e.message);
});

void test('NO_PROXY: *, exact hosts, ports, domain suffixes, loopback names and address blocks', () => {
  const cases: [string, string, boolean][] = [
    ['http://a.example.com/', '', false],
    ['http://a.example.com/', '*', true],
    ['http://a.example.com/', 'a.example.com', true],
    ['http://a.example.com/', 'example.com', false],
    ['http://a.example.com/', '.example.com', true],
    ['http://a.example.com/', '*.example.com', true],
    ['http://example.com/', '.example.com', false],
    ['http://A.Example.COM./', 'a.example.com', true],
    ['http://a.example.com:8080/', 'a.example.com:8080', true],
    ['http://a.example.com:8080/', 'a.example.com:80', false],
    ['https://a.example.com/', 'a.example.com:443', true],
    ['http://127.0.0.1:9/', 'localhost', true],
    ['http://localhost/', '127.0.0.1', true],
    ['http://[::1]/', 'localhost', true],
    ['http://10.1.2.3/', '10.0.0.0/8', true],
    ['http://11.1.2.3/', '10.0.0.0/8', false],
    ['http://[fd00::5]:81/', 'fc00::/7', true],
    ['http://[fd00::5]:81/', '[fd00::5]:81', true],
    ['http://[fd00::5]:81/', 'other.host, ,[fd00::5]:82', false],
    ['http://name.test/', '10.0.0.0/8 name.test', true],
  ];
  for (const [url, list, expected] of cases) assert.equal(bypassesProxy(new URL(url), list), expected, `${url} with no_proxy "${list}"`);
});

void test('which variable names the proxy: the scheme\'s own, lower case first, then ALL_PROXY; a bad one is an error', () => {
  const http = new URL('http://h.test/');
  const https = new URL('https://h.test/');
  assert.equal(proxyFor(http, {}), null);
  assert.equal(proxyFor(http, { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:2' })?.href, 'http://lower:1/');
  assert.equal(proxyFor(http, { HTTP_PROXY: 'upper:2' })?.href, 'http://upper:2/', 'no scheme: the request\'s');
  assert.equal(proxyFor(https, { HTTP_PROXY: 'http://p:1' }), null);
  assert.equal(proxyFor(https, { ALL_PROXY: 'http://all:3' })?.href, 'http://all:3/');
  assert.equal(proxyFor(https, { https_proxy: 'http://p:1', NO_PROXY: 'h.test' }), null);
  assert.throws(() => proxyFor(http, { http_proxy: 'socks5://p:1080' }), { message: 'http_proxy must be an http or https URL' });
});
