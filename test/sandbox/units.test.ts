// The sandbox's pure parts: the payment check (vectors in fixtures/payments.json), the limits, plain hosts and
// the gate every request of a script passes (src/sandbox/gate.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gateRequest, redactResponse } from '../../src/sandbox/gate.ts';
import { checkPayments, DEFAULT_LIMITS, isPlainHost, resolveLimits, type ScriptMeta } from '../../src/sandbox/index.ts';

interface Vector {
  name: string;
  requests: { id: string; address: string; amountSat: string }[];
  quoteSat: string;
  budgetSat: string;
  alreadyPaidIds: string[];
  totalSat?: string;
  reason?: string;
}
const VECTORS = JSON.parse(readFileSync(new URL('./fixtures/payments.json', import.meta.url), 'utf8')) as { valid: Vector[]; invalid: Vector[] };

function check(v: Vector) {
  return checkPayments(v.requests.map((r) => ({ ...r, amountSat: BigInt(r.amountSat) })), { quoteSat: BigInt(v.quoteSat), budgetSat: BigInt(v.budgetSat), alreadyPaidIds: v.alreadyPaidIds });
}

test('checkPayments accepts payments within the quote and budget, each id new', () => {
  for (const v of VECTORS.valid) assert.deepEqual(check(v), { ok: true, totalSat: BigInt(v.totalSat ?? '') }, v.name);
});

test('checkPayments refuses payments above the quote or budget, a repeated id, a zero amount', () => {
  for (const v of VECTORS.invalid) {
    const out = check(v);
    assert.ok(!out.ok, v.name);
    assert.equal(out.code, 'SANDBOX_PAYMENT_REFUSED');
    assert.ok(out.reason.includes(v.reason ?? '?'), `${v.name}: ${out.reason}`);
  }
});

test('limits default, take overrides in range and refuse the rest by name', () => {
  assert.deepEqual(resolveLimits(), DEFAULT_LIMITS);
  assert.equal(resolveLimits({ memoryBytes: 32 * 1024 * 1024 }).memoryBytes, 32 * 1024 * 1024);
  assert.throws(() => resolveLimits({ memoryBytes: 1 }), /memoryBytes/);
  assert.throws(() => resolveLimits({ cpuMs: 1.5 }), /cpuMs/);
  assert.throws(() => resolveLimits({ callMs: 5000, killMs: 5000 }), /killMs must be above callMs/);
});

test('plain hosts', () => {
  for (const h of ['api.hetzner.cloud', 'host:8443', '127.0.0.1:8430', 'a-b.example.com', 'localhost', '10.0.0.255', '3com.example']) assert.ok(isPlainHost(h), h);
  for (const h of ['https://x.com', 'x.com/path', '*.x.com', 'u@x.com', 'X.COM', 'x.com:0', 'x.com:65536', '-x.com', 'x..com', '[::1]:80', 'x.com:', ' x.com', '1.2.3', '256.1.1.1', '01.2.3.4', 'example.com.', 'host:08443', '']) {
    assert.ok(!isPlainHost(h), h);
  }
});

const META: ScriptMeta = {
  provider: 'p', hosts: ['api.example.com', '127.0.0.1:8430', 'alt.example.com:8443'], auth: { type: 'bearer' },
  billing: 'credentials', bootstrap: 'cloud-init', canDestroy: false, minTermDays: 1,
};
const req = (url: string, headers: Record<string, string> = {}) => ({ method: 'GET' as const, url, headers, body: null });

test('the gate lets through declared hosts only, https except on loopback, and attaches the credential', () => {
  const ok = gateRequest(req('https://API.example.com:443/v1/servers?x=1#frag', { authorization: 'mine', 'X-Trace': '1', 'content-length': '9' }), META, 'tok');
  assert.ok(ok.ok);
  assert.deepEqual(ok.request, { method: 'GET', url: 'https://api.example.com/v1/servers?x=1', headers: { 'x-trace': '1', authorization: 'Bearer tok' }, body: null });
  assert.ok(gateRequest(req('http://127.0.0.1:8430/v1/plans'), META, undefined).ok);
  assert.ok(gateRequest(req('https://alt.example.com:8443/'), META, undefined).ok);
  const refused: [string, RegExp][] = [
    ['http://api.example.com/', /https only/],
    ['https://alt.example.com/', /alt\.example\.com is not declared/],
    ['https://api.example.com:8443/', /not declared/],
    ['https://evil.example.com/', /not declared/],
    ['https://u:p@api.example.com/', /user or password/],
    ['not a url', /not a valid URL/],
  ];
  for (const [url, why] of refused) {
    const out = gateRequest(req(url), META, 'tok');
    assert.ok(!out.ok, url);
    assert.match(out.reason, why);
  }
});

test('the gate refuses headers that are not HTTP headers', () => {
  const cases: Record<string, string>[] = [{ 'bad name': 'x' }, { 'x-ok': 'a\r\nInjected: 1' }, { 'x-ok': 'nul\0' }];
  for (const headers of cases) {
    const out = gateRequest(req('https://api.example.com/', headers), META, undefined);
    assert.ok(!out.ok, JSON.stringify(headers));
    assert.match(out.reason, /not a valid HTTP header/);
  }
});

test('answers are scrubbed of the credential', () => {
  assert.deepEqual(redactResponse({ status: 200, headers: { 'x-echo': 'Bearer tok-1' }, body: '{"t":"tok-1","u":"tok-1"}' }, 'tok-1'), {
    status: 200, headers: { 'x-echo': 'Bearer [redacted]' }, body: '{"t":"[redacted]","u":"[redacted]"}',
  });
});
