/**
 * The evaluation of a provider script in simulation, before a proposal can be chosen: static checks, the replay
 * of the investor's transcript, and the same calls again under perturbed answers. Every check is reported with
 * its name, whether it passed, and a detail a proposer can act on; the proposal passes only when all pass.
 *
 * - **meta**: the script loads, its `meta` is valid and it exports the required calls.
 * - **hosts**: the proposal declares the hosts the script's `meta` declares, and every request of the
 *   transcript goes to one of them.
 * - **transcript**: it is a storj-transcript/1 document recording quote, create, status and renew (and destroy,
 *   when the script can destroy).
 * - **replay \<call\>**: each recorded call, replayed: the script makes exactly the recorded requests and returns
 *   what the transcript says it returned.
 * - **quote**: the script's quote in the replay is the proposal's quote.
 * - **payments**: every payment request of the replay is within the quote and the investment, and no id repeats.
 * - **under \<perturbation\>**: every recorded call again, its answers perturbed (provider errors, timeouts,
 *   malformed JSON, inflated prices). A call may fail, as it should when its provider fails; it must end
 *   within its limits, return nothing malformed, and never ask to pay more than its own quote in that world.
 *
 * Everything runs in one sandbox session (./session.ts), so in the worker process, never in the agent's.
 */
import type { SandboxLimits } from './limits.ts';
import { checkPayments } from './payments.ts';
import type { CallName, Payment } from './schemas.ts';
import { SandboxSession, type CallOutcome } from './session.ts';
import { parseTranscript, ReplayTransport, sameJson, type Transcript } from './transcript.ts';
import { TransportError, type Transport } from './transport.ts';
import type { ScriptRequest, ScriptResponse } from './protocol.ts';

export interface EvaluationInput {
  source: string;
  /** The investor's transcript, as submitted (parsed JSON). */
  transcript: unknown;
  /** The proposal's quote, in sat. */
  quote: { spawnSat: bigint; monthlySat: bigint };
  /** The hosts the proposal declares. */
  hosts: readonly string[];
  /** The proposal's investment: no payment may go above it. */
  investmentSat: bigint;
  /** The provider credentials, attached to requests by the session; in a replay they reach no provider. */
  credentials?: string;
  limits?: Partial<SandboxLimits>;
  /** The clock a script sees. */
  now?: () => number;
}

export interface EvaluationCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface Evaluation {
  passed: boolean;
  checks: EvaluationCheck[];
}

/** The calls a transcript must record. */
const RECORDED: readonly CallName[] = ['quote', 'create', 'status', 'renew'];
/** Failures that mean the script did not end within its limits. */
const OVER_LIMITS = new Set(['SANDBOX_TIMEOUT', 'SANDBOX_OUT_OF_MEMORY', 'SANDBOX_STACK_OVERFLOW', 'SANDBOX_KILLED']);
const DAYS_PER_MONTH = 30n;

export async function evaluateScript(input: EvaluationInput): Promise<Evaluation> {
  const checks: EvaluationCheck[] = [];
  const check = (name: string, passed: boolean, detail: string): boolean => {
    checks.push({ name, passed, detail });
    return passed;
  };
  const done = (): Evaluation => ({ passed: checks.every((c) => c.passed), checks });

  const parsed = parseTranscript(input.transcript);
  const opened = await SandboxSession.open({
    source: input.source,
    ...(input.credentials !== undefined ? { credentials: input.credentials } : {}),
    ...(input.limits ? { limits: input.limits } : {}),
    ...(input.now ? { now: input.now } : {}),
    // A script's waits are simulated: an evaluation does not sleep through a provider's boot.
    sleep: () => Promise.resolve(),
  });
  if (!opened.ok) {
    check('meta', false, `${opened.code}: ${opened.reason}`);
    return done();
  }
  const session = opened.session;
  try {
    const meta = session.meta;
    check('meta', true, `provider ${meta.provider}; calls ${session.calls.join(', ')}`);
    if (!check('transcript', parsed.ok && recordsEnough(parsed.transcript, session.calls), parsed.ok ? transcriptDetail(parsed.transcript, session.calls) : parsed.reason) || !parsed.ok) {
      return done();
    }
    const transcript = parsed.transcript;
    check('hosts', ...hostsCheck(input.hosts, meta.hosts, transcript));

    // The replay, call by call, in the transcript's order.
    const paid = new Set<string>();
    let paymentsOk = true;
    const paymentDetails: string[] = [];
    let quoted: { spawnSat: bigint; monthlySat: bigint } | undefined;
    for (const [i, entry] of transcript.calls.entries()) {
      const transport = new ReplayTransport(entry.exchanges);
      const out = await session.callJson(entry.call, entry.args, { transport });
      const mismatch = transport.verdict(out.ok);
      const name = `replay ${entry.call} (${i + 1})`;
      if (!out.ok) check(name, false, `${out.code}: ${out.reason}`);
      else if (mismatch) check(name, false, mismatch);
      else if (entry.result !== undefined && !sameJson(out.value, entry.result)) check(name, false, `returned ${show(out.value)}, the transcript says ${show(entry.result)}`);
      else check(name, true, `${entry.exchanges.length} request(s) as recorded`);
      if (!out.ok) continue;
      if (entry.call === 'quote' && !quoted) quoted = quoteOf(out.value);
      const pay = paymentsOf(out.value);
      if (pay.length === 0) continue;
      const r = checkPayments(pay, { quoteSat: allowance(entry.call, entry.args, input.quote), budgetSat: input.investmentSat, alreadyPaidIds: paid });
      if (!r.ok) {
        paymentsOk = false;
        paymentDetails.push(`${entry.call}: ${r.reason}`);
      } else {
        for (const p of pay) paid.add(p.id);
        paymentDetails.push(`${entry.call}: ${r.totalSat} sat`);
      }
    }
    check(
      'quote',
      quoted !== undefined && quoted.spawnSat === input.quote.spawnSat && quoted.monthlySat === input.quote.monthlySat,
      quoted ? `the script quotes ${quoted.spawnSat} sat to spawn and ${quoted.monthlySat} sat a month; the proposal says ${input.quote.spawnSat} and ${input.quote.monthlySat}` : 'the replayed quote failed',
    );
    check('payments', paymentsOk, paymentDetails.length > 0 ? paymentDetails.join('; ') : 'no payment requested');

    for (const [name, perturb] of PERTURBATIONS) {
      check(`under ${name}`, ...(await underPerturbation(session, transcript, perturb, input)));
    }
    return done();
  } finally {
    session.close();
  }
}

function recordsEnough(t: Transcript, calls: readonly CallName[]): boolean {
  return missingCalls(t, calls).length === 0;
}

function missingCalls(t: Transcript, calls: readonly CallName[]): CallName[] {
  const recorded = new Set(t.calls.map((c) => c.call));
  const needed = calls.includes('destroy') ? [...RECORDED, 'destroy' as const] : RECORDED;
  return needed.filter((c) => !recorded.has(c));
}

function transcriptDetail(t: Transcript, calls: readonly CallName[]): string {
  const missing = missingCalls(t, calls);
  return missing.length > 0 ? `it records no ${missing.join(', ')}` : `${t.calls.length} recorded call(s)`;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

function hostsCheck(proposed: readonly string[], declared: readonly string[], t: Transcript): [boolean, string] {
  const want = [...new Set(declared)].sort();
  const got = [...new Set(proposed)].sort();
  if (want.join(' ') !== got.join(' ')) return [false, `the proposal declares ${got.join(', ') || 'no host'}, the script's meta ${want.join(', ')}`];
  for (const c of t.calls) {
    for (const e of c.exchanges) {
      const host = hostOf(e.request.url);
      if (host === undefined || !want.includes(host)) return [false, `the transcript's ${c.call} calls ${e.request.url}, on no declared host`];
    }
  }
  return [true, want.join(', ')];
}

function quoteOf(value: unknown): { spawnSat: bigint; monthlySat: bigint } | undefined {
  const v = value as { spawnSat?: unknown; monthlySat?: unknown };
  return typeof v.spawnSat === 'bigint' && typeof v.monthlySat === 'bigint' ? { spawnSat: v.spawnSat, monthlySat: v.monthlySat } : undefined;
}

function paymentsOf(value: unknown): Payment[] {
  const pay = (value as { pay?: unknown } | null)?.pay;
  return Array.isArray(pay) ? (pay as Payment[]) : [];
}

/**
 * What a call may ask to be paid, by the quote: the spawn for `create` and `fund`; for `renew`, the monthly price
 * for the days renewed (rounded up).
 */
function allowance(call: CallName, args: Record<string, unknown>, quote: { spawnSat: bigint; monthlySat: bigint }): bigint {
  if (call !== 'renew') return quote.spawnSat;
  const days = typeof args.days === 'number' && Number.isSafeInteger(args.days) && args.days > 0 ? BigInt(args.days) : DAYS_PER_MONTH;
  return (quote.monthlySat * days + DAYS_PER_MONTH - 1n) / DAYS_PER_MONTH;
}

function show(v: unknown): string {
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

type Perturb = (response: ScriptResponse) => ScriptResponse | 'timeout';

const PERTURBATIONS: ReadonlyArray<readonly [string, Perturb]> = [
  ['provider errors', () => ({ status: 503, headers: { 'content-type': 'application/json' }, body: '{"error":"service unavailable"}' })],
  ['timeouts', () => 'timeout'],
  ['malformed JSON', (r) => ({ ...r, body: `${r.body.slice(0, Math.floor(r.body.length / 2))}{"unterminated` })],
  ['inflated prices', (r) => ({ ...r, body: inflate(r.body) })],
];

/** Every number in a JSON body ten times over (decimal strings included); a body that is not JSON as it is. */
function inflate(body: string): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return body;
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return v * 10;
    if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return String(Number(v) * 10);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(value));
}

/**
 * Answers a call's requests with its recorded answers in order, perturbed, whatever was asked: under perturbed
 * answers a script may well take another path, and that is not a mismatch.
 */
class PerturbedTransport implements Transport {
  private next = 0;
  constructor(
    private readonly answers: readonly ScriptResponse[],
    private readonly perturb: Perturb,
  ) {}

  send(_request: ScriptRequest): Promise<ScriptResponse> {
    const answer = this.answers[this.next++];
    if (!answer) return Promise.reject(new TransportError('the provider did not answer (no recorded answer left)'));
    const out = this.perturb(answer);
    if (out === 'timeout') return Promise.reject(new TransportError('the provider did not answer in time'));
    return Promise.resolve(out);
  }
}

function recordedAnswers(entry: Transcript['calls'][number]): ScriptResponse[] {
  return entry.exchanges.map(({ response }) => ({
    status: response.status,
    headers: Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: typeof response.body === 'string' ? response.body : response.body === undefined ? '' : JSON.stringify(response.body),
  }));
}

async function underPerturbation(session: SandboxSession, t: Transcript, perturb: Perturb, input: EvaluationInput): Promise<[boolean, string]> {
  let quote: { spawnSat: bigint; monthlySat: bigint } | undefined;
  let failed = 0;
  for (const entry of t.calls) {
    const out: CallOutcome<unknown> = await session.callJson(entry.call, entry.args, { transport: new PerturbedTransport(recordedAnswers(entry), perturb) });
    if (!out.ok) {
      if (OVER_LIMITS.has(out.code) || out.code === 'SANDBOX_BAD_RESULT') return [false, `${entry.call}: ${out.code}: ${out.reason}`];
      failed++;
      continue;
    }
    if (entry.call === 'quote') quote ??= quoteOf(out.value);
    const pay = paymentsOf(out.value);
    if (pay.length === 0) continue;
    // Its own quote in this world, or the proposal's when it could not quote.
    const allowed = allowance(entry.call, entry.args, quote ?? input.quote);
    const r = checkPayments(pay, { quoteSat: allowed, budgetSat: allowed, alreadyPaidIds: [] });
    if (!r.ok) return [false, `${entry.call}: ${r.reason}`];
  }
  return [true, `${t.calls.length} call(s) ended within their limits (${failed} failed as they should), none asked for more than its quote`];
}
