// One conformance suite over every provider script (test/spawn-scripts/providers.ts), without the sandbox: each
// script parses as a module exporting the interface with a literal meta whose hosts are plain host[:port], and its
// transcript has the documented format, calls only declared hosts, and records results of the right shape whose
// payments stay within the quote. The checks are then shown to catch each kind of fault they are for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { PROVIDERS, SCRIPTS_DIR, scriptPath } from './providers.ts';
import { isPlainHost, scriptShape } from './script-shape.ts';
import { transcriptProblems, urlProblems } from './transcript-shape.ts';

type Meta = Parameters<typeof transcriptProblems>[1];
/** A transcript as the fault cases below edit it (they break it on purpose, so its types are loose). */
interface Recording {
  format: string;
  provider: string;
  calls: Array<{
    call: string;
    exchanges: Array<{ request: { url: string; headers?: Record<string, string> }; response: { headers: Record<string, string>; body: Record<string, unknown> } }>;
    result: { spawnSat?: number; termDays?: number; state?: string; pay: Array<{ id: string; amountSat: number }> };
  }>;
}

function load(c: { script: string; transcript: string }) {
  const shape = scriptShape(readFileSync(scriptPath(c.script), 'utf8'), c.script);
  const transcript: unknown = JSON.parse(readFileSync(scriptPath(c.transcript), 'utf8'));
  return { shape, transcript, meta: shape.meta as unknown as Meta };
}

for (const c of PROVIDERS) {
  void test(`${c.script}: a module exporting the interface, with a literal meta on plain hosts`, () => {
    const { shape } = load(c);
    assert.deepEqual(shape.problems, []);
    assert.ok(shape.meta, 'meta was read');
  });

  void test(`${c.transcript}: the format, declared hosts only, results of the right shape, payments within the quote`, () => {
    const { shape, transcript, meta } = load(c);
    assert.deepEqual(transcriptProblems(transcript, meta, shape.exports), []);
  });
}

void test('every script and transcript in spawn-scripts/ is in the list the suite runs over', () => {
  const listed = new Set(PROVIDERS.flatMap((c) => [c.script, c.transcript]));
  const unlisted = readdirSync(SCRIPTS_DIR).filter((f) => (f.endsWith('.js') || f.endsWith('.json')) && !listed.has(f));
  assert.deepEqual(unlisted, []);
  assert.ok(PROVIDERS.some((c) => c.script === 'local-cloud.js'));
});

void test('plain hosts: a name or IP literal with an optional port, nothing more', () => {
  for (const good of ['api.hetzner.cloud', 'mempool.space', '127.0.0.1:8430', 'host:8443', 'localhost', 'a-b.example']) {
    assert.equal(isPlainHost(good), true, good);
  }
  for (const bad of ['https://api.hetzner.cloud', 'api.hetzner.cloud/v1', '*.example.com', 'API.example.com', 'user@host', 'host:0', 'host:65536',
    'host:08443', 'example.com.', '', 'host:', '-bad.example', '1.2.3', '256.1.1.1', 'a b', '[::1]:8430']) {
    assert.equal(isPlainHost(bad), false, bad);
  }
});

const GOOD = `// @ts-check
export const meta = { provider: 'x', hosts: ['api.x.test'], auth: { type: 'bearer' }, billing: 'invoice', bootstrap: 'cloud-init', canDestroy: false, minTermDays: 1 };
export async function quote() { return { spawnSat: 1, monthlySat: 1, termDays: 1 }; }
export async function create() { return { serverId: 'a' }; }
export async function status() { return { state: 'running' }; }
export async function renew() { return { pay: [] }; }
`;

void test('the script checks find imports, missing or stray exports, a computed meta and a bad host', () => {
  assert.deepEqual(scriptShape(GOOD, 'good.js').problems, []);
  const cases: Array<[string, string, RegExp]> = [
    ['an import', `import x from 'y';\n${GOOD}`, /imports a module/],
    ['a dynamic import', `${GOOD}\nasync function f() { return import('y'); }`, /uses import\(\)/],
    ['import.meta', `${GOOD}\nconst u = import.meta.url;`, /uses import\.meta/],
    ['no renew', GOOD.replace(/export async function renew.*\n/, ''), /does not export renew/],
    ['a stray export', `${GOOD}\nexport async function steal() {}`, /exports steal/],
    ['a default export', `${GOOD}\nexport default 1;`, /default export/],
    ['a sync call', GOOD.replace('export async function status', 'export function status'), /status is not an async function/],
    ['a computed meta', GOOD.replace("provider: 'x'", "provider: 'x' + ''"), /meta\.provider is not a literal/],
    ['a URL as host', GOOD.replace("'api.x.test'", "'https://api.x.test'"), /not a plain host/],
    ['a wildcard host', GOOD.replace("'api.x.test'", "'*.x.test'"), /not a plain host/],
    ['destroy without canDestroy', `${GOOD}\nexport async function destroy() { return {}; }`, /canDestroy/],
    ['fund without account billing', `${GOOD}\nexport async function fund() { return { pay: [] }; }`, /fund is exported exactly when/],
    ['a header auth without a name', GOOD.replace("{ type: 'bearer' }", "{ type: 'header' }"), /meta\.auth/],
    ['a syntax error', `${GOOD}\nexport async function (`, /syntax/],
  ];
  for (const [what, source, expected] of cases) {
    const problems = scriptShape(source, 'bad.js').problems;
    assert.ok(problems.some((p) => expected.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
});

void test('the transcript checks find undeclared hosts, plain http, headers, bad results and payments beyond the quote', () => {
  const c = PROVIDERS.find((p) => p.script === 'local-cloud.js');
  assert.ok(c);
  const { shape, meta, transcript } = load(c);
  const mutate = (f: (t: Recording) => void): string[] => {
    const t = structuredClone(transcript) as Recording;
    f(t);
    return transcriptProblems(t, meta, shape.exports);
  };
  const cases: Array<[string, (t: Recording) => void, RegExp]> = [
    ['another format', (t) => { t.format = 'storj-transcript/2'; }, /format is not/],
    ['another provider', (t) => { t.provider = 'hetzner'; }, /is not meta\.provider/],
    ['an undeclared host', (t) => { t.calls[0]!.exchanges[0]!.request.url = 'http://127.0.0.1:9999/v1/plans'; }, /does not declare/],
    ['http off loopback', (t) => { t.calls[0]!.exchanges[0]!.request.url = 'http://api.x.test/v1/plans'; }, /not https/],
    ['a request header', (t) => { t.calls[0]!.exchanges[0]!.request.headers = { authorization: 'x' }; }, /request is not \{method, url, body\?\}/],
    ['a set-cookie answer', (t) => { t.calls[0]!.exchanges[0]!.response.headers['set-cookie'] = 'a=b'; }, /set-cookie/],
    ['a bearer token', (t) => { t.calls[0]!.exchanges[0]!.response.body.note = 'Bearer abc'; }, /bearer token/],
    ['a fractional amount', (t) => { t.calls[0]!.result.spawnSat = 1.5; }, /not satoshis/],
    ['a short term', (t) => { t.calls[0]!.result.termDays = 1; }, /termDays/],
    ['an unknown state', (t) => { t.calls[3]!.result.state = 'up'; }, /not \{state, url\?, expiresAt\?\}/],
    ['a payment above the quote', (t) => { t.calls[1]!.result.pay[0]!.amountSat = 30001; }, /above the quote's spawnSat/],
    ['a renewal above the month', (t) => { t.calls[4]!.result.pay[0]!.amountSat = 30001; }, /renew for 30 days/],
    ['a payment asked twice', (t) => { t.calls[4]!.result.pay[0]!.id = t.calls[1]!.result.pay[0]!.id; }, /requested twice/],
    ['no destroy', (t) => { t.calls = t.calls.filter((x) => x.call !== 'destroy'); }, /no destroy call/],
    ['never running', (t) => { t.calls = t.calls.filter((x) => x.result.state !== 'running'); }, /running/],
    ['a call the script lacks', (t) => { t.calls[0]!.call = 'fund'; }, /does not export fund/],
  ];
  for (const [what, f, expected] of cases) {
    const problems = mutate(f);
    assert.ok(problems.some((p) => expected.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
  assert.deepEqual(urlProblems('https://user:pw@api.x.test/', ['api.x.test']), ['https://user:pw@api.x.test/ has a user, password or fragment']);
});

void test('credentials billing quotes no satoshis, with the price in fiat, and asks for none', () => {
  const c = PROVIDERS.find((p) => p.script === 'hetzner.js');
  assert.ok(c);
  const { shape, meta, transcript } = load(c);
  assert.equal(meta.billing, 'credentials');
  const t = structuredClone(transcript) as { calls: Array<{ call: string; result: Record<string, unknown> }> };
  const q = t.calls.find((x) => x.call === 'quote');
  const r = t.calls.find((x) => x.call === 'renew');
  assert.ok(q && r);
  q.result.spawnSat = 1000;
  r.result.pay = [{ id: 'i', address: 'bc1q', amountSat: 1 }];
  const problems = transcriptProblems(t, meta, shape.exports);
  assert.ok(problems.some((p) => /credentials billing quotes 0 sat/.test(p)), JSON.stringify(problems));
  assert.ok(problems.some((p) => /billing is credentials/.test(p)), JSON.stringify(problems));
});
