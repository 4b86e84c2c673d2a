/**
 * The proxy a request goes through, from the environment as curl and most HTTP clients read it:
 * `http_proxy` for http URLs, `https_proxy` for https URLs, `all_proxy` for either (each in lower case, else
 * upper case), unless `no_proxy` names the host. A proxy without a scheme takes the request's.
 *
 * `no_proxy` is a list separated by commas or spaces: `*` (every host); a host name or address, with or without
 * `:port`, which matches that host exactly (`localhost`, `127.0.0.1` and `::1` match one another: they are all
 * this machine); `.example.com` or `*.example.com`, which match every name ending so; `10.0.0.0/8` or `fd00::/8`,
 * which match the addresses in that block.
 *
 * An http URL goes to the proxy as an absolute URL in the request line (the proxy sees it all: the wire was
 * plain already); an https URL goes through a CONNECT tunnel, and TLS runs end to end with the server, so the
 * proxy sees neither the path, the headers nor the body. The proxy's own userinfo becomes Proxy-Authorization,
 * sent to the proxy only.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { safeDecode } from './scrub.ts';
import { httpsRequest, tlsConnect } from './tls-lazy.ts';

/** Where the proxy variables are read: process.env, or a test's own. */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

const DEFAULT_PORT: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '::']);

/** A failure of the proxy itself, with a reason fit for a NetError (no proxy credentials). */
export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function envVar(env: ProxyEnv, name: string): string {
  return env[name] || env[name.toUpperCase()] || '';
}

/** A URL's host without IPv6 brackets or a trailing dot, in lower case. */
function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.+$/, '');
}

function portOf(u: URL): number {
  return u.port === '' ? (DEFAULT_PORT[u.protocol] ?? 0) : Number(u.port);
}

function inBlock(host: string, entry: string): boolean {
  const m = /^\[?([0-9a-f.:]+)\]?\/(\d{1,3})$/i.exec(entry);
  const hostFamily = isIP(host);
  if (!m?.[1] || !m[2] || hostFamily === 0) return false;
  const family = isIP(m[1]);
  if (family !== hostFamily) return false;
  const prefix = Number(m[2]);
  if (prefix > (family === 4 ? 32 : 128)) return false;
  const block = new BlockList();
  block.addSubnet(m[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
  return block.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** One `no_proxy` entry: its host part (brackets off) and its port, 0 for any. */
function splitEntry(entry: string): [string, number] {
  const v6 = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry);
  if (v6) return [v6[1] ?? '', Number(v6[2] ?? 0)];
  const m = /^([^:]+):(\d+)$/.exec(entry);
  return m ? [m[1] ?? '', Number(m[2])] : [entry, 0];
}

/** True when `no_proxy` (as read from the environment) says `target` is reached directly. */
export function bypassesProxy(target: URL, noProxy: string): boolean {
  const list = noProxy.toLowerCase().trim();
  if (list === '') return false;
  const host = bareHost(target.hostname);
  const port = portOf(target);
  return list.split(/[\s,]+/).some((entry) => {
    if (entry === '') return false;
    if (entry === '*') return true;
    if (entry.includes('/')) return inBlock(host, entry);
    const [name, entryPort] = splitEntry(entry);
    if (entryPort !== 0 && entryPort !== port) return false;
    const want = bareHost(name.replace(/^\*/, ''));
    if (want === '') return false;
    if (want.startsWith('.')) return host.endsWith(want);
    return host === want || (LOOPBACK.has(host) && LOOPBACK.has(want));
  });
}

/** The proxy for `target` under `env`, or null to go direct. @throws ProxyError for a proxy variable that is not an http(s) URL */
export function proxyFor(target: URL, env: ProxyEnv): URL | null {
  if (bypassesProxy(target, envVar(env, 'no_proxy'))) return null;
  const scheme = target.protocol.slice(0, -1);
  const raw = (envVar(env, `${scheme}_proxy`) || envVar(env, 'all_proxy')).trim();
  if (raw === '') return null;
  let proxy: URL;
  try {
    proxy = new URL(raw.includes('://') ? raw : `${scheme}://${raw}`);
  } catch {
    throw new ProxyError('ERR_PROXY_URL', `${scheme}_proxy is not a valid URL`);
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') throw new ProxyError('ERR_PROXY_URL', `${scheme}_proxy must be an http or https URL`);
  return proxy;
}

/** Proxy-Authorization for the proxy's userinfo, if it has one. */
export function proxyAuthorization(proxy: URL): Record<string, string> {
  if (proxy.username === '' && proxy.password === '') return {};
  return { 'proxy-authorization': `Basic ${Buffer.from(`${safeDecode(proxy.username)}:${safeDecode(proxy.password)}`).toString('base64')}` };
}

/** How to reach the proxy itself: its module's request function and where it listens. */
export function proxyEndpoint(proxy: URL): { request: (options: RequestOptions) => ClientRequest; host: string; port: number } {
  return { request: proxy.protocol === 'https:' ? httpsRequest : httpRequest, host: bareHost(proxy.hostname), port: portOf(proxy) };
}

/**
 * A TLS connection to `target` through a CONNECT tunnel of `proxy`, ready for an https request to write on.
 * @throws ProxyError when the proxy refuses the tunnel; the socket's error when it cannot be reached; the signal's reason on abort
 */
export async function tunnel(proxy: URL, target: URL, signal: AbortSignal): Promise<TLSSocket> {
  const host = bareHost(target.hostname);
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${portOf(target)}`;
  const via = proxyEndpoint(proxy);
  const raw = await new Promise<Socket>((resolve, reject) => {
    const req = via.request({ host: via.host, port: via.port, method: 'CONNECT', path: authority, headers: { host: authority, ...proxyAuthorization(proxy) }, agent: false, signal });
    req.once('connect', (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new ProxyError('ERR_PROXY_CONNECT', `the proxy answered ${res.statusCode ?? 0} to CONNECT`));
    });
    req.on('error', reject);
    req.end();
  });
  // The server name goes in SNI unless it is an address (which TLS does not allow there); either way the
  // certificate is checked against it.
  return tlsConnect({ socket: raw, host, ...(isIP(host) === 0 ? { servername: host } : {}), ALPNProtocols: ['http/1.1'] });
}
