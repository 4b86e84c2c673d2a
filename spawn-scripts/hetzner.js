// @ts-check
// Provider script for Hetzner Cloud (https://docs.hetzner.cloud), driven by an API token that the investor lends
// as credentials: the host sends it as `Authorization: Bearer <token>`, and the investor's Hetzner account pays
// the servers in euros. The agent pays nothing on chain, so the quote's satoshis are 0 and the real price is in
// its `fiat` field, as Hetzner states it (gross, VAT included).

/** @typedef {import('./provider.js').Ctx} Ctx */

const API = 'https://api.hetzner.cloud/v1';
// Debian's stable release, which runs cloud-init from the user data on first boot.
const IMAGE = 'debian-12';
// Hetzner refuses user data over 32 KiB (the `user_data` field of POST /servers).
const USER_DATA_MAX = 32 * 1024;

/** @type {import('./provider.js').Meta} */
export const meta = {
  provider: 'hetzner',
  hosts: ['api.hetzner.cloud'],
  auth: { type: 'bearer' },
  billing: 'credentials',
  bootstrap: 'cloud-init',
  canDestroy: true,
  minTermDays: 1,
};

/**
 * One call to the API: the parsed JSON of a 2xx answer, else a thrown Error with Hetzner's error code
 * (`{"error": {"code", "message"}}`), never the message, which may echo the request.
 * @param {Ctx} ctx
 * @param {import('./provider.js').HttpRequest} request
 * @returns {Promise<{ status: number, json: any }>}
 */
async function api(ctx, request) {
  const res = await ctx.http(request);
  let json;
  try {
    json = JSON.parse(res.body);
  } catch {
    // DELETE answers may be empty in some API versions; an empty 2xx is not an error.
    if (res.body === '' && res.status >= 200 && res.status <= 299) return { status: res.status, json: {} };
    throw new Error(`hetzner: ${request.method} answered ${res.status} with a body that is not JSON`);
  }
  if (res.status === 404) return { status: 404, json };
  if (res.status < 200 || res.status > 299) {
    const code = json && json.error && typeof json.error.code === 'string' ? json.error.code : 'unknown';
    throw new Error(`hetzner: ${request.method} answered ${res.status} ${code}`);
  }
  if (json === null || typeof json !== 'object') throw new Error('hetzner: the answer is not an object');
  return { status: res.status, json };
}

/**
 * A plan is a server type, optionally with a location: `cx22` or `cx22@nbg1`. Without one, the first location
 * Hetzner prices the type in is used, so that the quote and the server agree.
 * @param {string} plan
 */
function parsePlan(plan) {
  const m = /^([a-z0-9-]{1,32})(?:@([a-z0-9-]{1,32}))?$/.exec(plan);
  if (!m || m[1] === undefined) throw new Error('hetzner: a plan is a server type, optionally @location');
  return { type: m[1], location: m[2] };
}

/**
 * The server type's gross prices in one location.
 * @param {Ctx} ctx
 * @param {string} plan
 * @returns {Promise<{ type: string, location: string, hourly: string, monthly: string }>}
 */
async function prices(ctx, plan) {
  const { type, location } = parsePlan(plan);
  const { status, json } = await api(ctx, { method: 'GET', url: `${API}/server_types?name=${encodeURIComponent(type)}` });
  const found = status === 200 && Array.isArray(json.server_types) ? json.server_types.find((/** @type {any} */ t) => t && t.name === type) : undefined;
  if (!found || !Array.isArray(found.prices)) throw new Error(`hetzner: no server type ${type}`);
  if (found.deprecation) throw new Error(`hetzner: server type ${type} is deprecated`);
  const price = found.prices.find((/** @type {any} */ p) => p && (location === undefined || p.location === location));
  if (!price || typeof price.location !== 'string') throw new Error(`hetzner: ${type} has no price in ${location ?? 'any location'}`);
  const hourly = price.price_hourly && price.price_hourly.gross;
  const monthly = price.price_monthly && price.price_monthly.gross;
  if (typeof hourly !== 'string' || typeof monthly !== 'string') throw new Error('hetzner: malformed price');
  return { type, location: price.location, hourly, monthly };
}

// Prices are decimal strings; they are added and multiplied as integers of 10^-16 euro (Hetzner gives up to 16
// decimals) and shown with 4, rounded up, so that no float ever holds money.
const SCALE = 16;

/** @param {string} s */
function units(s) {
  const m = /^(\d{1,9})(?:\.(\d{1,16}))?$/.exec(s);
  if (!m || m[1] === undefined) throw new Error(`hetzner: malformed price ${s}`);
  return BigInt(m[1] + (m[2] ?? '').padEnd(SCALE, '0'));
}

/** @param {bigint} u */
function decimal(u) {
  const step = 10n ** BigInt(SCALE - 4);
  const q = (u + step - 1n) / step;
  const s = q.toString().padStart(5, '0');
  return `${s.slice(0, -4)}.${s.slice(-4)}`;
}

/**
 * What `days` cost: Hetzner bills by the hour, at most the monthly price per month (taken as 30 days here).
 * @param {{ hourly: string, monthly: string }} p
 * @param {number} days
 */
function cost(p, days) {
  const hourly = units(p.hourly);
  const monthly = units(p.monthly);
  const months = BigInt(Math.floor(days / 30));
  const rest = hourly * 24n * BigInt(days % 30);
  return months * monthly + (rest < monthly ? rest : monthly);
}

/** @type {import('./provider.js').QuoteFn} */
export async function quote({ plan, days }, ctx) {
  const p = await prices(ctx, plan);
  const termDays = Math.max(days, meta.minTermDays);
  return {
    spawnSat: 0,
    monthlySat: 0,
    termDays,
    fiat: { currency: 'EUR', spawn: decimal(cost(p, termDays)), monthly: decimal(units(p.monthly)) },
  };
}

/**
 * A server name Hetzner accepts (an RFC 1123 label), unique per child because each child's user data holds its
 * own one-time ticket, and the same on a retry, so a repeated create meets `uniqueness_error` instead of a twin.
 * FNV-1a, 32 bits: a name, not a secret.
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
  if (userData.length > USER_DATA_MAX) throw new Error('hetzner: user data over 32 KiB');
  const p = await prices(ctx, plan);
  const body = {
    name: serverName(userData),
    server_type: p.type,
    image: IMAGE,
    location: p.location,
    user_data: userData,
    start_after_create: true,
    labels: { 'storj-agent': 'child' },
  };
  const { status, json } = await api(ctx, { method: 'POST', url: `${API}/servers`, body });
  const id = status === 201 || status === 200 ? json.server && json.server.id : undefined;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new Error('hetzner: no server id in the answer');
  // The answer also holds `root_password` when no SSH key is given: it is the server's, the child never needs
  // it (it boots from the user data), and it is neither logged nor returned.
  return { serverId: String(id) };
}

/** @type {Record<string, import('./provider.js').ServerState>} */
const STATES = {
  initializing: 'pending',
  starting: 'pending',
  running: 'running',
  stopping: 'stopped',
  off: 'stopped',
  deleting: 'gone',
  migrating: 'pending',
  rebuilding: 'pending',
  unknown: 'pending',
};

/** @param {string} serverId */
function serverUrl(serverId) {
  if (!/^\d{1,15}$/.test(serverId)) throw new Error('hetzner: a server id is a number');
  return `${API}/servers/${serverId}`;
}

/** @type {import('./provider.js').StatusFn} */
export async function status({ serverId }, ctx) {
  const { status: code, json } = await api(ctx, { method: 'GET', url: serverUrl(serverId) });
  if (code === 404) return { state: 'gone' };
  const server = json.server;
  // Own keys only: a status of `constructor` must not find Object's.
  const state = server && Object.prototype.hasOwnProperty.call(STATES, server.status) ? STATES[server.status] : undefined;
  if (!state) throw new Error(`hetzner: unknown server status ${String(server && server.status)}`);
  /** @type {import('./provider.js').Status} */
  const out = { state };
  const ip = server.public_net && server.public_net.ipv4 && server.public_net.ipv4.ip;
  if (typeof ip === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) out.url = `http://${ip}`;
  return out;
}

/** @type {import('./provider.js').RenewFn} */
export async function renew({ serverId }, ctx) {
  // The investor's account pays Hetzner's monthly invoice: nothing to pay on chain, but a renewal of a server
  // that no longer exists must fail rather than pretend.
  const { status: code } = await api(ctx, { method: 'GET', url: serverUrl(serverId) });
  if (code === 404) throw new Error('hetzner: the server is gone');
  return { pay: [] };
}

/** @type {import('./provider.js').DestroyFn} */
export async function destroy({ serverId }, ctx) {
  // A 404 means it is already deleted, which is what was asked.
  await api(ctx, { method: 'DELETE', url: serverUrl(serverId) });
  return {};
}
