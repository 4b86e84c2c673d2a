/**
 * The battery's checks that cost nothing (docs/battery.md): identity, health, info, codeHash and xpub. Each returns
 * its detail when it passes and throws CheckFailed (./probe.ts) with what it expected and saw when it does not.
 */
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { identityMessage, verifyIdentity } from '../../../wallet/index.ts';
import { fail, shown } from './probe.ts';
import { xpubIndexOf, type BatteryPrices, type Ctx } from './context.ts';

const IdentityReply = Type.Object({ nodeId: Type.String(), signature: Type.String({ pattern: '^[0-9a-fA-F]{128}$' }) });

/** The child proves it holds the identity key it registered: it signs a fresh nonce. */
export async function identity(ctx: Ctx): Promise<string> {
  const nonce = Buffer.from(ctx.random(32)).toString('hex');
  const r = await ctx.probe.json('POST', '/v1/identity', IdentityReply, { body: { nonce } });
  if (r.nodeId !== ctx.child.nodeId) fail(`expected nodeId ${ctx.child.nodeId} (registered), got ${r.nodeId.slice(0, 80)}`);
  if (!verifyIdentity(ctx.child.nodeId, identityMessage(nonce), new Uint8Array(Buffer.from(r.signature, 'hex')))) {
    fail(`the signature of a fresh nonce does not verify with the registered nodeId ${ctx.child.nodeId}`);
  }
  return `signed a fresh nonce with the registered identity ${ctx.child.nodeId}`;
}

const HealthReply = Type.Object({ status: Type.String() });

export async function health(ctx: Ctx): Promise<string> {
  const r = await ctx.probe.json('GET', '/healthz', HealthReply);
  if (r.status !== 'ok') fail(`expected status ok, got ${r.status.slice(0, 40)}`);
  return 'GET /healthz: 200 ok';
}

const Msat = Type.String({ pattern: '^[0-9]{1,30}$' });
const InfoReply = Type.Object({
  network: Type.String(),
  nodeId: Type.String(),
  prices: Type.Object({ storageMsatPerGibDay: Msat, egressMsatPerGib: Msat, minimumDepositSat: Type.Integer({ minimum: 0 }) }),
});

/** The child's prices from its /v1/info, parsed. @throws CheckFailed when the answer does not parse */
export async function childInfo(ctx: Ctx): Promise<{ network: string; nodeId: string; prices: BatteryPrices }> {
  const r = await ctx.probe.json('GET', '/v1/info', InfoReply);
  const { prices: p } = r;
  if (!Number.isSafeInteger(p.minimumDepositSat)) fail(`GET /v1/info: minimumDepositSat is not a safe integer: ${p.minimumDepositSat}`);
  return {
    network: r.network,
    nodeId: r.nodeId,
    prices: { storageMsatPerGibDay: BigInt(p.storageMsatPerGibDay), egressMsatPerGib: BigInt(p.egressMsatPerGib), minimumDepositSat: BigInt(p.minimumDepositSat) },
  };
}

/** The child runs on the parent's network, as the registered node, with prices within the bounds of the parent's. */
export async function info(ctx: Ctx): Promise<string> {
  const { parent, bounds } = ctx;
  const r = await childInfo(ctx);
  const wrong: string[] = [];
  if (r.network !== parent.network) wrong.push(`network ${r.network.slice(0, 20)} (expected ${parent.network})`);
  if (r.nodeId !== ctx.child.nodeId) wrong.push(`nodeId ${r.nodeId.slice(0, 80)} (expected the registered ${ctx.child.nodeId})`);
  for (const key of ['storageMsatPerGibDay', 'egressMsatPerGib', 'minimumDepositSat'] as const) {
    const theirs = r.prices[key];
    const ours = parent.prices[key];
    // Compared in basis points, in integers: theirs / ours within [min, max] / 10000.
    if (theirs * 10_000n < ours * bounds.priceMinBps || theirs * 10_000n > ours * bounds.priceMaxBps) {
      wrong.push(`${key} ${theirs} (expected ${(ours * bounds.priceMinBps) / 10_000n}..${(ours * bounds.priceMaxBps) / 10_000n}, the parent's ${ours} x ${bounds.priceMinBps}..${bounds.priceMaxBps} bps)`);
    }
  }
  if (wrong.length > 0) fail(`GET /v1/info: ${wrong.join('; ')}`);
  const p = r.prices;
  return `network ${r.network}; prices storage ${p.storageMsatPerGibDay} msat/GiB-day, egress ${p.egressMsatPerGib} msat/GiB, minimum deposit ${p.minimumDepositSat} sat, within ${bounds.priceMinBps}..${bounds.priceMaxBps} bps of the parent's`;
}

const CodeHashReply = Type.Object({ codeHash: Type.String() });

/** The child runs the parent's code: its /v1/info says so, and the bundle it serves hashes to it. */
export async function codeHash(ctx: Ctx): Promise<string> {
  const want = ctx.parent.codeHash;
  const r = await ctx.probe.json('GET', '/v1/info', CodeHashReply);
  if (r.codeHash !== want) fail(`GET /v1/info: expected codeHash ${want} (the parent's), got ${r.codeHash.slice(0, 80)}`);
  if (ctx.child.codeHash !== want) fail(`the child registered codeHash ${ctx.child.codeHash.slice(0, 80)}, not the parent's ${want}`);
  const res = await ctx.probe.send('GET', '/v1/bundle', { maxBytes: ctx.bounds.bundleMaxBytes });
  if (res.status !== 200) fail(`GET /v1/bundle: expected 200, got ${res.status}: ${shown(res)}`);
  const got = createHash('sha256').update(res.body).digest('hex');
  if (got !== want) fail(`GET /v1/bundle: expected bytes with sha256 ${want}, got ${res.body.length} bytes with sha256 ${got}`);
  const etag = res.headers.etag;
  if (etag !== undefined && etag !== `"${want}"`) fail(`GET /v1/bundle: expected ETag "${want}", got ${etag.slice(0, 80)}`);
  return `codeHash ${want} in /v1/info, and GET /v1/bundle's ${res.body.length} bytes hash to it`;
}

const Quote = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  address: Type.String({ minLength: 1, maxLength: 200 }),
  amountSat: Type.Integer({ minimum: 1 }),
  uploadToken: Type.String({ minLength: 1, maxLength: 500 }),
});

/**
 * A quote, from POST /v1/uploads, its token kept out of every detail.
 * @throws CheckFailed when the child does not answer 201 with one
 */
export async function quote(ctx: Ctx, body: { size: number; days: number; downloads: number }): Promise<{ id: string; address: string; amountSat: number; uploadToken: string }> {
  const q = await ctx.probe.json('POST', '/v1/uploads', Quote, { body: { ...body, contentType: 'application/octet-stream' }, status: 201 });
  ctx.secrets.add(q.uploadToken);
  if (!/^[A-Za-z0-9_-]+$/.test(q.id)) fail(`POST /v1/uploads: the quote's id is not a path segment: ${q.id.slice(0, 80)}`);
  return q;
}

/** The child's wallet is the registered one: a fresh quote's address derives from the registered accountXpub. */
export async function xpub(ctx: Ctx): Promise<string> {
  const q = await quote(ctx, { size: ctx.bounds.fileBytes, days: 1, downloads: 1 });
  const index = await xpubIndexOf(ctx, q.address);
  return `a fresh quote's address is receive address ${index} of the registered accountXpub (looked for among the first ${ctx.bounds.xpubWindow})`;
}
