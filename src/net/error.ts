/**
 * The net module's one error, neutral on purpose: each caller maps it to its own catalogue code (the chain
 * backend to CHAIN_UNAVAILABLE, the CLI to AGENT_UNREACHABLE, ...), because only the caller knows what the
 * server it could not reach was for. It carries no cause and no header: its fields are all it says, and
 * none of them holds a credential (see ./scrub.ts).
 */

/** `network`: the connection failed or broke; `timeout`: an attempt's deadline passed; `too_large`: the answer was over the cap. */
export type NetErrorKind = 'network' | 'timeout' | 'too_large';

export interface NetErrorFields {
  method: string;
  /** Origin and request path only, without userinfo, the base URL's path or any query. */
  url: string;
  /** A short, credential-free reason: a system error code (`ECONNREFUSED`), or what ran out. */
  reason: string;
  /** Tries made, the last included. */
  tries: number;
  /** True when the request certainly never left (the connection was refused, the name did not resolve). */
  notSent: boolean;
  /** The cap that a `too_large` answer went over, in bytes. */
  limit?: number;
}

export class NetError extends Error {
  override readonly name = 'NetError';
  readonly kind: NetErrorKind;
  readonly method: string;
  readonly url: string;
  readonly reason: string;
  readonly tries: number;
  readonly notSent: boolean;
  readonly limit: number | undefined;

  constructor(kind: NetErrorKind, f: NetErrorFields) {
    super(`${f.method} ${f.url}: ${f.reason}${f.tries > 1 ? ` (after ${f.tries} tries)` : ''}`);
    this.kind = kind;
    this.method = f.method;
    this.url = f.url;
    this.reason = f.reason;
    this.tries = f.tries;
    this.notSent = f.notSent;
    this.limit = f.limit;
  }
}

export function isNetError(e: unknown): e is NetError {
  return e instanceof NetError;
}
