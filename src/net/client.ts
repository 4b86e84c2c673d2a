/**
 * The one outbound HTTP client: every request the agent or the CLI sends to another server goes through
 * `HttpClient.request`, under the retry policy of ./policy.ts, a deadline per attempt, the caller's
 * AbortSignal, an optional cap on the answer's size, and errors that carry no credentials.
 *
 * The transport is node's own http and https (./transport.ts), rather than fetch, for what fetch in Node does
 * not do or does differently: a URL's userinfo is sent as Basic authentication (fetch refuses such a URL, and
 * an operator's Esplora URL may carry one), an answer's size is capped while it is read, a redirect is returned
 * instead of followed with our credentials (`maxRedirects: 0`), and HTTP(S)_PROXY and NO_PROXY are honoured
 * (./proxy.ts) as the Esplora client always has. fetch would also load undici, which is large. The retry policy
 * is ours: it must take an injected `sleep`, jitter and deadline so that tests drive it by events rather than
 * timers, it must never retry a POST on a timeout, and it is the sixty lines of ./policy.ts.
 *
 * A socket idle timer is not used: a slow trickle resets it, and an attempt needs a deadline, connect to last
 * byte (redirects included).
 */
import { setTimeout as sleepMs } from 'node:timers/promises';
import { NetError, type NetErrorKind } from './error.ts';
import { backoff, isIdempotent, isRetryStatus, MAX_BACKOFF_MS, parseRetryAfter, type RetryPolicy } from './policy.ts';
import { ProxyError, type ProxyEnv } from './proxy.ts';
import { origin, redact, safeDecode, secretsOf } from './scrub.ts';
import { exchange, TooLarge } from './transport.ts';

export interface HttpClientOptions {
  /** Where every request's path is appended. Its userinfo becomes Basic authentication; its query is kept on every request. */
  baseUrl: string;
  /** Headers sent with every request (an Authorization, say); credential headers are scrubbed like the URL's secrets. */
  headers?: Record<string, string>;
  /** Deadline of one attempt, connect to last body byte. Default 15000. */
  timeoutMs?: number;
  /** Retries of an idempotent request after the first try. Default 4. */
  retries?: number;
  /** First backoff step; doubled on each retry. Default 250. */
  backoffMs?: number;
  /** Longest Retry-After honoured; a server asking for more gets this. Default 30000. */
  maxRetryAfterMs?: number;
  /** Redirects followed. Default 0: a redirect could carry credentials elsewhere. */
  maxRedirects?: number;
  /** Where HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are read (lower case first), at each request. Default process.env. */
  env?: ProxyEnv;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
  /** Waits between retries; must reject when `signal` aborts. Default: an abortable timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Arms one attempt's deadline: calls `onExpire` after `ms` unless the returned function (called when the
   * attempt ends) cancels it first. Default: a timer. Injected so tests expire it on an event, not a clock.
   */
  deadline?: (ms: number, onExpire: () => void) => () => void;
}

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Appended to the base URL's path, e.g. `/blocks/tip/height`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Marks a request other than GET or HEAD as safe to send twice (never one that may move money). */
  idempotent?: boolean;
  /** The most bytes of answer read; more fails the request with NetError `too_large`. Default: no cap. */
  maxBytes?: number;
  /** Ends the request, and any wait between tries, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  /** How many tries it took; above 1 only for an idempotent request. */
  tries: number;
}

type Outcome = { kind: 'response'; res: HttpResponse } | { kind: NetErrorKind; reason: string; notSent: boolean } | { kind: 'aborted' };

// Failures that happen before any byte of the request leaves: a request that met one of these was certainly not
// delivered. Everything else (a reset, a deadline, a 5xx) leaves its effect unknown.
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepMs(ms, undefined, signal ? { signal } : undefined);
}

function defaultDeadline(ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(onExpire, ms);
  return () => clearTimeout(timer);
}

/** @throws RangeError naming the option (never its value's neighbours) when it is not an integer in min..max */
function intOption(value: number | undefined, fallback: number, key: string, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`${key} must be an integer in ${min}..${max}`);
  return v;
}

/** Sent unless the client or the request names its own. */
const DEFAULT_HEADERS: Readonly<Record<string, string>> = { accept: 'application/json, text/plain, */*', 'user-agent': 'storj-agent' };

/** An answer's body as text: UTF-8, without a byte order mark. */
export function bodyText(res: HttpResponse): string {
  const text = res.body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** One server's client; see the module header for the policy it follows. */
export class HttpClient {
  /** The server as messages name it: scheme, host and port only. */
  readonly origin: string;
  private readonly base: URL;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly env: ProxyEnv | undefined;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly deadline: (ms: number, onExpire: () => void) => () => void;

  /**
   * @throws TypeError for a base URL that is not http(s); its message does not repeat the URL
   * @throws RangeError for an option out of range, naming the option
   */
  constructor(opts: HttpClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      throw new TypeError('the base URL is not a valid URL');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('the base URL must be an http or https URL');
    base.hash = '';
    this.base = base;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.origin = origin(base);
    this.headers = { ...opts.headers };
    this.secrets = secretsOf(base, this.headers);
    this.timeoutMs = intOption(opts.timeoutMs, 15_000, 'timeoutMs', 1, 600_000);
    this.policy = {
      retries: intOption(opts.retries, 4, 'retries', 0, 20),
      backoffMs: intOption(opts.backoffMs, 250, 'backoffMs', 0, MAX_BACKOFF_MS),
      maxRetryAfterMs: intOption(opts.maxRetryAfterMs, 30_000, 'maxRetryAfterMs', 0, 600_000),
    };
    this.maxRedirects = intOption(opts.maxRedirects, 0, 'maxRedirects', 0, 20);
    this.env = opts.env;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
    this.deadline = opts.deadline ?? defaultDeadline;
  }

  /** `text` (a server's answer we repeat, say) without this client's credentials. */
  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /**
   * Sends `req` under the policy. Resolves with the server's answer, whatever its status: for a status the
   * policy retries, that is the last try's answer once the tries are spent (`tries` says how many).
   * @throws NetError `network`, `timeout` (after the last try of an idempotent request, at once otherwise) or `too_large`
   * @throws the signal's reason when `req.signal` aborts, before or during a try or during a wait
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const retry = isIdempotent(req.method, req.idempotent);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(req);
      let retryAfterMs: number | undefined;
      switch (outcome.kind) {
        case 'aborted':
          req.signal?.throwIfAborted();
          throw new Error('unreachable: aborted without an aborted signal');
        case 'response': {
          const { res } = outcome;
          if (!retry || attempt > this.policy.retries || !isRetryStatus(res.status)) return { ...res, tries: attempt };
          retryAfterMs = parseRetryAfter(res.status, res.headers['retry-after']);
          break;
        }
        case 'too_large':
          throw this.fail(req, outcome, attempt);
        case 'network':
        case 'timeout':
          if (!retry || attempt > this.policy.retries) throw this.fail(req, outcome, attempt);
          break;
      }
      await this.pause(backoff(this.policy, attempt, this.random(), retryAfterMs), req.signal);
    }
  }

  private fail(req: HttpRequest, outcome: { kind: NetErrorKind; reason: string; notSent: boolean }, tries: number): NetError {
    return new NetError(outcome.kind, {
      method: req.method,
      // The path relative to the base, never the base's own path or query: either may hold a key.
      url: `${this.origin}${req.path.split('?')[0] ?? ''}`,
      reason: outcome.reason,
      tries,
      notSent: outcome.notSent,
      ...(outcome.kind === 'too_large' && req.maxBytes !== undefined ? { limit: req.maxBytes } : {}),
    });
  }

  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    try {
      await this.sleep(ms, signal);
    } catch (e) {
      signal?.throwIfAborted();
      throw e;
    }
    signal?.throwIfAborted();
  }

  /**
   * Defaults, the client's headers, then the request's, in lower case (a later one replaces an earlier of the
   * same name), and the base URL's userinfo as Basic authentication over any Authorization given. No
   * Content-Type unless one is given: a server that checks media types (src/http/dev-guard.ts) refuses a
   * wrong one.
   */
  private headersOf(req: HttpRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...DEFAULT_HEADERS, ...this.headers, ...req.headers })) headers[name.toLowerCase()] = value;
    if (this.base.username !== '' || this.base.password !== '') {
      headers.authorization = `Basic ${Buffer.from(`${safeDecode(this.base.username)}:${safeDecode(this.base.password)}`).toString('base64')}`;
    }
    return headers;
  }

  /** The base URL, without its userinfo, with `path` appended to its path, and the path's own query (if any) after the base's. */
  private url(path: string): URL {
    const q = path.indexOf('?');
    const u = new URL(this.base.href);
    u.username = '';
    u.password = '';
    u.pathname = this.basePath + (q < 0 ? path : path.slice(0, q));
    if (q >= 0) u.search = [u.search.slice(1), path.slice(q + 1)].filter((part) => part !== '').join('&');
    return u;
  }

  /**
   * One try with its own deadline. Never throws for transport trouble: `request` decides, because a failed
   * GET is retried and a failed POST is not. Node's errors are never kept, only their code: a proxy's may
   * name its URL.
   */
  private async attempt(req: HttpRequest): Promise<Outcome> {
    const { signal } = req;
    if (signal?.aborted) return { kind: 'aborted' };
    const ctl = new AbortController();
    let timedOut = false;
    const cancelDeadline = this.deadline(this.timeoutMs, () => {
      timedOut = true;
      ctl.abort();
    });
    const onAbort = (): void => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await exchange({
        method: req.method,
        url: this.url(req.path),
        headers: this.headersOf(req),
        ...(req.body === undefined ? {} : { body: typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : Buffer.from(req.body) }),
        ...(req.maxBytes === undefined ? {} : { maxBytes: req.maxBytes }),
        maxRedirects: this.maxRedirects,
        signal: ctl.signal,
        env: this.env ?? process.env,
      });
      return { kind: 'response', res: { ...res, tries: 1 } };
    } catch (e) {
      if (signal?.aborted) return { kind: 'aborted' };
      if (timedOut) return { kind: 'timeout', reason: `no answer within ${this.timeoutMs} ms`, notSent: false };
      if (e instanceof TooLarge) return { kind: 'too_large', reason: `answer larger than ${req.maxBytes} bytes`, notSent: false };
      if (e instanceof ProxyError) return { kind: 'network', reason: e.message, notSent: false };
      const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
      if (code === undefined) throw e;
      return { kind: 'network', reason: code, notSent: NOT_SENT_CODES.has(code) };
    } finally {
      cancelDeadline();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
