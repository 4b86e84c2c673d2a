/**
 * The CLI's client of the agent's HTTP API (the contract is served at GET /v1/openapi.json): where the agent is,
 * JSON calls, and the error an answer carries. The calls go through the one outbound client (src/net/client.ts),
 * with its deadline per attempt and its written retry policy (src/net/policy.ts). The agent at the other end may
 * be anyone's, so its answers are parsed (parse.ts), never asserted.
 */
import { loadConfig } from '../../config/index.ts';
import { AgentError } from '../../errors/index.ts';
import { bodyText, HttpClient, isNetError, type HttpClientOptions, type HttpRequest } from '../../net/index.ts';

/** Each try of a JSON call gets this long for its whole answer; an agent that takes longer is treated as unreachable. */
const CALL_TIMEOUT_MS = 30_000;
/** A streamed upload or download is abandoned after this long without a byte moving (not a total limit: files are large). */
export const IDLE_TIMEOUT_MS = 60_000;
/** Answers to JSON calls are small; a bigger one is a misbehaving agent, not something to buffer. */
const MAX_JSON_BYTES = 1024 * 1024;
const GET_ATTEMPTS = 3;
/** The first backoff step: with the policy's equal jitter the waits are 250-500 ms, then 500-1000 ms. */
const BACKOFF_MS = 500;
/** fetch's limit, which the CLI followed before it used the shared client: an agent behind a proxy may redirect. */
const MAX_REDIRECTS = 20;

/**
 * The agent's base URL: `--url`, else `STORJ_URL`, else the address a local `storj run` listens on
 * (`STORJ_LISTEN`, default 127.0.0.1:8420), worked out by the same rule the agent uses for its own links.
 * @throws AgentError BAD_REQUEST for a URL that is not http(s); CONFIG_INVALID for a bad STORJ_LISTEN.
 */
export function agentUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return httpBase(flag, '--url');
  if (env.STORJ_URL) return httpBase(env.STORJ_URL, 'STORJ_URL');
  return loadConfig({ env: env.STORJ_LISTEN ? { STORJ_LISTEN: env.STORJ_LISTEN } : {}, readFile: false }).publicUrl;
}

function httpBase(raw: string, what: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new AgentError('BAD_REQUEST', `${what} must be an http(s) URL, e.g. http://127.0.0.1:8420`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AgentError('BAD_REQUEST', `${what} must be an http(s) URL, e.g. http://127.0.0.1:8420`);
  return u.toString().replace(/\/+$/, '');
}

/**
 * An error the agent answered with: its code is the API's (which may be newer than this CLI's catalogue, so
 * it is a string, not an ErrorCode), and `body` keeps the extra fields, e.g. the address and amount of a 402.
 */
export class RemoteError extends Error {
  readonly code: string;
  readonly status: number;
  readonly body: Record<string, unknown>;

  constructor(code: string, message: string, status: number, body: Record<string, unknown>) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/**
 * Removes control characters, and with them terminal escape sequences, from text the agent sent: it is
 * printed to the user's terminal, where an escape sequence could rewrite what they see.
 */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

export const badResponse = (message: string) => new AgentError('AGENT_BAD_RESPONSE', message);

/** Turns a non-2xx answer into a RemoteError, keeping the API's code when the body carries a well-formed one. */
export function remoteError(status: number, text: string): RemoteError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) body = parsed;
  } catch {
    // not JSON: a proxy's error page, say; the status alone decides the code below
  }
  const err = isRecord(body.error) ? body.error : {};
  const code = typeof err.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(err.code) ? err.code : status === 404 ? 'NOT_FOUND' : 'AGENT_BAD_RESPONSE';
  const message = typeof err.message === 'string' && err.message.trim() ? clean(err.message).slice(0, 500) : `the agent answered HTTP ${status}`;
  return new RemoteError(code, message, status, body);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads at most `max` bytes of a fetch body as text; more is a misbehaving agent. */
export async function readCapped(res: Response, max = MAX_JSON_BYTES): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) throw badResponse(`the agent's answer is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short cause for a failed request: the system error code (ECONNREFUSED) when there is one. */
export function reason(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  if (cause instanceof Error) return clean('code' in cause && typeof cause.code === 'string' ? cause.code : cause.message);
  return String(cause);
}

/** The agent's base URL as messages show it: without userinfo or query, which may hold credentials. */
function shown(base: string): string {
  try {
    const u = new URL(base);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return 'the given URL';
  }
}

/** Options of the shared client, other than where the agent is: tests pass `sleep`, `random` and `deadline`. */
export type AgentApiOptions = Omit<HttpClientOptions, 'baseUrl'>;

/** The agent's JSON API. The HTTP client's options are passed in, so another transport (or a test's clock) needs no patching. */
export class AgentApi {
  readonly base: string;
  readonly #http: HttpClient;

  constructor(base: string, opts: AgentApiOptions = {}) {
    this.base = base;
    this.#http = new HttpClient({ baseUrl: base, timeoutMs: CALL_TIMEOUT_MS, retries: GET_ATTEMPTS - 1, backoffMs: BACKOFF_MS, maxRedirects: MAX_REDIRECTS, ...opts });
  }

  /** A GET, retried with backoff and jitter on network errors and 429/502/503/504 (never a POST, which may have moved money). */
  get(path: string, headers: Record<string, string> = {}): Promise<unknown> {
    return this.#call({ method: 'GET', path, headers: { ...headers, accept: 'application/json' } });
  }

  /** A POST, sent once: a POST may move money (a devnet payment) or create a quote, and may have succeeded. */
  post(path: string, body?: unknown): Promise<unknown> {
    return this.#call({
      method: 'POST',
      path,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  async #call(req: HttpRequest): Promise<unknown> {
    let res;
    try {
      res = await this.#http.request({ ...req, maxBytes: MAX_JSON_BYTES });
    } catch (e) {
      if (!isNetError(e)) throw e;
      if (e.kind === 'too_large') throw badResponse(`the agent's answer is larger than ${MAX_JSON_BYTES} bytes`);
      throw new AgentError('AGENT_UNREACHABLE', `no answer from the agent at ${shown(this.base)} (${clean(e.reason)})`, undefined, { cause: e });
    }
    const text = bodyText(res);
    if (res.status < 200 || res.status > 299) throw remoteError(res.status, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw badResponse(`${req.method} ${req.path}: the agent's answer is not JSON`);
    }
  }
}
