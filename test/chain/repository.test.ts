// The chain module's SQL lives in src/chain/repository.ts alone and is compiled once, when the payment watcher
// is built: no other file of src/chain prepares a statement, and a pass or a read-side question after the
// constructor prepares nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/modules.ts';
import { PaymentWatcher } from '../../src/chain/index.ts';
import { countCompiles, stubChain, ourScripts } from '../helpers/stubs.ts';
import { AgentError } from '../../src/errors/index.ts';

const CHAIN = join(import.meta.dirname, '..', '..', 'src', 'chain');

test('no file of src/chain but repository.ts prepares or runs SQL', () => {
  const offenders = readdirSync(CHAIN)
    .filter((f) => f.endsWith('.ts') && f !== 'repository.ts')
    .filter((f) => /\bdb\.(prepare|exec|pragma|transaction)\(|['"`]\s*(SELECT|UPDATE|INSERT INTO|DELETE FROM|WITH RECURSIVE)\s/.test(readFileSync(join(CHAIN, f), 'utf8')));
  assert.deepEqual(offenders, []);
});

test('the watcher prepares every statement in its constructor: a pass and its read-side questions prepare none', async (t) => {
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  const seen = countCompiles(db);
  const none = (): never => {
    throw new AgentError('CHAIN_UNAVAILABLE', 'not part of this test');
  };
  const chain = stubChain({ getTipHeight: () => Promise.resolve(10), getAddressMempoolTxs: () => Promise.resolve([]) });
  const w = new PaymentWatcher({
    db,
    ours: ourScripts(db),
    chain,
    policy: { required: 1, zeroConfMaxSat: 1000n },
    sink: { onCounted: none, onReversed: none },
    mempoolAddresses: () => ['bcrt1qpolled'],
    // Above the tip: nothing to fetch, so the pass runs its statements without a block.
    startHeight: () => 11,
  });
  assert.ok(seen.prepared.length > 0, 'the constructor prepares its statements');
  const afterConstructor = seen.prepared.length;
  const result = await w.sync();
  assert.equal(result.blocks, 0);
  assert.deepEqual(w.received('bcrt1qpolled'), { receivedSat: 0n, confirmedSat: 0n, countedSat: 0n });
  assert.equal(w.unconfirmedCountedSat(), 0n);
  assert.deepEqual(w.unspent(), []);
  assert.deepEqual(w.unspentTotals(['bcrt1qpolled']), { confirmedSat: 0n, unconfirmedSat: 0n, coins: 0 });
  assert.equal(w.appliedHeight(), undefined);
  assert.equal(seen.prepared.length, afterConstructor);
});
