// Checks of a transcript (format `storj-transcript/1`, spawn-scripts/README.md) against its script's meta: the
// format itself, that every request goes to a declared host, that every recorded result has the shape of its call,
// and that the payments it records keep the rules the agent applies (within the quote, each id once).
const FORMAT = 'storj-transcript/1';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const STATES = ['pending', 'running', 'stopped', 'gone'];
const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];
// Headers that carry a credential or a session: a recording must never hold one.
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isSat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const keysAre = (o: Obj, required: string[], optional: string[] = []): boolean =>
  required.every((k) => k in o) && Object.keys(o).every((k) => required.includes(k) || optional.includes(k));

interface Meta {
  provider: string;
  hosts: string[];
  billing: string;
  canDestroy: boolean;
  minTermDays: number;
}

/** The problems with one request URL: not http(s), http to a host that is not loopback, or an undeclared host. */
export function urlProblems(url: unknown, hosts: string[]): string[] {
  if (typeof url !== 'string') return ['a request has no url'];
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [`${url} is not a URL`];
  }
  const out: string[] = [];
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.includes(u.hostname))) out.push(`${url} is not https (http is for loopback only)`);
  if (u.username !== '' || u.password !== '' || u.hash !== '') out.push(`${url} has a user, password or fragment`);
  if (!hosts.includes(u.host)) out.push(`${url} is on ${u.host}, which meta.hosts does not declare`);
  return out;
}

function payProblems(pay: unknown, where: string): string[] {
  if (!Array.isArray(pay)) return [`${where}.pay is not a list`];
  return pay.flatMap((p, i) =>
    isObj(p) && keysAre(p, ['id', 'address', 'amountSat']) && typeof p.id === 'string' && p.id !== '' && typeof p.address === 'string' && p.address !== '' && isSat(p.amountSat) && p.amountSat > 0
      ? []
      : [`${where}.pay[${i}] is not {id, address, amountSat > 0}`]);
}

function decimal(v: unknown): boolean {
  return typeof v === 'string' && /^\d{1,12}(\.\d{1,8})?$/.test(v);
}

/** The problems with one call's recorded result, given its call, its arguments and the script's meta. */
function resultProblems(call: string, args: Obj, result: unknown, meta: Meta, where: string): string[] {
  if (!isObj(result)) return [`${where}.result is not an object`];
  switch (call) {
    case 'quote': {
      if (!keysAre(result, ['spawnSat', 'monthlySat', 'termDays'], ['fiat'])) return [`${where}.result is not {spawnSat, monthlySat, termDays, fiat?}`];
      const out: string[] = [];
      if (!isSat(result.spawnSat) || !isSat(result.monthlySat)) out.push(`${where}: spawnSat and monthlySat are not satoshis`);
      const term = result.termDays;
      if (!Number.isSafeInteger(term) || (term as number) < Math.max(Number(args.days), meta.minTermDays)) out.push(`${where}: termDays is below the days asked or meta.minTermDays`);
      const fiat = result.fiat;
      if (fiat !== undefined && !(isObj(fiat) && keysAre(fiat, ['currency', 'spawn', 'monthly']) && /^[A-Z]{3}$/.test(String(fiat.currency)) && decimal(fiat.spawn) && decimal(fiat.monthly))) {
        out.push(`${where}: fiat is not {currency, spawn, monthly} with decimal strings`);
      }
      if (meta.billing === 'credentials' && (result.spawnSat !== 0 || result.monthlySat !== 0 || fiat === undefined)) out.push(`${where}: credentials billing quotes 0 sat with the price in fiat`);
      return out;
    }
    case 'fund':
    case 'renew':
      return keysAre(result, ['pay']) ? payProblems(result.pay, where) : [`${where}.result is not {pay}`];
    case 'create':
      if (!keysAre(result, ['serverId'], ['pay']) || typeof result.serverId !== 'string' || result.serverId === '') return [`${where}.result is not {serverId, pay?}`];
      return result.pay === undefined ? [] : payProblems(result.pay, where);
    case 'status': {
      const ok = keysAre(result, ['state'], ['url', 'expiresAt']) && STATES.includes(result.state as string)
        && (result.url === undefined || (typeof result.url === 'string' && /^https?:\/\/[^\s/]+(\/\S*)?$/.test(result.url)))
        && (result.expiresAt === undefined || isSat(result.expiresAt));
      return ok ? [] : [`${where}.result is not {state, url?, expiresAt?}`];
    }
    case 'destroy':
      return Object.keys(result).length === 0 ? [] : [`${where}.result is not {}`];
    default:
      return [`${where}: ${call} is not a call of the interface`];
  }
}

function exchangeProblems(e: unknown, hosts: string[], where: string): string[] {
  if (!isObj(e) || !keysAre(e, ['request', 'response'])) return [`${where} is not {request, response}`];
  const { request: req, response: res } = e;
  const out: string[] = [];
  // A request has no headers in a recording: credentials are the host's to attach, and nothing else is matched.
  if (!isObj(req) || !keysAre(req, ['method', 'url'], ['body'])) out.push(`${where}.request is not {method, url, body?}`);
  else {
    if (!METHODS.includes(req.method as string)) out.push(`${where}.request.method is not one of ${METHODS.join(', ')}`);
    out.push(...urlProblems(req.url, hosts).map((p) => `${where}: ${p}`));
  }
  if (!isObj(res) || !keysAre(res, ['status', 'headers', 'body'])) out.push(`${where}.response is not {status, headers, body}`);
  else {
    if (!Number.isSafeInteger(res.status) || (res.status as number) < 100 || (res.status as number) > 599) out.push(`${where}.response.status is not an HTTP status`);
    if (!isObj(res.headers) || Object.entries(res.headers).some(([k, v]) => typeof v !== 'string' || k !== k.toLowerCase())) out.push(`${where}.response.headers are not lowercase names with string values`);
    else for (const k of Object.keys(res.headers)) if (SECRET_HEADERS.includes(k)) out.push(`${where}.response has a ${k} header`);
  }
  return out;
}

/** The sum of a result's payment requests, 0 when it has none. */
function paid(result: unknown): number {
  const pay = isObj(result) && Array.isArray(result.pay) ? (result.pay as Obj[]) : [];
  return pay.reduce((sum, p) => sum + (isSat(p.amountSat) ? p.amountSat : 0), 0);
}

/**
 * The payment rules over the whole recording, as the agent applies them: each payment id once; at spawn, `create`'s
 * and `fund`'s requests within the largest `spawnSat` quoted; a renewal within `monthlySat` per 30 days, rounded up;
 * and nothing at all to pay on chain for credentials billing.
 */
function paymentProblems(calls: Obj[], meta: Meta): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of calls) {
    const pay = isObj(c.result) && Array.isArray(c.result.pay) ? (c.result.pay as Obj[]) : [];
    for (const p of pay) {
      if (seen.has(String(p.id))) out.push(`payment ${String(p.id)} is requested twice`);
      seen.add(String(p.id));
    }
    if (meta.billing === 'credentials' && pay.length > 0) out.push(`${String(c.call)} asks to pay on chain, but billing is credentials`);
  }
  const quotes = calls.filter((c) => c.call === 'quote' && isObj(c.result)).map((c) => c.result as Obj);
  const spawnSat = Math.max(0, ...quotes.map((q) => Number(q.spawnSat)));
  const monthlySat = Math.max(0, ...quotes.map((q) => Number(q.monthlySat)));
  const atSpawn = calls.filter((c) => c.call === 'create' || c.call === 'fund').reduce((sum, c) => sum + paid(c.result), 0);
  if (atSpawn > spawnSat) out.push(`create and fund ask for ${atSpawn} sat, above the quote's spawnSat of ${spawnSat}`);
  for (const c of calls.filter((x) => x.call === 'fund')) {
    if (paid(c.result) > Number((c.args as Obj).amountSat)) out.push('fund asks for more than the amount it was given');
  }
  for (const c of calls.filter((x) => x.call === 'renew')) {
    const days = Number((c.args as Obj).days);
    const bound = Math.ceil((monthlySat * days) / 30);
    if (paid(c.result) > bound) out.push(`renew for ${days} days asks for ${paid(c.result)} sat, above ${bound} at the quote's monthlySat`);
  }
  return out;
}

/** Every problem with a transcript, checked against the meta of the script it records. */
export function transcriptProblems(t: unknown, meta: Meta, exports: string[]): string[] {
  if (!isObj(t) || !keysAre(t, ['format', 'provider', 'calls'])) return ['the transcript is not {format, provider, calls}'];
  const out: string[] = [];
  if (t.format !== FORMAT) out.push(`format is not ${FORMAT}`);
  if (t.provider !== meta.provider) out.push(`provider ${String(t.provider)} is not meta.provider ${meta.provider}`);
  if (!Array.isArray(t.calls) || t.calls.length === 0) return [...out, 'calls is not a list of calls'];
  const calls = t.calls as unknown[];
  calls.forEach((c, i) => {
    const where = `calls[${i}]`;
    if (!isObj(c) || !keysAre(c, ['call', 'args', 'exchanges', 'result']) || typeof c.call !== 'string' || !isObj(c.args) || !Array.isArray(c.exchanges)) {
      out.push(`${where} is not {call, args, exchanges, result}`);
      return;
    }
    if (!exports.includes(c.call)) out.push(`${where}: the script does not export ${c.call}`);
    c.exchanges.forEach((e, j) => out.push(...exchangeProblems(e, meta.hosts, `${where}.exchanges[${j}]`)));
    out.push(...resultProblems(c.call, c.args, c.result, meta, where));
  });
  const good = calls.filter(isObj);
  const recorded = new Set(good.map((c) => c.call));
  const wanted = ['quote', 'create', 'status', 'renew', ...(meta.canDestroy ? ['destroy'] : []), ...(meta.billing === 'account' ? ['fund'] : [])];
  for (const name of wanted) if (!recorded.has(name)) out.push(`no ${name} call is recorded`);
  if (!good.some((c) => c.call === 'status' && isObj(c.result) && c.result.state === 'running')) out.push('no status call shows the server running');
  if (/\bbearer\s/i.test(JSON.stringify(t))) out.push('the transcript holds a bearer token');
  return [...out, ...paymentProblems(good, meta)];
}
