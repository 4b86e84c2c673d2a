// startWorker (src/process/worker.ts): a worker over IPC that inherits none of the parent's environment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startWorker } from '../../src/process/index.ts';
import { isGone } from '../../src/process/proc.ts';

const ENTRY = fileURLToPath(new URL('./fixture-worker.ts', import.meta.url));
const PARENT = fileURLToPath(new URL('./fixture-worker-parent.ts', import.meta.url));

test('a worker answers over IPC and sees only the environment it is given', async () => {
  process.env.STORJ_TEST_SECRET = 'not-for-workers';
  try {
    const { child } = startWorker(ENTRY, [], { env: { GIVEN: '1' } });
    // A worker holds its parent open only while the caller refs its channel.
    child.channel?.ref();
    child.send({ ping: 1 });
    const [reply] = (await once(child, 'message')) as [{ echo: unknown; env: string[] }];
    assert.deepEqual(reply.echo, { ping: 1 });
    assert.ok(reply.env.includes('GIVEN'));
    assert.ok(!reply.env.includes('STORJ_TEST_SECRET'));
    assert.ok(!reply.env.includes('STORJ_PARENT_FD'), 'watchParent takes its variable away');
    child.ref();
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  } finally {
    delete process.env.STORJ_TEST_SECRET;
  }
});

test('a worker ends by itself after a kill -9 of its parent', async (t) => {
  const parent = spawn(process.execPath, ['--import', 'tsx', PARENT], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => parent.kill('SIGKILL'));
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  assert.ok(Number.isSafeInteger(pid) && pid > 0);
  assert.equal(isGone(pid), false);
  const exited = once(parent, 'exit');
  parent.kill('SIGKILL');
  await exited;
  // Bounded polling: the worker reads EOF on its lifeline and exits.
  for (let i = 0; i < 600 && !isGone(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isGone(pid), true, 'the worker outlived its parent');
});
