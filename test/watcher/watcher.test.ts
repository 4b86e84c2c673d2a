// The payment watcher on a real regtest chain (bcoin behind the Esplora facade) through the real Esplora
// client: payments found in blocks and in the mempool, the confirmation policy, and a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Devnet } from '../../src/devnet/index.ts';
import { PaymentWatcher, type EsploraClient } from '../../src/chain/index.ts';
import type { ConfirmationPolicy } from '../../src/chain/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import type { Db } from '../../src/db/index.ts';
import { CountingChain, RecordingSink, addAddress, addKey, memoryDb, paymentOf, spendHex, tempDbPath, withDevnet } from './helpers.ts';
import { ourScripts } from '../helpers/stubs.ts';

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

function watcher(db: Db, policy: ConfirmationPolicy, mempoolAddresses: string[] = []): { w: PaymentWatcher; sink: RecordingSink; counting: CountingChain } {
  const sink = new RecordingSink();
  const counting = new CountingChain(chain);
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain: counting, policy, sink, mempoolAddresses: () => mempoolAddresses });
  return { w, sink, counting };
}

test('a payment in a block is counted once, after the required confirmations', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 2, zeroConfMaxSat: 0n });
  // The first pass anchors the watcher at the tip: nothing before it can pay a new address.
  const first = await w.sync();
  assert.equal(first.tip, devnet.height());
  assert.equal(first.blocks, 1);

  const txid = await devnet.pay(address, 50_000n);
  const { height } = await devnet.mine(1);
  const one = await w.sync();
  assert.deepEqual({ ...one }, { tip: height, blocks: 1, newPayments: 1, counted: 0, reversed: 0, reorgDepth: 0 });
  assert.equal(sink.counted.length, 0, 'one confirmation is not enough');
  const row = paymentOf(db, txid);
  assert.equal(row.state, 'confirmed');
  assert.equal(row.block_height, BigInt(height));
  assert.deepEqual(w.received(address), { receivedSat: 50_000n, confirmedSat: 50_000n, countedSat: 0n });

  await devnet.mine(1);
  const two = await w.sync();
  assert.equal(two.counted, 1);
  assert.equal(sink.counted.length, 1);
  assert.deepEqual(sink.counted[0], { txid, vout: Number(row.vout), address, valueSat: 50_000n, blockHeight: height, confirmations: 2 });
  assert.deepEqual(w.received(address), { receivedSat: 50_000n, confirmedSat: 50_000n, countedSat: 50_000n });

  const again = await w.sync();
  assert.equal(again.blocks, 0);
  assert.equal(again.counted, 0);
  assert.equal(sink.counted.length, 1, 'a second sync credits nothing more');
  assert.deepEqual(w.unspent(), [{ txid, vout: Number(row.vout), address, valueSat: 50_000n, confirmed: true }]);
});

test('a small payment to a polled address counts at 0-conf; a large one waits for its confirmations', async (t) => {
  const db = memoryDb(t);
  const small = addAddress(db);
  const large = addAddress(db);
  const { w, sink } = watcher(db, { required: 2, zeroConfMaxSat: 10_000n }, [small, large]);
  await w.sync();

  const smallTx = await devnet.pay(small, 5_000n);
  const largeTx = await devnet.pay(large, 100_000n);
  const seen = await w.sync();
  assert.equal(seen.newPayments, 2);
  assert.equal(seen.counted, 1);
  assert.equal(paymentOf(db, smallTx).state, 'mempool');
  assert.equal(paymentOf(db, largeTx).state, 'mempool');
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations, p.blockHeight]), [[smallTx, 0, null]]);
  assert.deepEqual(w.received(small), { receivedSat: 5_000n, confirmedSat: 0n, countedSat: 5_000n });
  assert.deepEqual(w.received(large), { receivedSat: 100_000n, confirmedSat: 0n, countedSat: 0n });
  // Unconfirmed coins are coins too, marked as such.
  assert.deepEqual(new Set(w.unspent().map((u) => `${u.txid}:${u.confirmed}`)), new Set([`${smallTx}:false`, `${largeTx}:false`]));

  await devnet.mine(1);
  const one = await w.sync();
  assert.equal(one.newPayments, 0, 'the mined payments are the ones already recorded');
  assert.equal(one.counted, 0);
  assert.equal(paymentOf(db, smallTx).state, 'confirmed');
  assert.deepEqual(w.received(large), { receivedSat: 100_000n, confirmedSat: 100_000n, countedSat: 0n });

  await devnet.mine(1);
  const two = await w.sync();
  assert.equal(two.counted, 1);
  assert.deepEqual(sink.counted.map((p) => p.txid), [smallTx, largeTx], 'each payment credited exactly once');
  assert.equal(sink.counted[1]?.confirmations, 2);
});

test('a payment to an address that is not polled for the mempool is found when mined', async (t) => {
  const db = memoryDb(t);
  const polled = addAddress(db);
  const quiet = addAddress(db);
  const { w, sink, counting } = watcher(db, { required: 1, zeroConfMaxSat: 1_000_000n }, [polled]);
  await w.sync();

  const txid = await devnet.pay(quiet, 20_000n);
  const before = await w.sync();
  assert.equal(before.newPayments, 0, 'the mempool is polled only for the polled address');
  assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM payments').get(), { n: 0n });

  counting.reset();
  await devnet.mine(1);
  const mined = await w.sync();
  assert.equal(mined.newPayments, 1);
  assert.equal(mined.counted, 1);
  assert.equal(paymentOf(db, txid).state, 'confirmed');
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.address]), [[txid, quiet]]);
  // The block scan found it; the only address request was the polled address's mempool.
  assert.equal(counting.calls.get('getAddressMempoolTxs'), 1);
  assert.equal(counting.calls.get('getAddressUtxos'), undefined);
});

test('sync never overlaps itself: a concurrent call shares the running pass', async (t) => {
  const db = memoryDb(t);
  const { w, counting } = watcher(db, { required: 1, zeroConfMaxSat: 0n });
  await w.sync();
  await devnet.mine(2);
  counting.reset();
  const a = w.sync();
  const b = w.sync();
  assert.equal(a, b);
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.blocks, 2);
  assert.deepEqual(ra, rb);
  assert.equal(counting.calls.get('getTipHeight'), 1, 'one pass ran');
  assert.equal(counting.calls.get('getBlockRaw'), 2, 'each block was read once');
});

test('restart: payments made and mined while the watcher was down are found, and nothing is credited twice', async (t) => {
  const path = tempDbPath(t);
  const policy = { required: 2, zeroConfMaxSat: 0n };
  let db = openAgentDb(path);
  const a1 = addAddress(db);
  const a2 = addAddress(db);
  const a3 = addAddress(db);
  const first = watcher(db, policy);
  await first.w.sync();
  const tx1 = await devnet.pay(a1, 30_000n);
  await devnet.mine(2);
  await first.w.sync();
  assert.deepEqual(first.sink.counted.map((p) => p.txid), [tx1]);
  const tx2 = await devnet.pay(a2, 31_000n); // in the mempool at shutdown, not polled: unknown to the watcher
  await first.w.sync();
  db.close();

  // While the agent is down: tx2 is mined, tx3 is paid and mined.
  await devnet.mine(2);
  const tx3 = await devnet.pay(a3, 32_000n);
  const { height } = await devnet.mine(1);

  db = openAgentDb(path);
  t.after(() => db.close());
  const second = watcher(db, policy);
  const caughtUp = await second.w.sync();
  assert.equal(caughtUp.tip, height);
  assert.equal(caughtUp.blocks, 3, 'exactly the blocks missed while down');
  assert.equal(caughtUp.newPayments, 2);
  assert.deepEqual(second.sink.counted.map((p) => p.txid), [tx2], 'tx1 was credited before the restart; tx3 has 1 confirmation');
  assert.equal(paymentOf(db, tx3).state, 'confirmed');

  await devnet.mine(1);
  await second.w.sync();
  await second.w.sync();
  assert.deepEqual(second.sink.counted.map((p) => p.txid), [tx2, tx3]);
  for (const txid of [tx1, tx2, tx3]) {
    const row = paymentOf(db, txid);
    assert.equal(row.counted, 1n);
    assert.equal(row.state, 'confirmed');
  }
  assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM payments').get(), { n: 3n });
});

test('chain_blocks keeps only the last keepBlocks blocks', async (t) => {
  const db = memoryDb(t);
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: 1, zeroConfMaxSat: 0n }, sink: new RecordingSink(), keepBlocks: 3 });
  await w.sync();
  const { height } = await devnet.mine(5);
  await w.sync();
  const rows = db.prepare('SELECT height FROM chain_blocks ORDER BY height').all() as Array<{ height: bigint }>;
  assert.deepEqual(rows.map((r) => Number(r.height)), [height - 2, height - 1, height]);
});

test('startHeight: the first pass scans from the given height, finding older payments', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const txid = await devnet.pay(address, 25_000n);
  const { height: paidAt } = await devnet.mine(1);
  const { height } = await devnet.mine(2);
  const sink = new RecordingSink();
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: 3, zeroConfMaxSat: 0n }, sink, startHeight: () => paidAt - 1 });
  const r = await w.sync();
  assert.equal(r.tip, height);
  assert.equal(r.blocks, 4);
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.blockHeight, p.confirmations]), [[txid, paidAt, 3]]);
});

test('the constructor rejects a policy out of range', (t) => {
  const db = memoryDb(t);
  const sink = new RecordingSink();
  assert.throws(() => new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: -1, zeroConfMaxSat: 0n }, sink }), { code: 'CONFIG_INVALID' });
  assert.throws(() => new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: 1, zeroConfMaxSat: -1n }, sink }), { code: 'CONFIG_INVALID' });
  assert.throws(() => new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: 1, zeroConfMaxSat: 0n }, sink, keepBlocks: 0 }), { code: 'CONFIG_INVALID' });
});

test('spends of our coins are recorded, so unspent() is the wallet\'s coin set', async (t) => {
  const db = memoryDb(t);
  const payer = addKey(db);
  const change = addKey(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 0n });
  await w.sync();
  const paid = await devnet.pay(payer.address, 80_000n);
  await devnet.mine(1);
  await w.sync();
  const coin = paymentOf(db, paid);
  assert.deepEqual(w.unspent().map((u) => u.txid), [paid]);

  // The wallet spends the coin to another of its own addresses (as the treasury would, with change).
  const spend = await devnet.submitTx(spendHex(payer, { txid: paid, vout: Number(coin.vout), valueSat: 80_000n }, change.script, 1_000n));
  const { height } = await devnet.mine(1);
  const r = await w.sync();
  assert.equal(r.newPayments, 1);
  assert.equal(paymentOf(db, paid).spent_by, spend);
  assert.deepEqual(w.unspent(), [{ txid: spend, vout: 0, address: change.address, valueSat: 79_000n, confirmed: true }]);
  assert.equal(paymentOf(db, spend).block_height, BigInt(height));
  // Spending does not undo the credit of what was paid in.
  assert.deepEqual(w.received(payer.address), { receivedSat: 80_000n, confirmedSat: 80_000n, countedSat: 80_000n });
  assert.equal(sink.reversed.length, 0);
});

test('a sink that throws rolls its block back: nothing is recorded, and the next pass credits it once', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const sink = new RecordingSink();
  let failing = true;
  const w = new PaymentWatcher({
    db,
    ours: ourScripts(db),
    chain,
    policy: { required: 1, zeroConfMaxSat: 0n },
    sink: {
      onCounted: (p) => {
        if (failing) throw new Error('ledger unavailable');
        sink.onCounted(p);
      },
      onReversed: (p) => sink.onReversed(p),
    },
  });
  await w.sync();
  const txid = await devnet.pay(address, 27_000n);
  const { height } = await devnet.mine(1);
  await assert.rejects(w.sync(), /ledger unavailable/);
  assert.deepEqual(db.prepare('SELECT COUNT(*) AS n FROM payments').get(), { n: 0n });
  assert.deepEqual(db.prepare('SELECT height FROM chain_blocks WHERE height = ?').get(height), undefined, 'the block is not marked as applied');

  failing = false;
  const r = await w.sync();
  assert.equal(r.blocks, 1);
  assert.deepEqual(sink.counted.map((p) => p.txid), [txid]);
  assert.equal(paymentOf(db, txid).counted, 1n);
});
