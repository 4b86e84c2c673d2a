// Detection cost does not grow with the number of addresses (src/chain/watcher.ts): with 100,000 dormant
// addresses the watcher makes exactly the chain requests it makes with 10, and still finds the payment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Devnet } from '../../src/devnet/index.ts';
import { PaymentWatcher, type EsploraClient } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { CountingChain, RecordingSink, addAddress, addDormantAddresses, memoryDb, paymentOf, withDevnet } from './helpers.ts';
import { ourScripts } from '../helpers/stubs.ts';

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

test('with 100,000 dormant addresses a sync makes the same chain requests as with 10 and finds the payment', async (t) => {
  const few = memoryDb(t);
  const many = memoryDb(t);
  const paid = addAddress(few);
  // The same paid address in both wallets (same script), plus dormant ones: 10 in all, and 100,000 in all.
  const script = (few.prepare('SELECT script FROM wallet_addresses WHERE address = ?').get(paid) as { script: Buffer }).script;
  many.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, ?, ?, 'upload', 0)").run(paid, script);
  addDormantAddresses(few, 9);
  addDormantAddresses(many, 99_999);
  const count = (db: Db): bigint => (db.prepare('SELECT COUNT(*) AS n FROM wallet_addresses').get() as { n: bigint }).n;
  assert.equal(count(few), 10n);
  assert.equal(count(many), 100_000n);

  const setup = (db: Db): { w: PaymentWatcher; sink: RecordingSink; counting: CountingChain } => {
    const sink = new RecordingSink();
    const counting = new CountingChain(chain);
    return { w: new PaymentWatcher({ db, ours: ourScripts(db), chain: counting, policy: { required: 1, zeroConfMaxSat: 0n }, sink }), sink, counting };
  };
  const a = setup(few);
  const b = setup(many);
  await a.w.sync();
  await b.w.sync();
  assert.equal(a.counting.total(), b.counting.total());

  const txid = await devnet.pay(paid, 33_000n);
  await devnet.mine(3);
  a.counting.reset();
  b.counting.reset();
  const ra = await a.w.sync();
  const rb = await b.w.sync();

  for (const [db, r, sink] of [[few, ra, a.sink], [many, rb, b.sink]] as const) {
    assert.equal(r.blocks, 3);
    assert.equal(r.newPayments, 1);
    assert.equal(paymentOf(db, txid).address, paid);
    assert.deepEqual(sink.counted.map((p) => p.txid), [txid]);
  }
  assert.deepEqual(Object.fromEntries(b.counting.calls), Object.fromEntries(a.counting.calls), 'the same requests, method by method');
  // One tip, one hash to check the stored top against the chain, and a hash plus the raw block per new block.
  assert.deepEqual(Object.fromEntries(a.counting.calls), { getTipHeight: 1, getBlockHash: 4, getBlockRaw: 3 });
});
