// Shared by the net module's tests: a port nobody listens on, and deadlines the test expires on an event.
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { isNetError, type HttpClientOptions, type NetError } from '../../src/net/index.ts';

/** The URL of a local port that nothing listens on: the port of a server just closed. */
export async function closedUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** One attempt's deadline as the client armed it, expired by the test on an event instead of by a timer. */
export interface Deadline {
  ms: number;
  expired: boolean;
  cancelled: boolean;
  expire(): void;
}

/** A manual `deadline` option: records every deadline armed; `expireOpen()` expires those still open. */
export function manualDeadlines(): { armed: Deadline[]; deadline: NonNullable<HttpClientOptions['deadline']>; expireOpen(): void } {
  const armed: Deadline[] = [];
  return {
    armed,
    deadline: (ms, onExpire) => {
      const d: Deadline = {
        ms,
        expired: false,
        cancelled: false,
        expire: () => {
          d.expired = true;
          onExpire();
        },
      };
      armed.push(d);
      return () => {
        d.cancelled = true;
      };
    },
    expireOpen: () => {
      for (const d of armed) if (!d.expired && !d.cancelled) d.expire();
    },
  };
}

/** The NetError `p` rejects with; fails the test if it resolves or rejects with anything else. */
export async function netError(p: Promise<unknown>): Promise<NetError> {
  try {
    await p;
  } catch (e) {
    if (isNetError(e)) return e;
    return assert.fail(`expected a NetError, got ${String(e)}`);
  }
  return assert.fail('expected a NetError, but the request succeeded');
}
