/**
 * The battery's checks around a paid file (docs/battery.md): a real upload paid from the parent's wallet within the
 * budget, downloaded back; a Range of it; and the 402s a customer meets, for an unpaid upload and for a file whose
 * balance is used up.
 */
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { ceilDiv, MSAT_PER_SAT } from '../../money/index.ts';
import { egressMsat, GIB, storageMsatPerDay } from '../../ledger/index.ts';
import { fail, parseAnswer, satOf, shown } from './probe.ts';
import { childInfo, quote } from './checks.ts';
import { xpubIndexOf, type Ctx } from './context.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Pays `amountSat` to `address` from the parent's wallet, counted against the budget before it is sent (a payment
 * whose outcome is unknown counts as spent).
 * @throws CheckFailed when it would go over the budget
 */
async function payWithinBudget(ctx: Ctx, address: string, amountSat: bigint): Promise<string> {
  const left = ctx.budgetSat - ctx.spentSat;
  if (amountSat > left) fail(`the quote asks ${amountSat} sat, over what is left of the battery's budget (${left} of ${ctx.budgetSat} sat)`);
  ctx.spentSat += amountSat;
  return ctx.pay(address, amountSat);
}

/**
 * The most a quote for `days` of storage and `downloads` full downloads of `size` bytes may ask: what it would cost
 * at the parent's prices raised to the top of the band, and never less than the parent's minimum deposit so raised
 * (src/host/pricing.ts prices a quote the same way).
 */
function highestQuoteSat(ctx: Ctx, size: bigint, days: bigint, downloads: bigint): bigint {
  const { prices } = ctx.parent;
  const top = (v: bigint): bigint => ceilDiv(v * ctx.bounds.priceMaxBps, 10_000n);
  const serviceMsat = storageMsatPerDay(size, top(prices.storageMsatPerGibDay)) * days + egressMsat(size, top(prices.egressMsatPerGib)) * downloads;
  const service = ceilDiv(serviceMsat, MSAT_PER_SAT);
  const minimum = top(prices.minimumDepositSat);
  return service > minimum ? service : minimum;
}

const UploadStatus = Type.Object({ state: Type.String() });

/**
 * Waits until the child counts the payment of upload `id`, mining (when the parent can) between looks.
 * @throws CheckFailed when the quote expires or the wait runs past bounds.paymentTimeoutMs
 */
async function awaitPaid(ctx: Ctx, id: string): Promise<void> {
  const deadline = ctx.now() + ctx.bounds.paymentTimeoutMs;
  for (;;) {
    if (ctx.mine) await ctx.mine();
    const { state } = await ctx.probe.json('GET', `/v1/uploads/${id}`, UploadStatus);
    if (state === 'paid' || state === 'complete') return;
    if (state !== 'awaiting_payment') fail(`GET /v1/uploads/:id: expected the paid quote to become paid, it is ${state.slice(0, 40)}`);
    if (ctx.now() >= deadline) fail(`the child did not count the payment within ${ctx.bounds.paymentTimeoutMs} ms (the upload stays ${state})`);
    await ctx.sleep(ctx.bounds.pollMs, ctx.signal);
  }
}

const PutReply = Type.Object({ fileId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' }), size: Type.Integer(), sha256: Type.String() });

/** Downloads `/f/:fileId` (with `range` if given). */
async function download(ctx: Ctx, fileId: string, size: number, range?: string): Promise<{ status: number; body: Buffer; headers: Readonly<Record<string, string>>; shown: string }> {
  const res = await ctx.probe.send('GET', `/f/${fileId}`, { ...(range ? { headers: { range } } : {}), maxBytes: size + ctx.bounds.maxJsonBytes });
  return { status: res.status, body: res.body, headers: res.headers, shown: shown(res) };
}

/** A real paid upload of a random file, downloaded back byte for byte. */
export async function uploadDownload(ctx: Ctx): Promise<string> {
  const size = ctx.bounds.fileBytes;
  const bytes = Buffer.from(ctx.random(size));
  const want = sha256(bytes);
  // Two downloads' worth: the whole file here, a Range of it in the next check.
  const q = await quote(ctx, { size, days: 1, downloads: 2 });
  const amountSat = satOf(q.amountSat, "the quote's amountSat");
  const highest = highestQuoteSat(ctx, BigInt(size), 1n, 2n);
  if (amountSat > highest) fail(`the quote for ${size} bytes, 1 day and 2 downloads asks ${amountSat} sat, more than the ${highest} sat it would at the top of the price band`);
  // Never pay an address the registered wallet does not hold.
  await xpubIndexOf(ctx, q.address);
  const txid = await payWithinBudget(ctx, q.address, amountSat);
  await awaitPaid(ctx, q.id);
  const put = await ctx.probe.send('PUT', `/v1/uploads/${q.id}`, { body: bytes, headers: { authorization: `Bearer ${q.uploadToken}`, 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) fail(`PUT /v1/uploads/:id after paying ${amountSat} sat (txid ${txid}): expected 201, got ${put.status}: ${shown(put)}`);
  const r = parseAnswer(put, PutReply, 'PUT /v1/uploads/:id');
  if (r.size !== size || r.sha256 !== want) fail(`PUT /v1/uploads/:id: expected size ${size} and sha256 ${want}, got ${r.size} and ${r.sha256.slice(0, 80)}`);
  const d = await download(ctx, r.fileId, size);
  if (d.status !== 200) fail(`GET /f/:fileId: expected 200, got ${d.status}: ${d.shown}`);
  const got = sha256(d.body);
  if (got !== want) fail(`GET /f/:fileId: expected ${size} bytes with sha256 ${want}, got ${d.body.length} bytes with sha256 ${got}`);
  ctx.file = { fileId: r.fileId, address: q.address, bytes, sha256: want };
  return `paid ${amountSat} sat (txid ${txid}), uploaded ${size} random bytes and downloaded them back (sha256 ${want})`;
}

/** A Range of the uploaded file: 206 with exactly those bytes. */
export async function range(ctx: Ctx): Promise<string> {
  const f = ctx.file;
  if (!f) return fail('no file to read a range of: the paid upload did not succeed');
  const size = f.bytes.length;
  const start = Math.floor(size / 3);
  const end = Math.min(size - 1, start + 31);
  const d = await download(ctx, f.fileId, size, `bytes=${start}-${end}`);
  if (d.status !== 206) fail(`GET /f/:fileId with Range bytes=${start}-${end}: expected 206, got ${d.status}: ${d.shown}`);
  const want = f.bytes.subarray(start, end + 1);
  if (!d.body.equals(want)) fail(`GET /f/:fileId with Range bytes=${start}-${end}: expected the file's ${want.length} bytes at ${start}, got ${d.body.length} bytes that differ`);
  const cr = d.headers['content-range'];
  if (cr !== `bytes ${start}-${end}/${size}`) fail(`GET /f/:fileId with Range: expected Content-Range bytes ${start}-${end}/${size}, got ${cr === undefined ? 'none' : cr.slice(0, 80)}`);
  return `Range bytes=${start}-${end}: 206 with the right ${want.length} bytes`;
}

const PaymentRequired = Type.Object({
  error: Type.Object({ code: Type.String() }),
  address: Type.String(),
  amountSat: Type.Integer({ minimum: 1 }),
});
const PutRequired = Type.Intersect([PaymentRequired, Type.Object({ receivedSat: Type.Integer({ minimum: 0 }) })]);
const FileView = Type.Object({ balanceMsat: Type.String({ pattern: '^-?[0-9]{1,30}$' }) });

/** An upload before its payment: 402 with the quote's address and amount, and the bytes not kept. */
async function unpaidUpload(ctx: Ctx): Promise<string> {
  const size = ctx.bounds.fileBytes;
  const q = await quote(ctx, { size, days: 1, downloads: 1 });
  const res = await ctx.probe.send('PUT', `/v1/uploads/${q.id}`, { body: Buffer.from(ctx.random(size)), headers: { authorization: `Bearer ${q.uploadToken}`, 'content-type': 'application/octet-stream' } });
  if (res.status !== 402) fail(`PUT /v1/uploads/:id before paying: expected 402, got ${res.status}: ${shown(res)}`);
  const r = parseAnswer(res, PutRequired, 'PUT /v1/uploads/:id before paying');
  if (r.error.code !== 'PAYMENT_REQUIRED' || r.address !== q.address || r.amountSat !== q.amountSat || r.receivedSat !== 0) {
    fail(`PUT /v1/uploads/:id before paying: expected 402 PAYMENT_REQUIRED with the quote's ${q.amountSat} sat to ${q.address} and 0 received, got ${shown(res, 240)}`);
  }
  const s = await ctx.probe.json('GET', `/v1/uploads/${q.id}`, UploadStatus);
  if (s.state !== 'awaiting_payment') fail(`an unpaid upload's bytes were taken: its state is ${s.state.slice(0, 40)}, not awaiting_payment`);
  return `an unpaid upload answers 402 PAYMENT_REQUIRED with the quote's ${q.amountSat} sat`;
}

/**
 * Downloads the paid file until its balance cannot cover another download: then 402 with the file's top-up
 * address and a positive amount. Downloads cost the parent nothing more (the file's balance pays them), only
 * bytes, so this is done only when the balance is used up within bounds.exhaustMaxBytes.
 * @returns what was seen, or why it was not tried
 */
async function exhaustedFile(ctx: Ctx): Promise<string> {
  const f = ctx.file;
  if (!f) return 'the used-up balance was not tried: the paid upload did not succeed';
  const size = f.bytes.length;
  const view = await ctx.probe.json('GET', `/v1/files/${f.fileId}`, FileView);
  const balance = BigInt(view.balanceMsat);
  const { egressMsatPerGib } = (await childInfo(ctx)).prices;
  const cap = BigInt(ctx.bounds.exhaustMaxBytes);
  // Bytes the balance pays for at the child's egress price (+1 download for rounding).
  const needed = egressMsatPerGib > 0n ? (balance * GIB) / egressMsatPerGib + BigInt(size) : cap + 1n;
  if (needed > cap) return `the used-up balance was not tried: the file's ${balance} msat pays for about ${needed} bytes of downloads, over the ${cap} allowed`;
  const tries = Number(needed / BigInt(size)) + 2;
  for (let i = 1; i <= tries; i++) {
    const d = await download(ctx, f.fileId, size);
    if (d.status === 200) continue;
    if (d.status !== 402) fail(`GET /f/:fileId (download ${i}): expected 200 until the balance is used up, then 402; got ${d.status}: ${d.shown}`);
    const r = parseAnswer({ status: d.status, headers: d.headers, body: d.body, tries: 1 }, PaymentRequired, 'GET /f/:fileId with the balance used up');
    if (!['INSUFFICIENT_BALANCE', 'FILE_FROZEN'].includes(r.error.code) || r.address !== f.address) {
      fail(`GET /f/:fileId with the balance used up: expected 402 INSUFFICIENT_BALANCE with the file's address ${f.address}, got ${d.shown}`);
    }
    return `with ${balance} msat left on the file, download ${i} answers 402 ${r.error.code} asking ${r.amountSat} sat`;
  }
  return fail(`GET /f/:fileId: ${tries} downloads of ${size} bytes went through on a balance of ${balance} msat at ${egressMsatPerGib} msat/GiB, never a 402`);
}

/** The 402s: an unpaid upload's, and a used-up file's when that is cheap enough to reach. */
export async function paymentRequired(ctx: Ctx): Promise<string> {
  const unpaid = await unpaidUpload(ctx);
  const exhausted = await exhaustedFile(ctx);
  return `${unpaid}; ${exhausted}`;
}
