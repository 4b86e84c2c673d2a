/**
 * Where a script's HTTP requests go once the agent has let them through (./gate.ts): the real network, or the
 * replay of a transcript (./transcript.ts). A transport answers with the response whatever its status, or
 * throws a `TransportError` whose message the script sees.
 */
import { bodyText, HttpClient, isNetError } from '../net/index.ts';
import type { ScriptRequest, ScriptResponse } from './protocol.ts';

export interface SendOptions {
  /** The most bytes of body read; a longer answer fails with a TransportError. */
  maxBytes: number;
  timeoutMs: number;
  /** Aborted when the call ends. */
  signal: AbortSignal;
}

export interface Transport {
  /** @throws TransportError for an answer that cannot be had (network, timeout, too large, a replay mismatch) */
  send(request: ScriptRequest, opts: SendOptions): Promise<ScriptResponse>;
  /**
   * After a call: why the call must fail on this transport's account (a replay that saw a request other than
   * the next one, or, when the call otherwise succeeded, requests it expected and never got), or null.
   */
  verdict?(callOk: boolean): string | null;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
}

/**
 * The real network, through the agent's one HTTP client (src/net): no redirect followed (a 3xx comes back as
 * it is, so a redirect to an undeclared host is never followed), the body capped while it is read, a
 * deadline from connect to last byte. No retry: the script sees each failure and decides, within its call's
 * time, whether to try again; a POST that creates a server must not be sent twice behind its back.
 */
export function netTransport(): Transport {
  return {
    async send(request, { maxBytes, timeoutMs, signal }) {
      const url = new URL(request.url);
      const client = new HttpClient({ baseUrl: url.origin, retries: 0, timeoutMs, maxRedirects: 0 });
      try {
        const res = await client.request({
          method: request.method,
          path: `${url.pathname}${url.search}`,
          headers: request.headers,
          ...(request.body === null ? {} : { body: request.body }),
          maxBytes,
          signal,
        });
        return { status: res.status, headers: { ...res.headers }, body: bodyText(res) };
      } catch (e) {
        if (isNetError(e)) {
          if (e.kind === 'too_large') throw new TransportError(`${request.method} ${url.origin}${url.pathname}: the answer is larger than ${maxBytes} bytes and was cut off`);
          if (e.kind === 'timeout') throw new TransportError(`${request.method} ${url.origin}${url.pathname}: no answer within ${timeoutMs} ms`);
          throw new TransportError(`${request.method} ${url.origin}${url.pathname}: ${e.reason}`);
        }
        throw new TransportError(`${request.method} ${url.origin}${url.pathname}: the request failed`);
      }
    },
  };
}
