/**
 * The agent's client of the devnet's control endpoints (src/devnet/control.ts), which the devnet-only routes
 * `/v1/dev/pay` and `/v1/dev/mine` forward to.
 */
import type { DevControl } from './routes.ts';
import { AgentError } from '../errors/index.ts';
import { bodyText, HttpClient, isNetError } from '../net/index.ts';

/** The devnet's answers are a txid or a height and an error body: small. */
const MAX_DEV_ANSWER_BYTES = 64 * 1024;

/**
 * A client for the devnet's control endpoints (pay, mine), on the shared outbound client. Both are POSTs sent
 * once: a payment moves coins and a mine call adds blocks, and either may have happened when the answer is lost.
 */
export function devControlClient(controlUrl: string): DevControl {
  const http = new HttpClient({ baseUrl: controlUrl, timeoutMs: 60_000 });
  const post = async (path: string, body: unknown): Promise<{ status: number; data: unknown }> => {
    let res;
    try {
      res = await http.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), maxBytes: MAX_DEV_ANSWER_BYTES });
    } catch (e) {
      if (!isNetError(e)) throw e;
      throw new AgentError('CHAIN_UNAVAILABLE', `the devnet did not answer POST ${path} (${e.reason})`);
    }
    let data: unknown;
    try {
      data = JSON.parse(bodyText(res)) as unknown;
    } catch {
      data = undefined;
    }
    return { status: res.status, data };
  };
  return {
    async pay(address, amountSat) {
      const r = await post('/pay', { address, amountSat: Number(amountSat) });
      const txid = (r.data as { txid?: unknown } | undefined)?.txid;
      if (r.status !== 200 || typeof txid !== 'string') throw devError(r.status, r.data);
      return txid;
    },
    async mine(blocks) {
      const r = await post('/mine', { blocks });
      const height = (r.data as { height?: unknown } | undefined)?.height;
      if (r.status !== 200 || typeof height !== 'number') throw devError(r.status, r.data);
      return height;
    },
  };
}

function devError(status: number, data: unknown): AgentError {
  const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (status === 400) return new AgentError('BAD_REQUEST', err?.message ?? 'the devnet refused the request');
  return new AgentError('CHAIN_UNAVAILABLE', `the devnet answered ${status}: ${err?.message ?? 'no reason given'}`);
}
