// What a script hands back is checked before the agent sees it (src/sandbox/schemas.ts): a malformed meta or
// result is a failure with a reason, never an exception, and a script that does not load says why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadScript, SandboxSession, type CallName } from '../../src/sandbox/index.ts';
import { fixture, show } from './helpers.ts';

const GOOD = fixture('good.js', { PORT: 8443 });
let session: SandboxSession;

before(async () => {
  const opened = await SandboxSession.open({ source: fixture('hostile.js', { PORT: 1, OTHER: 2 }) });
  assert.ok(opened.ok, show(opened));
  session = opened.session;
});

after(() => session.close());

async function rejected(call: CallName, args: Record<string, unknown>, pattern: RegExp): Promise<void> {
  const out = await session.callJson(call, args);
  assert.ok(!out.ok, `${call} ${show(args)} was accepted: ${show(out)}`);
  assert.equal(out.code, 'SANDBOX_BAD_RESULT', out.reason);
  assert.match(out.reason, pattern);
}

test('malformed quotes are rejected: a fraction, a negative, a string, an unsafe integer, a missing field', async () => {
  await rejected('quote', { plan: 'bad-fraction', days: 30 }, /\/spawnSat/);
  await rejected('quote', { plan: 'bad-negative', days: 30 }, /\/spawnSat/);
  await rejected('quote', { plan: 'bad-string', days: 30 }, /\/spawnSat/);
  await rejected('quote', { plan: 'bad-unsafe', days: 30 }, /\/spawnSat/);
  await rejected('quote', { plan: 'bad-missing', days: 30 }, /termDays/);
});

test('malformed payment requests are rejected: zero, negative, huge or textual amounts, a missing id', async () => {
  for (const plan of ['zero', 'negative', 'huge', 'text']) await rejected('create', { userData: '', plan, days: 1 }, /\/pay\/0\/amountSat/);
  await rejected('create', { userData: '', plan: 'noid', days: 1 }, /\/pay\/0/);
  await rejected('renew', { serverId: 's', days: 1 }, /\/pay/);
});

test('malformed statuses are rejected, values JSON cannot hold included', async () => {
  for (const serverId of ['fraction', 'state', 'extra', 'url', 'string', 'nothing']) await rejected('status', { serverId }, /status returned/);
  for (const serverId of ['cycle', 'bigint', 'tojson']) await rejected('status', { serverId }, /cannot be turned into JSON/);
});

test('a call the script does not export fails with its own code', async () => {
  const out = await session.call('destroy', { serverId: 's' });
  assert.ok(!out.ok);
  assert.equal(out.code, 'SANDBOX_NO_SUCH_CALL');
});

test('a well-formed script loads: its meta and calls', async () => {
  const out = await loadScript(GOOD);
  assert.ok(out.ok, show(out));
  assert.deepEqual(out.meta.hosts, ['127.0.0.1:8443']);
  assert.deepEqual(out.calls, ['quote', 'create', 'status', 'renew', 'destroy']);
});

test('scripts that do not load, or whose meta is malformed, are refused with a reason', async () => {
  const cases: [string, string, RegExp][] = [
    [GOOD.replace("hosts: ['127.0.0.1:8443']", "hosts: ['https://api.example.com/v1']"), 'SANDBOX_BAD_META', /not a plain host/],
    [GOOD.replace("hosts: ['127.0.0.1:8443']", "hosts: ['*.example.com']"), 'SANDBOX_BAD_META', /not a plain host/],
    [GOOD.replace("hosts: ['127.0.0.1:8443']", "hosts: ['user@example.com']"), 'SANDBOX_BAD_META', /not a plain host/],
    [GOOD.replace("hosts: ['127.0.0.1:8443']", "hosts: ['example.com:99999']"), 'SANDBOX_BAD_META', /not a plain host/],
    [GOOD.replace("hosts: ['127.0.0.1:8443']", 'hosts: []'), 'SANDBOX_BAD_META', /hosts/],
    [GOOD.replace("billing: 'invoice'", "billing: 'free'"), 'SANDBOX_BAD_META', /billing/],
    [GOOD.replace("auth: { type: 'bearer' }", "auth: { type: 'header', name: 'bad name' }"), 'SANDBOX_BAD_META', /auth/],
    [GOOD.replace('minTermDays: 1,', 'minTermDays: 1, extra: true,'), 'SANDBOX_BAD_META', /meta is malformed/],
    [GOOD.replace('canDestroy: true', 'canDestroy: false'), 'SANDBOX_BAD_SCRIPT', /canDestroy is false/],
    [GOOD.replace('export async function renew', 'async function renew'), 'SANDBOX_BAD_SCRIPT', /does not export renew/],
    [GOOD.replace("billing: 'invoice'", "billing: 'account'"), 'SANDBOX_BAD_SCRIPT', /does not export fund/],
    [`import fs from 'fs';\n${GOOD}`, 'SANDBOX_BAD_SCRIPT', /imports are not available/],
    [`${GOOD}\nexport const broken = ;`, 'SANDBOX_BAD_SCRIPT', /SyntaxError/],
    [`throw new Error('at load');\n${GOOD}`, 'SANDBOX_BAD_SCRIPT', /at load/],
    [`for (;;) {}\n${GOOD}`, 'SANDBOX_TIMEOUT', /interrupted/],
    [`${GOOD}\nObject.defineProperty(meta, 'hosts', { get() { throw new Error('no'); } });`, 'SANDBOX_BAD_META', /meta: .*Error: no/],
    ['x'.repeat(300 * 1024), 'SANDBOX_BAD_SCRIPT', /larger than/],
  ];
  for (const [source, code, reason] of cases) {
    const out = await loadScript(source, { limits: { cpuMs: 300 } });
    assert.ok(!out.ok, `accepted: ${source.slice(0, 300)}`);
    assert.equal(out.code, code, out.reason);
    assert.match(out.reason, reason);
  }
});
