/**
 * The static evaluation of a proposal: the checks that need no run of its script. It stands until the sandbox's
 * replay and perturbation runs are plugged in beside it. What it checks (each a named entry of the evaluation):
 *
 * - `hosts`: every declared host is a plain host[:port] (./hosts.ts);
 * - `transcript-format`: the transcript parses as storj-transcript/1 (spawn-scripts/README.md, "Transcripts")
 *   for the proposal's provider: calls with a known name, object args, exchanges with a method and URL, a result;
 * - `transcript-calls`: it records quote, create, a status showing the server running, and renew;
 * - `transcript-hosts`: every request URL is https (http only on loopback) to one of the declared hosts exactly;
 * - `quote-matches`: the proposal's quote equals the transcript's quote result;
 * - `payments-within-quote`: every payment request is a positive safe integer to a non-empty address with an id
 *   of its own, what fund and create ask for together is within spawnSat, and each renew for `days` within
 *   ceil(monthlySat x days / 30).
 */
import { isLoopback, isPlainHost } from './hosts.ts';

interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

export interface Evaluation {
  passed: boolean;
  checks: Check[];
}

/** What an evaluator is given: the proposal without its credentials, which never reach a script. */
export interface EvaluationInput {
  id: string;
  provider: string;
  script: string;
  hosts: readonly string[];
  transcript: unknown;
  quote: { spawnSat: bigint; monthlySat: bigint };
}

export type Evaluator = (p: EvaluationInput) => Promise<Evaluation>;

const CALLS = new Set(['quote', 'fund', 'create', 'status', 'renew', 'destroy']);
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

interface Exchange {
  method: string;
  url: string;
}
interface Call {
  call: string;
  args: Record<string, unknown>;
  exchanges: Exchange[];
  result: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The transcript's calls, or why it is not storj-transcript/1 for `provider`. */
function parseTranscript(t: unknown, provider: string): { calls: Call[] } | { error: string } {
  if (!isObject(t)) return { error: 'the transcript is not a JSON object' };
  if (t.format !== 'storj-transcript/1') return { error: `format is ${JSON.stringify(t.format)}, not "storj-transcript/1"` };
  if (t.provider !== provider) return { error: `its provider ${JSON.stringify(t.provider)} is not the proposal's ${JSON.stringify(provider)}` };
  if (!Array.isArray(t.calls) || t.calls.length === 0) return { error: 'calls is not a non-empty array' };
  const calls: Call[] = [];
  for (const [i, c] of t.calls.entries()) {
    if (!isObject(c) || typeof c.call !== 'string' || !CALLS.has(c.call)) return { error: `calls[${i}] is not one of ${[...CALLS].join(', ')}` };
    if (!isObject(c.args)) return { error: `calls[${i}].args is not an object` };
    if (!Array.isArray(c.exchanges)) return { error: `calls[${i}].exchanges is not an array` };
    if (!('result' in c)) return { error: `calls[${i}] has no result` };
    const exchanges: Exchange[] = [];
    for (const [j, x] of c.exchanges.entries()) {
      const req = isObject(x) ? x.request : undefined;
      const res = isObject(x) ? x.response : undefined;
      if (!isObject(req) || typeof req.method !== 'string' || !METHODS.has(req.method) || typeof req.url !== 'string') return { error: `calls[${i}].exchanges[${j}].request needs a method and a url` };
      if (!isObject(res) || typeof res.status !== 'number' || !Number.isInteger(res.status)) return { error: `calls[${i}].exchanges[${j}].response needs an integer status` };
      exchanges.push({ method: req.method, url: req.url });
    }
    calls.push({ call: c.call, args: c.args, exchanges, result: c.result });
  }
  return { calls };
}

/** The static evaluator (see the module comment). Never throws: a malformed proposal fails its checks. */
export const staticEvaluator: Evaluator = (p) => Promise.resolve(evaluateStatically(p));

export function evaluateStatically(p: EvaluationInput): Evaluation {
  const checks: Check[] = [];
  const add = (name: string, problems: string[], ok: string): void => {
    checks.push({ name, passed: problems.length === 0, detail: problems.length === 0 ? ok : problems.join('; ') });
  };
  const badHosts = p.hosts.filter((h) => !isPlainHost(h));
  add('hosts', badHosts.map((h) => `${JSON.stringify(h)} is not a plain host[:port]`), `${p.hosts.length} plain host(s) declared`);
  const parsed = parseTranscript(p.transcript, p.provider);
  if ('error' in parsed) {
    add('transcript-format', [parsed.error], '');
    for (const name of ['transcript-calls', 'transcript-hosts', 'quote-matches', 'payments-within-quote']) add(name, ['not checked: the transcript is unreadable'], '');
    return { passed: false, checks };
  }
  const { calls } = parsed;
  add('transcript-format', [], `storj-transcript/1, ${calls.length} call(s)`);
  add('transcript-calls', missingCalls(calls), 'quote, create, status (running) and renew are recorded');
  add('transcript-hosts', undeclaredRequests(calls, new Set(p.hosts)), `${calls.reduce((a, c) => a + c.exchanges.length, 0)} request(s), all to declared hosts`);
  add('quote-matches', quoteMismatch(calls, p.quote), `spawnSat ${p.quote.spawnSat}, monthlySat ${p.quote.monthlySat}`);
  add('payments-within-quote', paymentProblems(calls, p.quote), 'every payment request keeps within the quote');
  return { passed: checks.every((c) => c.passed), checks };
}

function missingCalls(calls: Call[]): string[] {
  const out: string[] = [];
  for (const name of ['quote', 'create', 'status', 'renew']) if (!calls.some((c) => c.call === name)) out.push(`no ${name} call`);
  const running = calls.some((c) => c.call === 'status' && isObject(c.result) && c.result.state === 'running');
  if (calls.some((c) => c.call === 'status') && !running) out.push('no status call shows the server running');
  return out;
}

function undeclaredRequests(calls: Call[], hosts: Set<string>): string[] {
  const out: string[] = [];
  for (const c of calls) {
    for (const x of c.exchanges) {
      let url: URL;
      try {
        url = new URL(x.url);
      } catch {
        out.push(`${c.call}: ${JSON.stringify(x.url.slice(0, 100))} is not a URL`);
        continue;
      }
      if (url.username || url.password) out.push(`${c.call}: a URL carries a user or password`);
      else if (!hosts.has(url.host)) out.push(`${c.call}: ${url.host} is not a declared host`);
      else if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) out.push(`${c.call}: ${url.protocol} to ${url.host} (https only, http on loopback)`);
    }
  }
  return out;
}

/** A JSON integer as bigint, or undefined. */
function sat(v: unknown): bigint | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}

function quoteMismatch(calls: Call[], quote: EvaluationInput['quote']): string[] {
  const q = calls.find((c) => c.call === 'quote');
  if (!q) return ['no quote call'];
  if (!isObject(q.result)) return ['the quote result is not an object'];
  const spawn = sat(q.result.spawnSat);
  const monthly = sat(q.result.monthlySat);
  const out: string[] = [];
  if (spawn !== quote.spawnSat) out.push(`the transcript quotes spawnSat ${String(q.result.spawnSat)}, the proposal ${quote.spawnSat}`);
  if (monthly !== quote.monthlySat) out.push(`the transcript quotes monthlySat ${String(q.result.monthlySat)}, the proposal ${quote.monthlySat}`);
  return out;
}

function paymentProblems(calls: Call[], quote: EvaluationInput['quote']): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  let atSpawn = 0n;
  for (const c of calls) {
    if (!['fund', 'create', 'renew'].includes(c.call)) continue;
    const pay = isObject(c.result) ? c.result.pay : undefined;
    if (pay === undefined) continue;
    if (!Array.isArray(pay)) {
      out.push(`${c.call}: pay is not an array`);
      continue;
    }
    let sum = 0n;
    for (const r of pay) {
      const amount = isObject(r) ? sat(r.amountSat) : undefined;
      if (!isObject(r) || typeof r.id !== 'string' || r.id === '' || typeof r.address !== 'string' || r.address === '' || amount === undefined || amount === 0n) {
        out.push(`${c.call}: a payment request is not {id, address, amountSat > 0}`);
        continue;
      }
      if (ids.has(r.id)) out.push(`${c.call}: payment ${r.id} is asked for twice`);
      ids.add(r.id);
      sum += amount;
    }
    if (c.call === 'renew') {
      const days = sat(c.args.days);
      if (days === undefined || days === 0n) out.push('renew: args.days is not a positive integer');
      else {
        const cap = (quote.monthlySat * days + 29n) / 30n;
        if (sum > cap) out.push(`renew for ${days} day(s) asks ${sum} sat, above ${cap} (monthlySat x days / 30)`);
      }
    } else atSpawn += sum;
  }
  if (atSpawn > quote.spawnSat) out.push(`fund and create ask ${atSpawn} sat, above spawnSat ${quote.spawnSat}`);
  return out;
}
