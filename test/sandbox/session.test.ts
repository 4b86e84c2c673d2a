// A session's worker (src/sandbox/session.ts) does not hold the agent's process open: an agent that forgets to
// close a session still exits by itself, and the worker ends with it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isGone } from '../../src/process/proc.ts';

const ENTRY = fileURLToPath(new URL('./fixture-open-session.ts', import.meta.url));

test('a session left open neither keeps its process alive nor outlives it', { timeout: 60_000 }, async (t) => {
  const parent = spawn(process.execPath, ['--import', 'tsx', ENTRY], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => parent.kill('SIGKILL'));
  let out = '';
  parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(parent, 'exit')) as [number | null];
  assert.equal(code, 0);
  const pid = Number(out.trim());
  assert.ok(Number.isSafeInteger(pid) && pid > 0, out);
  // Bounded polling: the worker reads EOF on its lifeline and exits.
  for (let i = 0; i < 600 && !isGone(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isGone(pid), true, 'the worker outlived its parent');
});
