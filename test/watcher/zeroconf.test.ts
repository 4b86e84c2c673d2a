// The 0-conf policy of the payment watcher on a real regtest chain (bcoin behind the Esplora facade, through the
// real Esplora client): what counts before its confirmations is capped per address, summed over its outputs and
// top-ups, and across the agent; admission is in a fixed order; a transaction that signals replacement (BIP125)
// or spends an unconfirmed parent never counts unconfirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Devnet } from '../../src/devnet/index.ts';
import { PaymentWatcher, type ConfirmationPolicy, type EsploraClient } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { RecordingSink, addAddress, memoryDb, paymentOf, tempDbPath, withDevnet } from './helpers.ts';
import { ourScripts } from '../helpers/stubs.ts';

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

function watcher(db: Db, policy: ConfirmationPolicy, mempool: string[]): { w: PaymentWatcher; sink: RecordingSink } {
  const sink = new RecordingSink();
  return { w: new PaymentWatcher({ db, ours: ourScripts(db), chain, policy, sink, mempoolAddresses: () => mempool }), sink };
}

const zeroConf = (db: Db, txid: string): bigint => (db.prepare('SELECT zero_conf FROM payments WHERE txid = ?').get(txid) as { zero_conf: bigint }).zero_conf;

test('one address: outputs and top-ups count unconfirmed only up to the cap together; the rest waits for its confirmations', async (t) => {
  const db = memoryDb(t);
  const address = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 10_000n, zeroConfTotalMaxSat: 1_000_000n }, [address]);
  await w.sync();

  // Three payments, each within the cap, together three times over it: the attack of one quote paid in pieces.
  const split = [await devnet.pay(address, 6_000n), await devnet.pay(address, 6_000n), await devnet.pay(address, 6_000n)];
  const first = await w.sync();
  assert.equal(first.newPayments, 3);
  assert.equal(first.counted, 1, 'one piece fits the cap; two together would not');
  // Seen in the same pass, so the outpoint decides: the smallest txid is admitted.
  const [admitted, ...waiting] = [...split].sort();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[admitted, 0]]);
  assert.deepEqual(w.received(address), { receivedSat: 18_000n, confirmedSat: 0n, countedSat: 6_000n });
  assert.equal(w.unconfirmedCountedSat(), 6_000n);

  // A top-up that fits what is left of the cap counts; the waiting pieces still do not fit, and one more sat does not either.
  const topUp = await devnet.pay(address, 4_000n);
  const second = await w.sync();
  assert.equal(second.counted, 1);
  assert.equal(sink.counted.at(-1)?.txid, topUp);
  assert.deepEqual(w.received(address), { receivedSat: 22_000n, confirmedSat: 0n, countedSat: 10_000n });
  const over = await devnet.pay(address, 1_000n);
  assert.equal((await w.sync()).counted, 0);
  assert.equal(w.unconfirmedCountedSat(), 10_000n, 'never more than the cap unconfirmed');

  // Once in a block, everything counts, each payment once, and nothing is unconfirmed any more.
  await devnet.mine(1);
  const mined = await w.sync();
  assert.equal(mined.counted, 3);
  assert.deepEqual(new Set(sink.counted.map((p) => p.txid)), new Set([...split, topUp, over]));
  assert.equal(sink.counted.length, 5);
  for (const txid of waiting) assert.equal(sink.counted.find((p) => p.txid === txid)?.confirmations, 1);
  assert.deepEqual(w.received(address), { receivedSat: 23_000n, confirmedSat: 23_000n, countedSat: 23_000n });
  assert.equal(w.unconfirmedCountedSat(), 0n);

  // A reorg that sends counted payments back to the mempool puts them back in the exposure (they stay counted).
  await devnet.reorg({ depth: 1 });
  await w.sync();
  assert.equal(paymentOf(db, topUp).state, 'mempool');
  assert.equal(w.unconfirmedCountedSat(), 23_000n);
  // ...and while it is that high, a new 0-conf payment elsewhere does not fit the agent-wide cap of this watcher.
  const other = addAddress(db);
  const late = watcher(db, { required: 1, zeroConfMaxSat: 10_000n, zeroConfTotalMaxSat: 25_000n }, [other]);
  await devnet.pay(other, 5_000n);
  assert.equal((await late.w.sync()).counted, 0);
  assert.equal(late.w.received(other).countedSat, 0n);
});

test('the agent-wide cap: two addresses, each within its own cap, together over the total: the later one waits', async (t) => {
  const db = memoryDb(t);
  const a = addAddress(db);
  const b = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 10_000n, zeroConfTotalMaxSat: 15_000n }, [a, b]);
  await w.sync();

  const ta = await devnet.pay(a, 8_000n);
  assert.equal((await w.sync()).counted, 1);
  const tb = await devnet.pay(b, 8_000n);
  assert.equal((await w.sync()).counted, 0, '8,000 + 8,000 is over the total of 15,000');
  assert.deepEqual(w.received(b), { receivedSat: 8_000n, confirmedSat: 0n, countedSat: 0n });
  assert.equal(w.unconfirmedCountedSat(), 8_000n);

  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[ta, 0], [tb, 1]]);
  assert.equal(w.unconfirmedCountedSat(), 0n);
});

test('admission order is fixed: payments seen in the same pass are admitted by outpoint, whatever the order of the polls', async (t) => {
  for (const order of ['forward', 'backward'] as const) {
    const db = memoryDb(t);
    const a = addAddress(db);
    const b = addAddress(db);
    const polled = order === 'forward' ? [a, b] : [b, a];
    const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 10_000n, zeroConfTotalMaxSat: 10_000n }, polled);
    await w.sync();
    const txids = [await devnet.pay(a, 7_000n), await devnet.pay(b, 7_000n)];
    assert.equal((await w.sync()).counted, 1);
    assert.deepEqual(sink.counted.map((p) => p.txid), [[...txids].sort()[0]], order);
    await devnet.mine(1);
    await w.sync();
  }
});

test('a payment that signals replacement (BIP125) never counts unconfirmed; it counts once confirmed', async (t) => {
  const db = memoryDb(t);
  const replaceable = addAddress(db);
  const plain = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 100_000n, zeroConfTotalMaxSat: 100_000n }, [replaceable, plain]);
  await w.sync();

  const rbf = await devnet.pay(replaceable, 5_000n, { rbf: true });
  const ok = await devnet.pay(plain, 5_000n);
  // The devnet's facade gives Esplora's shape: the sequences, from which the client tells replaceability.
  const [seen] = await chain.getAddressMempoolTxs(replaceable);
  assert.equal(seen?.txid, rbf);
  assert.equal(seen?.rbf, true);
  assert.ok(seen?.inputs.every((i) => i.sequence === 0xfffffffd));
  const [plainSeen] = await chain.getAddressMempoolTxs(plain);
  assert.equal(plainSeen?.rbf, false);

  const r = await w.sync();
  assert.equal(r.newPayments, 2);
  assert.deepEqual(sink.counted.map((p) => p.txid), [ok], 'the plain payment of the same size counts; the replaceable one does not');
  assert.equal(zeroConf(db, rbf), 0n);
  assert.deepEqual(w.received(replaceable), { receivedSat: 5_000n, confirmedSat: 0n, countedSat: 0n });
  assert.equal((await w.sync()).counted, 0, 'a later pass does not change its mind');

  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[ok, 0], [rbf, 1]]);
});

test('a payment spending an unconfirmed parent never counts unconfirmed; it counts once confirmed', async (t) => {
  const db = memoryDb(t);
  const child = addAddress(db);
  const plain = addAddress(db);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 100_000n, zeroConfTotalMaxSat: 100_000n }, [child, plain]);
  await w.sync();

  const orphanable = await devnet.pay(child, 5_000n, { unconfirmedParent: true });
  const ok = await devnet.pay(plain, 5_000n);
  const [seen] = await chain.getAddressMempoolTxs(child);
  const parent = seen?.inputs[0]?.txid ?? '';
  assert.equal(seen?.rbf, false);
  assert.equal((await chain.getTxStatus(parent)).confirmed, false, 'its parent is in the mempool');

  await w.sync();
  assert.deepEqual(sink.counted.map((p) => p.txid), [ok]);
  assert.equal(zeroConf(db, orphanable), 0n);
  assert.deepEqual(w.received(child), { receivedSat: 5_000n, confirmedSat: 0n, countedSat: 0n });

  // Parent and child are mined together; in its block the child counts like any payment.
  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[ok, 0], [orphanable, 1]]);
});

test('a payment recorded unconfirmed before the 0-conf verdict was kept (migration 6) waits for its confirmations', async (t) => {
  const path = tempDbPath(t);
  const old = openAgentDb(path, { legacy: 5 });
  const address = addAddress(old);
  const txid = await devnet.pay(address, 5_000n);
  const [tx] = await chain.getAddressMempoolTxs(address);
  const vout = tx?.outputs.findIndex((o) => o.address === address) ?? -1;
  old
    .prepare("INSERT INTO payments (txid, vout, address, value_sat, state, counted, first_seen_at, updated_at) VALUES (?, ?, ?, 5000, 'mempool', 0, 0, 0)")
    .run(txid, vout, address);
  old.close();

  const db = openAgentDb(path);
  t.after(() => db.close());
  assert.equal(zeroConf(db, txid), 0n);
  const { w, sink } = watcher(db, { required: 1, zeroConfMaxSat: 100_000n, zeroConfTotalMaxSat: 100_000n }, [address]);
  await w.sync();
  assert.equal(sink.counted.length, 0, 'seen again in the mempool, it keeps the verdict it was recorded with');
  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[txid, 1]]);
});

test('an address that may not count early (an investor\'s deposit) waits for its confirmations even when polled and within the caps', async (t) => {
  const db = memoryDb(t);
  const upload = addAddress(db);
  const deposit = addAddress(db);
  const sink = new RecordingSink();
  const w = new PaymentWatcher({
    db, ours: ourScripts(db), chain, sink,
    policy: { required: 1, zeroConfMaxSat: 1_000_000n, zeroConfTotalMaxSat: 1_000_000n },
    // Both polled, as when a transaction paying a quote's address also pays a deposit address.
    mempoolAddresses: () => [upload, deposit],
    zeroConfAllowed: (address) => address !== deposit,
  });
  await w.sync();
  const toUpload = await devnet.pay(upload, 5_000n);
  const toDeposit = await devnet.pay(deposit, 5_000n);
  const seen = await w.sync();
  assert.equal(seen.newPayments, 2);
  assert.deepEqual(sink.counted.map((p) => p.txid), [toUpload], 'only the upload counts unconfirmed');
  assert.equal(zeroConf(db, toDeposit), 0n);
  await devnet.mine(1);
  await w.sync();
  assert.deepEqual(sink.counted.map((p) => [p.txid, p.confirmations]), [[toUpload, 0], [toDeposit, 1]]);
});
