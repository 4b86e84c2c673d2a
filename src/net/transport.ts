/**
 * One HTTP exchange on node's own http and https (which the agent's server loads anyway): the request, the
 * redirects the client allows, and the answer's body read under a cap. No retry and no deadline here: those
 * are ./client.ts's, which ends an exchange through `signal`.
 *
 * - The answer is returned whatever its status; a redirect is one too, unless `maxRedirects` allows following
 *   it. A redirect followed to another origin (scheme, host or port) drops the credential headers
 *   (./scrub.ts's list), so they never go anywhere but where the caller sent them. A 303, and a 301 or 302
 *   after a POST, become a GET without a body, as browsers do.
 * - The body is read up to `maxBytes`: a Content-Length over it fails at once, and a body without one is cut
 *   off as soon as it passes the cap. Accept-Encoding is always `identity` (a caller's own is replaced): the
 *   body is never compressed, so what is read is what the caller gets, and nothing here decompresses.
 * - Proxies come from the environment (./proxy.ts).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { httpsRequest } from './tls-lazy.ts';
import { proxyAuthorization, proxyEndpoint, proxyFor, tunnel, type ProxyEnv } from './proxy.ts';
import { isCredentialHeader } from './scrub.ts';

export interface Exchange {
  method: string;
  /** Without userinfo: the client has made that a header already. */
  url: URL;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
  body?: Buffer;
  maxBytes?: number;
  maxRedirects: number;
  signal: AbortSignal;
  env: ProxyEnv;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated header's values joined by ", " (Set-Cookie's too). */
  headers: Record<string, string>;
  body: Buffer;
}

/** The answer was over `maxBytes`. */
export class TooLarge extends Error {}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

function plainHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (typeof value === 'string') out[name] = value;
    else if (Array.isArray(value)) out[name] = value.join(', ');
  }
  return out;
}

/** Sends one request and resolves with its answer's head; the body is left to read. */
async function send(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal, env: ProxyEnv): Promise<IncomingMessage> {
  const proxy = proxyFor(url, env);
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = `${url.pathname}${url.search}`;
  const all: Record<string, string> = { ...headers, 'accept-encoding': 'identity', ...(body === undefined ? {} : { 'content-length': String(body.length) }) };
  if (body === undefined && BODY_METHODS.has(method)) all['content-length'] = '0';
  let req: ClientRequest;
  const common: RequestOptions = { method, signal };
  if (proxy === null) {
    req = (https ? httpsRequest : httpRequest)({ ...common, host, port: url.port, path, headers: all });
  } else if (https) {
    const socket = await tunnel(proxy, url, signal);
    req = httpsRequest({ ...common, host, port: url.port, path, headers: all, createConnection: () => socket });
  } else {
    const via = proxyEndpoint(proxy);
    req = via.request({ ...common, host: via.host, port: via.port, path: url.href, headers: { host: url.host, ...all, ...proxyAuthorization(proxy) } });
  }
  return new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    // Kept for the request's whole life: an error after the answer began (a reset while its body is read, the
    // abort) must not go unheard, and reaches the body's reader through the response.
    req.on('error', reject);
    req.end(body);
  });
}

/** The body, whole, unless it passes `maxBytes`. @throws TooLarge; the stream's error if the connection breaks */
async function readBody(res: IncomingMessage, method: string, maxBytes: number | undefined): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  // A HEAD's Content-Length is that of a GET's body, which is not coming.
  if (maxBytes !== undefined && method !== 'HEAD' && Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw new TooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (maxBytes !== undefined && total > maxBytes) throw new TooLarge(); // leaving the loop destroys the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Where a redirect leads, or null when it is not followed (not a redirect, no Location, the hops spent, not http(s)). */
function redirectTarget(res: IncomingMessage, from: URL, hops: number, maxRedirects: number): URL | null {
  const location = res.headers.location;
  if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined || hops >= maxRedirects) return null;
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    return null;
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') return null;
  to.username = '';
  to.password = '';
  to.hash = '';
  return to;
}

/**
 * Runs one exchange to its final answer.
 * @throws TooLarge; a ProxyError (./proxy.ts); node's network errors (with a `code`); an AbortError once `signal` aborts
 */
export async function exchange(x: Exchange): Promise<RawResponse> {
  let { method, url, body } = x;
  let headers: Record<string, string> = { ...x.headers };
  for (let hops = 0; ; hops++) {
    const res = await send(method, url, headers, body, x.signal, x.env);
    const next = redirectTarget(res, url, hops, x.maxRedirects);
    if (next === null) return { status: res.statusCode ?? 0, headers: plainHeaders(res), body: await readBody(res, method, x.maxBytes) };
    res.destroy();
    const status = res.statusCode ?? 0;
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type'));
    }
    if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredentialHeader(name)));
    url = next;
  }
}
