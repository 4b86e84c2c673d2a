/**
 * A customer's paid path on a real agent and devnet, as the tests walk it (README.md, "A customer's first
 * steps"): ask a quote (POST /v1/uploads), pay it from the devnet's miner (POST /v1/dev/pay), mine a block, run
 * the payment watcher by hand (POST /v1/dev/jobs/watcher), and upload the body (PUT /v1/uploads/:id). Every
 * step asserts it went through, so a test that needs a paid quote or a stored file fails at the step that broke.
 */
import assert from 'node:assert/strict';
import type { Api } from './agent.ts';

/** What POST /v1/uploads answers (the fields the tests use). */
export interface Quote {
  id: string;
  address: string;
  amountSat: number;
  bip21: string;
  expiresAt: string;
  uploadToken: string;
}

/** What POST /v1/uploads takes. */
export interface QuoteRequest {
  size: number;
  days?: number;
  downloads?: number;
  filename?: string;
  contentType?: string;
}

/** What PUT /v1/uploads/:id answers with its 201. */
export interface Stored {
  fileId: string;
  url: string;
  size: number;
  sha256: string;
}

/** Asks for a quote; fails unless it is a 201. */
export async function quote(api: Api, body: QuoteRequest): Promise<Quote> {
  const r = await api<Quote>('POST', '/v1/uploads', body);
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/** Runs the payment watcher by hand; fails unless the run's outcome is ok. */
export async function runWatcher(api: Api): Promise<void> {
  const r = await api<{ outcome: string }>('POST', '/v1/dev/jobs/watcher');
  assert.equal(r.body.outcome, 'ok', r.text);
}

/**
 * Pays each amount to its address from the devnet's miner, mines `blocks` blocks over all of them (none: the
 * payments stay in the mempool), and runs the watcher. Returns the payments' txids, in order.
 */
export async function payAndConfirm(api: Api, payments: ReadonlyArray<{ address: string; amountSat: number }>, blocks = 1): Promise<string[]> {
  const txids: string[] = [];
  for (const { address, amountSat } of payments) {
    const r = await api<{ txid: string }>('POST', '/v1/dev/pay', { address, amountSat });
    assert.equal(r.status, 200, r.text);
    txids.push(r.body.txid);
  }
  if (blocks > 0) {
    const m = await api('POST', '/v1/dev/mine', { blocks });
    assert.equal(m.status, 200, m.text);
  }
  await runWatcher(api);
  return txids;
}

/** A quote, paid and confirmed in one block. */
export async function paidQuote(api: Api, body: QuoteRequest): Promise<Quote> {
  const q = await quote(api, body);
  await payAndConfirm(api, [q]);
  return q;
}

/** Uploads the quote's body in one PUT; fails unless it is a 201. */
export async function upload(api: Api, q: Quote, bytes: Uint8Array): Promise<Stored> {
  const r = await api<Stored>('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/** `bytes` stored: quoted for their size (with `options`), paid, confirmed and uploaded. Returns the quote too. */
export async function paidFile(api: Api, bytes: Uint8Array, options: Omit<QuoteRequest, 'size'> = {}): Promise<Stored & { quote: Quote }> {
  const q = await paidQuote(api, { size: bytes.length, ...options });
  return { ...(await upload(api, q, bytes)), quote: q };
}
