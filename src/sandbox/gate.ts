/**
 * The agent's side of `ctx.http`: what a script may ask for, and what the request becomes on its way out.
 * - The URL's host (URL.host: lowercase, default port left out) must be one of `meta.hosts`, exactly.
 * - https only, except for loopback hosts (127.0.0.1, [::1], localhost), which the tests and the devnet's
 *   local cloud serve over plain http on this machine. No userinfo in the URL.
 * - The credentials are attached here, as `meta.auth` says, and only here: the worker never has them. A
 *   header of the script's with the same name is replaced, and the headers that frame the message (Host,
 *   Content-Length, ...) are the HTTP client's to set.
 * - Every copy of the credentials in an answer (an API that echoes a token) is replaced before the script
 *   sees it.
 */
import type { ScriptRequest, ScriptResponse } from './protocol.ts';
import type { ScriptMeta } from './schemas.ts';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** RFC 9110 section 5.1 (a header name is a token) and 5.5 (a value holds no CR, LF or NUL). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;
/** Headers the transport sets: a script's own would desynchronise the message or address another host. */
const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-authorization', 'expect']);
const REDACTED = '[redacted]';

/** The request the agent sends for the script, or why it refuses to. */
export function gateRequest(request: ScriptRequest, meta: ScriptMeta, credentials: string | undefined): { ok: true; request: ScriptRequest } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { ok: false, reason: 'the url is not a valid URL' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'a url with user or password is refused' };
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return { ok: false, reason: `${url.protocol} is refused: https only (http only for loopback hosts)` };
  }
  if (!meta.hosts.includes(url.host)) return { ok: false, reason: `the host ${url.host} is not declared in meta.hosts` };
  const headers: Record<string, string> = {};
  const credentialHeader = meta.auth.type === 'bearer' ? 'authorization' : meta.auth.type === 'header' ? meta.auth.name.toLowerCase() : null;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) return { ok: false, reason: `the header ${JSON.stringify(name.slice(0, 64))} is not a valid HTTP header` };
    const lower = name.toLowerCase();
    if (FRAMING.has(lower) || lower === credentialHeader) continue;
    headers[lower] = value;
  }
  if (credentialHeader !== null && credentials !== undefined) {
    headers[credentialHeader] = meta.auth.type === 'bearer' ? `Bearer ${credentials}` : credentials;
  }
  url.hash = '';
  return { ok: true, request: { method: request.method, url: url.href, headers, body: request.body } };
}

/** The answer as the script may see it: no copy of the credentials in its headers or body. */
export function redactResponse(res: ScriptResponse, credentials: string | undefined): ScriptResponse {
  if (credentials === undefined || credentials === '') return res;
  const scrub = (text: string): string => text.split(credentials).join(REDACTED);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) headers[name] = scrub(value);
  return { status: res.status, headers, body: scrub(res.body) };
}
