// The payment watcher through reorgs and double spends on a real regtest chain: a counted payment that
// leaves the chain is reversed once, one that only changes blocks is not, and a reorg deeper than the
// stored hashes is an error rather than a guess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Devnet } from '../../src/devnet/index.ts';
import { PaymentWatcher, type EsploraClient } from '../../src/chain/index.ts';
import type { ConfirmationPolicy } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { LaggingChain, RecordingSink, addAddress, memoryDb, paymentOf, withDevnet } from './helpers.ts';
import { ourScripts } from '../helpers/stubs.ts';

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

function watcher(db: Db, policy: ConfirmationPolicy, opts: { mempool?: string[]; keepBlocks?: number } = {}): { w: PaymentWatcher; sink: RecordingSink } {
  const sink = new RecordingSink();
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain, policy, sink, mempoolAddresses: () => opts.mempool ?? [], ...(opts.keepBlocks ? { keepBlocks: opts.keepBlocks } : {}) });
  return { w, sink };
}

test('a reorg that double-spends a counted payment reverses it once, and the totals drop', async (t) => {
  const db = memoryDb(t);
  const victim = addAddress(db);
  const bystander = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 0n });
  await w.sync();
  await devnet.mine(1); // a stored block below the fork point

  const doomed = await devnet.pay(victim, 40_000n);
  const kept = await devnet.pay(bystander, 41_000n);
  await devnet.mine(1);
  const before = await w.sync();
  assert.equal(before.counted, 2);
  assert.deepEqual(w.received(victim), { receivedSat: 40_000n, confirmedSat: 40_000n, countedSat: 40_000n });

  const { height } = await devnet.reorg({ depth: 1, doubleSpend: [doomed] });
  const r = await w.sync();
  assert.equal(r.tip, height);
  assert.equal(r.reorgDepth, 1);
  assert.equal(r.blocks, 2, 'the new branch is connected');
  assert.equal(r.reversed, 1);
  assert.deepEqual(sink.reversed.map((p) => [p.txid, p.address, p.valueSat]), [[doomed, victim, 40_000n]]);
  const row = paymentOf(db, doomed);
  assert.equal(row.state, 'reversed');
  assert.equal(row.block_height, null);
  assert.deepEqual(w.received(victim), { receivedSat: 0n, confirmedSat: 0n, countedSat: 0n });
  assert.ok(!w.unspent().some((u) => u.txid === doomed), 'a reversed payment is no coin of ours');

  // The bystander's payment went back to the mempool: still counted, not reversed, no longer confirmed.
  assert.equal(paymentOf(db, kept).state, 'mempool');
  assert.deepEqual(w.received(bystander), { receivedSat: 41_000n, confirmedSat: 0n, countedSat: 41_000n });

  await devnet.mine(1);
  const later = await w.sync();
  await w.sync();
  assert.equal(later.reversed, 0);
  assert.equal(sink.reversed.length, 1, 'reversed once');
  assert.equal(paymentOf(db, kept).state, 'confirmed');
  assert.deepEqual(sink.counted.map((p) => p.txid).sort(), [doomed, kept].sort(), 'no payment credited twice');
});

test('a reorg without a double spend: the payment goes back to the mempool and confirms again, no reversal', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 0n });
  await w.sync();
  await devnet.mine(1);
  const txid = await devnet.pay(address, 60_000n);
  await devnet.mine(1);
  await w.sync();
  assert.equal(sink.counted.length, 1);

  await devnet.reorg({ depth: 1 });
  const r = await w.sync();
  assert.equal(r.reorgDepth, 1);
  assert.equal(r.reversed, 0);
  assert.equal(sink.reversed.length, 0);
  const row = paymentOf(db, txid);
  assert.equal(row.state, 'mempool');
  assert.equal(row.counted, 1n, 'a payment still in the mempool stays counted: it will confirm again');
  assert.deepEqual(w.received(address), { receivedSat: 60_000n, confirmedSat: 0n, countedSat: 60_000n });

  const { height } = await devnet.mine(1);
  const again = await w.sync();
  assert.equal(again.counted, 0);
  assert.equal(paymentOf(db, txid).state, 'confirmed');
  assert.equal(paymentOf(db, txid).block_height, BigInt(height));
  assert.equal(sink.counted.length, 1, 'no double credit');
  assert.equal(sink.reversed.length, 0);
});

test('an uncounted payment moved to another block by a reorg is counted once at the new height', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 3, zeroConfMaxSat: 0n });
  await w.sync();
  await devnet.mine(1);
  const txid = await devnet.pay(address, 70_000n);
  await devnet.mine(2);
  await w.sync();
  assert.equal(sink.counted.length, 0, 'two confirmations of three');

  // Depth 2 rewinds the payment's block; it returns to the mempool and is mined again two blocks later.
  await devnet.reorg({ depth: 2 });
  const r = await w.sync();
  assert.equal(r.reorgDepth, 2);
  assert.equal(paymentOf(db, txid).state, 'mempool');
  const { height } = await devnet.mine(1);
  await w.sync();
  assert.equal(sink.counted.length, 0);
  await devnet.mine(2);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.blockHeight, p.confirmations]), [[txid, height, 3]]);
});

test('a 0-conf counted payment that is double-spent before confirming is reversed', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 6, zeroConfMaxSat: 10_000n }, { mempool: [address] });
  await w.sync();
  const txid = await devnet.pay(address, 9_000n);
  const seen = await w.sync();
  assert.equal(seen.counted, 1);
  assert.deepEqual(w.received(address), { receivedSat: 9_000n, confirmedSat: 0n, countedSat: 9_000n });

  // A conflicting spend of the same inputs is mined; the payment can never confirm.
  await devnet.reorg({ depth: 0, doubleSpend: [txid] });
  const r = await w.sync();
  assert.equal(r.reorgDepth, 0);
  assert.equal(r.reversed, 1);
  assert.deepEqual(sink.reversed.map((p) => [p.txid, p.confirmations, p.blockHeight]), [[txid, 0, null]]);
  assert.equal(paymentOf(db, txid).state, 'reversed');
  assert.deepEqual(w.received(address), { receivedSat: 0n, confirmedSat: 0n, countedSat: 0n });

  await w.sync();
  assert.equal(sink.reversed.length, 1, 'reversed once');
  assert.equal(sink.counted.length, 1);
});

test('a reorg below the first block ever scanned starts over from there instead of failing', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 0n });
  const anchor = await w.sync(); // one stored block: the tip
  const txid = await devnet.pay(address, 45_000n);
  // Rewinds the anchor block too; the new branch holds no payment until the next block.
  await devnet.reorg({ depth: 1 });
  const r = await w.sync();
  assert.equal(r.reorgDepth, 1);
  const stored = db.prepare('SELECT MIN(height) AS lo, MAX(height) AS hi FROM chain_blocks').get() as { lo: bigint; hi: bigint };
  assert.equal(Number(stored.lo), anchor.tip, 'scanning resumed at the first height');
  assert.equal(Number(stored.hi), devnet.height());
  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => p.txid), [txid]);
});

test('a reorg deeper than keepBlocks is REORG_TOO_DEEP, and nothing is changed', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 0n }, { keepBlocks: 2 });
  await w.sync();
  await devnet.pay(address, 50_000n);
  await devnet.mine(4);
  await w.sync();
  assert.equal(sink.counted.length, 1);
  const blocksBefore = db.prepare('SELECT height, hash FROM chain_blocks ORDER BY height').all();
  assert.equal(blocksBefore.length, 2);

  await devnet.reorg({ depth: 3 });
  await assert.rejects(w.sync(), (e: unknown) => isAgentError(e, 'REORG_TOO_DEEP') && /keepBlocks \(2\)/.test(e.message));
  assert.deepEqual(db.prepare('SELECT height, hash FROM chain_blocks ORDER BY height').all(), blocksBefore);
  assert.equal(sink.reversed.length, 0);
});

test('a backend that falls behind is waited for, not taken for a reorg', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const lagging = new LaggingChain(chain);
  const sink = new RecordingSink();
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain: lagging, policy: { required: 1, zeroConfMaxSat: 0n }, sink, keepBlocks: 3 });
  await w.sync();
  const txid = await devnet.pay(address, 52_000n);
  const { height } = await devnet.mine(3);
  await w.sync();
  assert.equal(sink.counted.length, 1);

  // Its tip is two blocks below ours and its chain matches ours there: nothing is disconnected.
  lagging.lag = 2;
  const r = await w.sync();
  assert.deepEqual({ ...r }, { tip: height, blocks: 0, newPayments: 0, counted: 0, reversed: 0, reorgDepth: 0 });
  assert.equal(paymentOf(db, txid).state, 'confirmed');

  // Below every stored block there is nothing to compare: an error, and nothing changes.
  lagging.lag = 3;
  await assert.rejects(w.sync(), (e: unknown) => isAgentError(e, 'CHAIN_BAD_RESPONSE') && /below every block/.test(e.message));
  assert.equal(paymentOf(db, txid).state, 'confirmed');
  assert.equal(sink.reversed.length, 0);

  lagging.lag = 0;
  await devnet.mine(1);
  const caughtUp = await w.sync();
  assert.equal(caughtUp.blocks, 1);
  assert.equal(caughtUp.reorgDepth, 0);
});
