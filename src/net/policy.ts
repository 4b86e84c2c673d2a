/**
 * The written retry policy of every outbound request, kept apart from the transport so that it can be read,
 * and tested, on its own:
 *
 * - Only an idempotent request is retried: GET and HEAD, or a request its caller marks idempotent. A POST
 *   that may move money, or a broadcast, is sent once: it may have taken effect even when its answer is lost,
 *   and sending it again is the caller's decision.
 * - It is retried on a network error, on its attempt's deadline, and on HTTP 429, 502, 503 and 504 (congestion
 *   or a gateway between us and the server; RFC 9110 section 15.6 and RFC 6585 section 4). Any other answer
 *   will not change on a retry, so it goes back to the caller at once.
 * - Between tries it waits an exponential step (`backoffMs`, doubled per retry, capped at MAX_BACKOFF_MS) with
 *   "equal jitter": half the step fixed, half random. Full jitter (anywhere in 0..step) spreads a fleet
 *   slightly wider but may come back at once; the fixed half guarantees a server some rest.
 * - On 429 and 503 it waits at least the server's Retry-After (RFC 9110 section 10.2.3), capped at
 *   `maxRetryAfterMs`, so a server cannot park a client for an hour.
 */

/** Answers worth waiting out: rate limiting, and a gateway or server that is briefly overloaded. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
/** The answers whose Retry-After we honour (RFC 6585 section 4 for 429, RFC 9110 section 15.6.4 for 503). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);
/** The longest step of the backoff, whatever the number of retries. */
export const MAX_BACKOFF_MS = 30_000;

export interface RetryPolicy {
  /** Retries of an idempotent request after its first try. */
  retries: number;
  /** First backoff step; doubled on each retry. */
  backoffMs: number;
  /** Longest Retry-After honoured; a server asking for more gets this. */
  maxRetryAfterMs: number;
}

/** Whether a request may be sent again: GET and HEAD by their definition (RFC 9110 section 9.2.2), others only when marked. */
export function isIdempotent(method: string, marked: boolean | undefined): boolean {
  return marked ?? (method === 'GET' || method === 'HEAD');
}

/** Whether an HTTP answer is one the policy retries (an idempotent request's, with tries left). */
export function isRetryStatus(status: number): boolean {
  return RETRY_STATUSES.has(status);
}

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 section 10.2.3); anything else is ignored. */
export function parseRetryAfter(status: number, header: string | undefined): number | undefined {
  if (!RETRY_AFTER_STATUSES.has(status) || header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The wait before retry number `attempt` (1 for the first retry), in whole ms. `r` is the jitter draw, clamped to [0, 1]. */
export function backoff(policy: RetryPolicy, attempt: number, r: number, retryAfterMs: number | undefined): number {
  const step = Math.min(MAX_BACKOFF_MS, policy.backoffMs * 2 ** (attempt - 1));
  const jitter = Math.min(Math.max(r, 0), 1);
  const wait = step / 2 + jitter * (step / 2);
  return Math.round(retryAfterMs === undefined ? wait : Math.max(wait, Math.min(retryAfterMs, policy.maxRetryAfterMs)));
}
