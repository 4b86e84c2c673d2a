// The node's lock: one operation at a time, in call order, and a failure releases it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mutex } from '../../src/devnet/mutex.ts';

test('operations run one at a time, in call order, and a failed one releases the lock', async () => {
  const lock = new Mutex();
  const events: string[] = [];
  let releaseFirst!: () => void;
  const gate = new Promise<void>((resolve) => {
    releaseFirst = resolve;
  });
  const first = lock.run(async () => {
    events.push('first start');
    await gate;
    events.push('first end');
    return 1;
  });
  const second = lock.run(() => {
    events.push('second');
    return Promise.reject(new Error('boom'));
  });
  const third = lock.run(() => {
    events.push('third');
    return Promise.resolve(3);
  });
  // Let every queued microtask run: only the first may have started while it holds the lock.
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['first start']);
  releaseFirst();
  assert.equal(await first, 1);
  await assert.rejects(second, /boom/);
  assert.equal(await third, 3);
  assert.deepEqual(events, ['first start', 'first end', 'second', 'third']);
});
