// startWorker (src/process/worker.ts): a worker over IPC that inherits none of the parent's environment.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startWorker } from '../../src/process/index.ts';

const ENTRY = fileURLToPath(new URL('./fixture-worker.ts', import.meta.url));

test('a worker answers over IPC and sees only the environment it is given', async () => {
  process.env.STORJ_TEST_SECRET = 'not-for-workers';
  try {
    const { child } = startWorker(ENTRY, [], { env: { GIVEN: '1' } });
    child.send({ ping: 1 });
    const [reply] = (await once(child, 'message')) as [{ echo: unknown; env: string[] }];
    assert.deepEqual(reply.echo, { ping: 1 });
    assert.ok(reply.env.includes('GIVEN'));
    assert.ok(!reply.env.includes('STORJ_TEST_SECRET'));
    assert.ok(!reply.env.includes('STORJ_PARENT_FD'), 'watchParent takes its variable away');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  } finally {
    delete process.env.STORJ_TEST_SECRET;
  }
});
