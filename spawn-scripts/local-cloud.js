// @ts-check
// Provider script for the devnet's local cloud, written against its HTTP API in docs/local-cloud.md. Each server
// and each renewal is its own on-chain invoice to the cloud's wallet, so `create` and `renew` return the invoice
// as a payment request and there is no account to fund.

/** @typedef {import('./provider.js').Ctx} Ctx */
/** @typedef {import('./provider.js').PaymentRequest} PaymentRequest */

const BASE = 'http://127.0.0.1:8430';

/** @type {import('./provider.js').Meta} */
export const meta = {
  provider: 'local-cloud',
  hosts: ['127.0.0.1:8430'],
  auth: { type: 'none' },
  billing: 'invoice',
  bootstrap: 'cloud-init',
  canDestroy: true,
  minTermDays: 1,
};

/**
 * One call to the cloud: the parsed JSON body of a 2xx answer, or a thrown Error naming the cloud's error code.
 * @param {Ctx} ctx
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function call(ctx, method, path, body) {
  /** @type {import('./provider.js').HttpRequest} */
  const request = { method, url: BASE + path };
  if (body !== undefined) request.body = body;
  const res = await ctx.http(request);
  let parsed;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    throw new Error(`local cloud: ${method} ${path} answered ${res.status} with a body that is not JSON`);
  }
  if (res.status < 200 || res.status > 299) {
    const code = parsed && parsed.error && typeof parsed.error.code === 'string' ? parsed.error.code : 'unknown';
    throw new Error(`local cloud: ${method} ${path} answered ${res.status} ${code}`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new Error(`local cloud: ${method} ${path}: not an object`);
  return parsed;
}

/**
 * A count of satoshis or days the cloud sent: it must be a positive safe integer, or the script stops.
 * @param {unknown} n
 * @param {string} what
 * @returns {number}
 */
function count(n, what) {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new Error(`local cloud: bad ${what}`);
  return n;
}

/**
 * An invoice from the cloud as a payment request, after checking it is unpaid and for the amount asked.
 * @param {any} invoice
 * @param {number} expectedSat what the plan's price says the invoice must be
 * @returns {PaymentRequest}
 */
function payment(invoice, expectedSat) {
  if (!invoice || typeof invoice.id !== 'string' || typeof invoice.address !== 'string') {
    throw new Error('local cloud: malformed invoice');
  }
  const amountSat = count(invoice.amountSat, 'invoice amount');
  // Never forward a larger invoice than the price list promised: the agent would refuse it anyway, and the
  // investor should see the script's own reason.
  if (amountSat > expectedSat) throw new Error(`local cloud: invoice of ${amountSat} sat, above the price of ${expectedSat}`);
  if (invoice.state !== 'unpaid') throw new Error(`local cloud: invoice is ${String(invoice.state)}, not unpaid`);
  return { id: invoice.id, address: invoice.address, amountSat };
}

/**
 * The plan's price per day, from the cloud's price list.
 * @param {Ctx} ctx
 * @param {string} plan
 * @returns {Promise<{ satPerDay: number, minDays: number }>}
 */
async function price(ctx, plan) {
  const list = await call(ctx, 'GET', '/v1/plans');
  if (!Array.isArray(list.plans)) throw new Error('local cloud: malformed plan list');
  const found = list.plans.find((/** @type {any} */ p) => p && p.id === plan);
  if (!found) throw new Error(`local cloud: no plan ${plan}`);
  return { satPerDay: count(found.satPerDay, 'price'), minDays: count(list.minDays, 'minimum term') };
}

/**
 * @param {number} satPerDay
 * @param {number} days
 */
function total(satPerDay, days) {
  const sat = satPerDay * days;
  if (!Number.isSafeInteger(sat)) throw new Error('local cloud: price out of range');
  return sat;
}

/** @type {import('./provider.js').QuoteFn} */
export async function quote({ plan, days }, ctx) {
  const { satPerDay, minDays } = await price(ctx, plan);
  const termDays = Math.max(days, minDays, meta.minTermDays);
  return { spawnSat: total(satPerDay, termDays), monthlySat: total(satPerDay, 30), termDays };
}

/** @type {import('./provider.js').CreateFn} */
export async function create({ userData, plan, days }, ctx) {
  const { satPerDay, minDays } = await price(ctx, plan);
  const termDays = Math.max(days, minDays, meta.minTermDays);
  const made = await call(ctx, 'POST', '/v1/servers', { plan, days: termDays, userData });
  if (!made.server || typeof made.server.id !== 'string') throw new Error('local cloud: no server id');
  return { serverId: made.server.id, pay: [payment(made.invoice, total(satPerDay, termDays))] };
}

/** @type {import('./provider.js').StatusFn} */
export async function status({ serverId }, ctx) {
  const res = await ctx.http({ method: 'GET', url: `${BASE}/v1/servers/${encodeURIComponent(serverId)}` });
  if (res.status === 404) return { state: 'gone' };
  const server = parsed(res, 'status').server;
  if (!server) throw new Error('local cloud: no server in the answer');
  // Own keys only: a state of `constructor` must not find Object's.
  const known = Object.prototype.hasOwnProperty.call(STATES, server.state);
  /** @type {import('./provider.js').Status} */
  const out = { state: known ? STATES[server.state] : fail(`unknown server state ${String(server.state)}`) };
  if (typeof server.url === 'string') out.url = server.url;
  if (typeof server.paidUntil === 'number' && Number.isSafeInteger(server.paidUntil)) out.expiresAt = server.paidUntil;
  return out;
}

/** @type {Record<string, import('./provider.js').ServerState>} */
const STATES = {
  awaiting_payment: 'pending',
  booting: 'pending',
  running: 'running',
  stopped: 'stopped',
  expired: 'stopped',
  deleted: 'gone',
};

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new Error(`local cloud: ${message}`);
}

/**
 * The JSON of a 2xx answer that the caller fetched itself (to look at a 404 first).
 * @param {import('./provider.js').HttpResponse} res
 * @param {string} what
 * @returns {any}
 */
function parsed(res, what) {
  if (res.status < 200 || res.status > 299) fail(`${what} answered ${res.status}`);
  try {
    return JSON.parse(res.body);
  } catch {
    return fail(`${what}: the answer is not JSON`);
  }
}

/** @type {import('./provider.js').RenewFn} */
export async function renew({ serverId, days }, ctx) {
  const server = (await call(ctx, 'GET', `/v1/servers/${encodeURIComponent(serverId)}`)).server;
  if (!server || typeof server.plan !== 'string') fail('no plan for the server');
  const { satPerDay } = await price(ctx, server.plan);
  const made = await call(ctx, 'POST', `/v1/servers/${encodeURIComponent(serverId)}/renewals`, { days });
  return { pay: [payment(made.invoice, total(satPerDay, days))] };
}

/** @type {import('./provider.js').DestroyFn} */
export async function destroy({ serverId }, ctx) {
  const res = await ctx.http({ method: 'DELETE', url: `${BASE}/v1/servers/${encodeURIComponent(serverId)}` });
  // A server the cloud has already forgotten is as destroyed as it gets.
  if (res.status !== 404) parsed(res, 'delete');
  return {};
}
