// The sandbox's limits (src/sandbox/limits.ts): an endless loop is interrupted, a 1 GB allocation and a deep
// recursion hit the memory and stack limits, a sleep past the call's deadline ends the call, a frozen worker is
// killed by the wall clock, and a flood of log output is truncated. The agent's own memory stays where it was.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { SandboxSession } from '../../src/sandbox/index.ts';
import { fixture, show } from './helpers.ts';

const SOURCE = fixture('hostile.js', { PORT: 1, OTHER: 2 });
let session: SandboxSession;

before(async () => {
  const opened = await SandboxSession.open({ source: SOURCE, limits: { cpuMs: 1000 } });
  assert.ok(opened.ok, show(opened));
  session = opened.session;
});

after(() => session.close());

async function expectFailure(plan: string, code: string, s: SandboxSession = session): Promise<string> {
  const out = await s.call('quote', { plan, days: 1 });
  assert.ok(!out.ok, `${plan} succeeded: ${show(out)}`);
  assert.equal(out.code, code, `${plan}: ${out.reason}`);
  return out.reason;
}

test('an endless loop is interrupted once it has used its CPU time', async () => {
  assert.match(await expectFailure('loop', 'SANDBOX_TIMEOUT'), /more than 1000 ms/);
});

test('an endless stream of calls to ctx is interrupted too, though most of its time is spent in them', async () => {
  const out = await session.call('quote', { plan: 'flood', days: 1000 });
  assert.ok(!out.ok, show(out));
  assert.equal(out.code, 'SANDBOX_TIMEOUT', out.reason);
});

test('a 1 GB allocation, in arrays or in one buffer, fails at the memory limit, and the agent\'s RSS stays near its baseline', async () => {
  const baseline = process.memoryUsage().rss;
  const pid = session.pid;
  assert.match(await expectFailure('alloc', 'SANDBOX_OUT_OF_MEMORY'), /memory/);
  assert.match(await expectFailure('buffer', 'SANDBOX_OUT_OF_MEMORY'), /memory/);
  // The worker survives its script's failures, and the next call starts afresh.
  assert.equal(session.pid, pid);
  // The gigabyte never existed, in the worker either: its peak RSS stays far below it (QuickJS's own limit,
  // without the WASM memory's maximum, lets a script filling arrays reach well over a gigabyte).
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(peak !== undefined && Number(peak) * 1024 < 512 * 1024 * 1024, `the worker peaked at ${peak} kB`);
  const ok = await session.call('quote', { plan: 'globals', days: 30 });
  assert.ok(ok.ok, show(ok));
  // A generous bound: the gigabyte was asked of the worker, never of this process.
  const grown = process.memoryUsage().rss - baseline;
  assert.ok(grown < 100 * 1024 * 1024, `the agent grew by ${grown} bytes`);
});

test('a recursion without end fails at the stack limit', async () => {
  assert.match(await expectFailure('recurse', 'SANDBOX_STACK_OVERFLOW'), /stack/);
});

test('a flood of log output is cut at the cap, with a marker', async () => {
  const out = await session.call('quote', { plan: 'flood', days: 10 });
  assert.ok(out.ok, show(out));
  const bytes = out.log.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
  assert.ok(bytes <= 64 * 1024 + 256, `${bytes} bytes of log kept`);
  assert.ok(out.log.length > 10);
  assert.match(out.log.at(-1) ?? '', /^\[log truncated: over 65536 bytes\]$/);
});

test('a call asleep past its deadline ends with a timeout', async () => {
  const opened = await SandboxSession.open({ source: SOURCE, limits: { callMs: 1000, killMs: 60_000 }, sleep: () => new Promise(() => undefined) });
  assert.ok(opened.ok, show(opened));
  try {
    assert.match(await expectFailure('nap', 'SANDBOX_TIMEOUT', opened.session), /did not end within 1000 ms/);
  } finally {
    opened.session.close();
  }
});

test('a worker that stops answering is killed by the wall clock, and the next call gets a new one', async () => {
  let asleep: () => void = () => undefined;
  const sleeping = new Promise<void>((resolve) => (asleep = resolve));
  const opened = await SandboxSession.open({
    source: SOURCE,
    // The worker's own deadline (callMs) must not pass before the test has frozen it, even on a loaded machine.
    limits: { callMs: 2000, killMs: 3000 },
    sleep: () => {
      asleep();
      return new Promise(() => undefined);
    },
  });
  assert.ok(opened.ok, show(opened));
  const s = opened.session;
  try {
    const first = s.pid;
    assert.ok(first !== undefined);
    const call = s.call('quote', { plan: 'nap', days: 30 });
    await sleeping;
    // Frozen, the worker can neither run its own deadline nor answer: only SIGKILL ends it.
    process.kill(first, 'SIGSTOP');
    const out = await call;
    assert.ok(!out.ok);
    assert.equal(out.code, 'SANDBOX_KILLED', out.reason);
    assert.match(out.reason, /within 3000 ms/);
    while (s.pid === first) await tick();
    const again = await s.call('quote', { plan: 'globals', days: 30 });
    assert.ok(again.ok, show(again));
    assert.notEqual(s.pid, first);
  } finally {
    s.close();
  }
});
