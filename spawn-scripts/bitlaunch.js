// @ts-check
// Provider script for BitLaunch (https://app.bitlaunch.io/api, as its official clients gobitlaunch and
// pybitlaunch use it), paid in bitcoin on chain. BitLaunch bills servers by the hour from a prepaid account; the
// account is topped up by a transaction (`POST /transactions`) that gives a BTC address and the exact amount to
// send. So this script's billing is `account`: `fund` and `renew` return those top-ups as payment requests.
// The investor lends the account through its API token; BitLaunch wants the header `Authorization: Bearer: <token>`
// (with the colon), so the token is declared as a whole header and its credentials are that header's value.
// Prices are in USD; the quote converts them with mempool.space's BTC price, with a margin for the difference
// between that price and BitLaunch's own at the moment of payment.

/** @typedef {import('./provider.js').Ctx} Ctx */

const API = 'https://app.bitlaunch.io/api';
const PRICES = 'https://mempool.space/api/v1/prices';
// BitLaunch resells several clouds; host 1 (Vultr) accepts a user script (cloud-init user data).
const HOST_ID = 1;
// Margin, in percent, between mempool.space's price and the processor's rate when BitLaunch prices a top-up.
const MARGIN_PERCENT = 3n;

/** @type {import('./provider.js').Meta} */
export const meta = {
  provider: 'bitlaunch',
  hosts: ['app.bitlaunch.io', 'mempool.space'],
  auth: { type: 'header', name: 'authorization' },
  billing: 'account',
  bootstrap: 'cloud-init',
  canDestroy: true,
  minTermDays: 1,
};

/**
 * One request: the parsed JSON of a 2xx answer (`{}` for an empty one), `undefined` for a 404, else a thrown
 * Error with the status only (BitLaunch's error bodies are free text that may echo the request).
 * @param {Ctx} ctx
 * @param {import('./provider.js').HttpRequest} request
 * @returns {Promise<any>}
 */
async function api(ctx, request) {
  const res = await ctx.http(request);
  if (res.status === 404) return undefined;
  if (res.status < 200 || res.status > 299) throw new Error(`bitlaunch: ${request.method} answered ${res.status}`);
  if (res.body === '') return {};
  let json;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new Error(`bitlaunch: ${request.method} answered a body that is not JSON`);
  }
  if (json === null || typeof json !== 'object') throw new Error('bitlaunch: the answer is not an object');
  return json;
}

/**
 * A positive safe integer from an answer, or the script stops.
 * @param {unknown} n
 * @param {string} what
 */
function positive(n, what) {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new Error(`bitlaunch: bad ${what}`);
  return BigInt(n);
}

/**
 * The BTC price in US cents, from mempool.space (`{"USD": 97000, ...}`). It is a rate, not an amount held, so
 * rounding it to a cent is harmless; every amount after it is an integer.
 * @param {Ctx} ctx
 */
async function centsPerBtc(ctx) {
  const json = await api(ctx, { method: 'GET', url: PRICES });
  const usd = json && json.USD;
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 1 || usd > 1e9) throw new Error('bitlaunch: no BTC price');
  return BigInt(Math.round(usd * 100));
}

/**
 * What thousandths of a dollar (BitLaunch's unit, mUSD) cost in satoshis, top-ups being whole dollars: the dollars
 * rounded up, converted at `cents` per BTC, plus the margin, rounded up.
 * @param {bigint} mUsd
 * @param {bigint} cents
 */
function satFor(mUsd, cents) {
  const dollars = (mUsd + 999n) / 1000n;
  const sat = (dollars * 100n * 100_000_000n * (100n + MARGIN_PERCENT) + cents * 100n - 1n) / (cents * 100n);
  if (sat > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('bitlaunch: amount out of range');
  return sat;
}

/**
 * An exact BTC amount as BitLaunch states it (`"0.00006965"`) in satoshis: no float ever holds it.
 * @param {unknown} s
 */
function satOfBtc(s) {
  const m = typeof s === 'string' ? /^(\d{1,8})(?:\.(\d{1,8}))?$/.exec(s) : null;
  if (!m || m[1] === undefined) throw new Error('bitlaunch: malformed BTC amount');
  return BigInt(m[1]) * 100_000_000n + BigInt((m[2] ?? '').padEnd(8, '0'));
}

/**
 * The plan (a size id such as `1gb-1vcpu`) in BitLaunch's create options: its hourly cost in mUSD, a region it is
 * available in, and the default version of the first Debian or Ubuntu image.
 * @param {Ctx} ctx
 * @param {string} plan
 */
async function options(ctx, plan) {
  const o = await api(ctx, { method: 'GET', url: `${API}/hosts-create-options/${HOST_ID}` });
  if (!o || !Array.isArray(o.size) || !Array.isArray(o.region) || !Array.isArray(o.image)) throw new Error('bitlaunch: malformed create options');
  if (o.hostOptions && o.hostOptions.userScript === false) throw new Error('bitlaunch: this host takes no user data');
  const size = o.size.find((/** @type {any} */ s) => s && s.id === plan);
  if (!size) throw new Error(`bitlaunch: no size ${plan}`);
  const region = o.region.find((/** @type {any} */ r) => r && r.subregion && typeof r.subregion.id === 'string'
    && !(Array.isArray(r.subregion.unavailableSizes) && r.subregion.unavailableSizes.includes(plan)));
  const image = o.image.find((/** @type {any} */ i) => i && i.type === 'image' && (i.name === 'Debian' || i.name === 'Ubuntu')
    && i.version && typeof i.version.id === 'string');
  if (!region || !image) throw new Error(`bitlaunch: no region or image for ${plan}`);
  return { costPerHr: positive(size.costPerHr, 'hourly cost'), regionId: String(region.subregion.id), imageId: String(image.version.id) };
}

/** @type {import('./provider.js').QuoteFn} */
export async function quote({ plan, days }, ctx) {
  const { costPerHr } = await options(ctx, plan);
  const cents = await centsPerBtc(ctx);
  const termDays = Math.max(days, meta.minTermDays);
  return {
    spawnSat: Number(satFor(costPerHr * 24n * BigInt(termDays), cents)),
    monthlySat: Number(satFor(costPerHr * 24n * 30n, cents)),
    termDays,
  };
}

/**
 * A top-up of the account by at most `maxSat`: whole dollars, as many as `maxSat` buys after the margin.
 * @param {Ctx} ctx
 * @param {bigint} maxSat
 * @param {bigint} cents the BTC price in US cents
 * @returns {Promise<import('./provider.js').Payments>}
 */
async function topUp(ctx, maxSat, cents) {
  const dollars = (maxSat * cents * 100n) / (100_000_000n * 100n * (100n + MARGIN_PERCENT));
  if (dollars < 1n) throw new Error('bitlaunch: less than a dollar to fund');
  const body = { amountUsd: Number(dollars), cryptoSymbol: 'BTC', lightningNetwork: false };
  const tx = await api(ctx, { method: 'POST', url: `${API}/transactions`, body });
  if (!tx || typeof tx.id !== 'string' || typeof tx.address !== 'string') throw new Error('bitlaunch: malformed transaction');
  if (tx.cryptoSymbol !== undefined && tx.cryptoSymbol !== 'BTC') throw new Error('bitlaunch: not a BTC transaction');
  const sat = satOfBtc(tx.amountCrypto);
  // BitLaunch's rate decides the amount; a rate far off mempool.space's is refused here rather than overpaid.
  if (sat <= 0n || sat > maxSat) throw new Error(`bitlaunch: top-up of ${sat} sat, above the ${maxSat} allowed`);
  return { pay: [{ id: tx.id, address: tx.address, amountSat: Number(sat) }] };
}

/** @type {import('./provider.js').FundFn} */
export async function fund({ amountSat }, ctx) {
  const maxSat = positive(amountSat, 'amount to fund');
  return topUp(ctx, maxSat, await centsPerBtc(ctx));
}

/**
 * A server name BitLaunch accepts, the same for the same user data (so a retry is recognisable) and different for
 * each child (each child's user data holds its own one-time ticket). FNV-1a, 32 bits: a name, not a secret.
 * @param {string} userData
 */
function serverName(userData) {
  let h = 0x811c9dc5;
  for (let i = 0; i < userData.length; i++) {
    h ^= userData.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `storj-${h.toString(16).padStart(8, '0')}`;
}

/** @type {import('./provider.js').CreateFn} */
export async function create({ userData, plan }, ctx) {
  const o = await options(ctx, plan);
  // No SSH key and no password: the child boots from the user data and nobody logs in.
  const server = {
    name: serverName(userData),
    hostID: HOST_ID,
    HostImageID: o.imageId,
    sizeID: plan,
    regionID: o.regionId,
    sshKeys: [],
    initscript: userData,
  };
  const made = await api(ctx, { method: 'POST', url: `${API}/servers`, body: { server } });
  if (!made || typeof made.id !== 'string' || made.id === '') throw new Error('bitlaunch: no server id in the answer');
  return { serverId: made.id };
}

/** @param {string} serverId */
function serverUrl(serverId) {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(serverId)) throw new Error('bitlaunch: malformed server id');
  return `${API}/servers/${serverId}`;
}

/** @type {Record<string, import('./provider.js').ServerState>} */
const STATES = {
  pending: 'pending',
  building: 'pending',
  creating: 'pending',
  ok: 'running',
  running: 'running',
  stopped: 'stopped',
  off: 'stopped',
  destroyed: 'gone',
  deleted: 'gone',
};

/** @type {import('./provider.js').StatusFn} */
export async function status({ serverId }, ctx) {
  const json = await api(ctx, { method: 'GET', url: serverUrl(serverId) });
  if (json === undefined) return { state: 'gone' };
  const server = json.server;
  if (!server || typeof server.status !== 'string') throw new Error('bitlaunch: no server in the answer');
  if (server.status === 'error') throw new Error('bitlaunch: the server failed to build');
  // Own keys only; a status this script does not know yet is reported as pending, and logged for the investor.
  const known = Object.prototype.hasOwnProperty.call(STATES, server.status);
  if (!known) ctx.log('bitlaunch: unknown server status', server.status.slice(0, 32));
  /** @type {import('./provider.js').Status} */
  const out = { state: known ? STATES[server.status] : 'pending' };
  if (typeof server.ipv4 === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(server.ipv4)) out.url = `http://${server.ipv4}`;
  return out;
}

/** @type {import('./provider.js').RenewFn} */
export async function renew({ serverId, days }, ctx) {
  // The server's own hourly rate (mUSD) prices the days; the account is topped up by that much.
  const json = await api(ctx, { method: 'GET', url: serverUrl(serverId) });
  if (json === undefined || !json.server) throw new Error('bitlaunch: the server is gone');
  const rate = positive(json.server.rate, 'server rate');
  const cents = await centsPerBtc(ctx);
  return topUp(ctx, satFor(rate * 24n * BigInt(Math.max(days, 1)), cents), cents);
}

/** @type {import('./provider.js').DestroyFn} */
export async function destroy({ serverId }, ctx) {
  // A 404 means it is already destroyed, which is what was asked.
  await api(ctx, { method: 'DELETE', url: serverUrl(serverId) });
  return {};
}
