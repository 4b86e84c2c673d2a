// The evaluation of a provider script in simulation (src/sandbox/evaluate.ts): every provider script of
// spawn-scripts/ passes with its own transcript, every check listed; a proposal whose quote, hosts or transcript
// do not fit the script fails the check that says so; and a script that asks for more than its quote, or loops
// when its provider fails, or returns garbage for garbage, fails the check that catches it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { evaluateScript, type Evaluation, type EvaluationInput } from '../../src/sandbox/index.ts';

const root = new URL('../../spawn-scripts/', import.meta.url);
const NOW = 1_767_225_600_000;

function provider(name: string): { source: string; transcript: { calls: Array<{ call: string; result?: { spawnSat?: number; monthlySat?: number } }> } } {
  return {
    source: readFileSync(new URL(`${name}.js`, root), 'utf8'),
    transcript: JSON.parse(readFileSync(new URL(`${name}.transcript.json`, root), 'utf8')) as never,
  };
}

/** A proposal for `name` as its investor would make it: the transcript's first quote, the script's hosts. */
function proposal(name: string, hosts: string[]): EvaluationInput {
  const { source, transcript } = provider(name);
  const q = transcript.calls.find((c) => c.call === 'quote')?.result;
  assert.ok(q);
  return { source, transcript, hosts, quote: { spawnSat: BigInt(q.spawnSat ?? 0), monthlySat: BigInt(q.monthlySat ?? 0) }, investmentSat: 10_000_000n, now: () => NOW };
}

function failed(e: Evaluation): string[] {
  return e.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
}

const PROVIDERS: Array<[string, string[]]> = [
  ['local-cloud', ['127.0.0.1:8430']],
  ['hetzner', ['api.hetzner.cloud']],
  ['bitlaunch', ['app.bitlaunch.io', 'mempool.space']],
];

for (const [name, hosts] of PROVIDERS) {
  test(`${name}: passes evaluation with every check listed`, async () => {
    const e = await evaluateScript(proposal(name, hosts));
    assert.deepEqual(failed(e), []);
    assert.equal(e.passed, true);
    const names = e.checks.map((c) => c.name);
    for (const n of ['meta', 'transcript', 'hosts', 'quote', 'payments', 'under provider errors', 'under timeouts', 'under malformed JSON', 'under inflated prices']) {
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    }
    assert.ok(names.some((n) => n.startsWith('replay create')) && names.some((n) => n.startsWith('replay renew')));
  });
}

test('a proposal whose quote, hosts or transcript do not fit its script fails the check that says so', async () => {
  const good = proposal('local-cloud', ['127.0.0.1:8430']);
  const quote = await evaluateScript({ ...good, quote: { spawnSat: 1_000n, monthlySat: 1_000n } });
  assert.equal(quote.passed, false);
  assert.match(failed(quote).join('\n'), /^quote: the script quotes 30000 sat to spawn/m);
  // Asked for less than the script then asks to be paid, the payments are refused too.
  assert.match(failed(quote).join('\n'), /^payments: create: the payments total 30000 sat, above the quote of 1000 sat/m);

  const hosts = await evaluateScript({ ...good, hosts: ['127.0.0.1:8430', 'evil.example'] });
  assert.deepEqual(failed(hosts), ["hosts: the proposal declares 127.0.0.1:8430, evil.example, the script's meta 127.0.0.1:8430"]);

  const t = structuredClone(good.transcript) as { calls: Array<{ call: string }> };
  t.calls = t.calls.filter((c) => c.call !== 'renew');
  const short = await evaluateScript({ ...good, transcript: t });
  assert.deepEqual(failed(short), ['transcript: it records no renew']);

  const notJs = await evaluateScript({ ...good, source: 'this is not a module' });
  assert.equal(notJs.passed, false);
  assert.deepEqual(notJs.checks.map((c) => c.name), ['meta']);
});

/** A one-call provider on 127.0.0.1:9 whose `create` is `body`; the other calls answer without a request. */
function tiny(create: string): string {
  return `
export const meta = { provider: 'tiny', hosts: ['127.0.0.1:9'], auth: { type: 'none' }, billing: 'invoice', bootstrap: 'cloud-init', canDestroy: false, minTermDays: 30 };
export async function quote() { return { spawnSat: 1000, monthlySat: 1000, termDays: 30 }; }
export async function create(args, ctx) { ${create} }
export async function status() { return { state: 'running', url: 'http://127.0.0.1:9' }; }
export async function renew() { return { pay: [] }; }
`;
}

const TINY_TRANSCRIPT = {
  format: 'storj-transcript/1',
  provider: 'tiny',
  calls: [
    { call: 'quote', args: { plan: 'one', days: 30 }, exchanges: [] },
    {
      call: 'create',
      args: { userData: '#cloud-config\n', plan: 'one', days: 30 },
      exchanges: [{ request: { method: 'POST', url: 'http://127.0.0.1:9/servers', body: null }, response: { status: 200, headers: {}, body: { id: 's1', invoice: { id: 'i1', address: 'bcrt1qlmu8mnxx3v86e8n48hqlul8afmktt4zg8rh0ef', amountSat: 1000 } } } }],
    },
    { call: 'status', args: { serverId: 's1' }, exchanges: [] },
    { call: 'renew', args: { serverId: 's1', days: 30 }, exchanges: [] },
  ],
};

function tinyProposal(create: string): EvaluationInput {
  return { source: tiny(create), transcript: TINY_TRANSCRIPT, hosts: ['127.0.0.1:9'], quote: { spawnSat: 1000n, monthlySat: 1000n }, investmentSat: 100_000n, now: () => NOW, limits: { cpuMs: 200 } };
}

const HONEST = `
  const res = await ctx.http({ method: 'POST', url: 'http://127.0.0.1:9/servers' });
  if (res.status !== 200) throw new Error('create failed: ' + res.status);
  const made = JSON.parse(res.body);
  if (made.invoice.amountSat > 1000) throw new Error('invoice above the price');
  return { serverId: made.id, pay: [{ id: made.invoice.id, address: made.invoice.address, amountSat: made.invoice.amountSat }] };`;

test('an honest tiny script passes; one asking twice its quote, or looping when its provider fails, or returning garbage for garbage, fails', async () => {
  assert.deepEqual(failed(await evaluateScript(tinyProposal(HONEST))), []);

  const greedy = await evaluateScript(tinyProposal(HONEST.replace("if (made.invoice.amountSat > 1000) throw new Error('invoice above the price');", '').replace('amountSat: made.invoice.amountSat }', 'amountSat: made.invoice.amountSat * 2 }')));
  assert.match(failed(greedy).join('\n'), /^payments: create: the payments total 2000 sat, above the quote of 1000 sat/m);

  const looping = await evaluateScript(tinyProposal(HONEST.replace("if (res.status !== 200) throw new Error('create failed: ' + res.status);", 'if (res.status !== 200) { for (;;) {} }')));
  assert.deepEqual(failed(looping).map((f) => f.split(':')[0]), ['under provider errors']);
  assert.match(failed(looping)[0] ?? '', /SANDBOX_TIMEOUT/);

  const garbage = await evaluateScript(tinyProposal(HONEST.replace('const made = JSON.parse(res.body);', 'let made; try { made = JSON.parse(res.body); } catch { return { serverId: 42 }; }')));
  assert.deepEqual(failed(garbage).map((f) => f.split(':')[0]), ['under malformed JSON']);
  assert.match(failed(garbage)[0] ?? '', /SANDBOX_BAD_RESULT/);

  // Forwarding an inflated invoice without checking it against the price is asking for more than the quote.
  const credulous = await evaluateScript(tinyProposal(HONEST.replace("if (made.invoice.amountSat > 1000) throw new Error('invoice above the price');", '')));
  assert.deepEqual(failed(credulous).map((f) => f.split(':')[0]), ['under inflated prices']);
});
