// The payment sink (src/host/payments.ts): what the watcher counts for a file's address is credited once, a
// reversal debits it once, a payment that comes back after its reversal is credited again, and payments to
// addresses that are not files' are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchedPayment } from '../../src/chain/index.ts';
import { bytes, fileRow, hostFixture, storedFile } from './helpers.ts';

const TX = 'ab'.repeat(32);

test('a counted payment is credited once, a reversal debits it once, and a comeback is credited again', async (t) => {
  const f = hostFixture(t);
  const { fileId, quote } = await storedFile(f, Buffer.from('x'));
  const start = fileRow(f.db, fileId).balance_msat;
  f.events.length = 0;
  const p: WatchedPayment = { txid: TX, vout: 1, address: quote.address, valueSat: 5_000n, blockHeight: 7, confirmations: 1 };
  f.host.paymentSink.onCounted(p);
  f.host.paymentSink.onCounted(p);
  assert.equal(fileRow(f.db, fileId).balance_msat, start + 5_000_000n);
  // The watcher reverses a counted payment once (src/chain/watcher.ts): a reversal is the k-th of k credits.
  f.host.paymentSink.onReversed(p);
  assert.equal(fileRow(f.db, fileId).balance_msat, start);
  assert.equal(f.host.ledger.reversalsOf(fileId, `${TX}:1`), 1n);
  // Mined after all (a reorg dropped it, then it came back): credited again, and can be reversed again.
  f.host.paymentSink.onCounted(p);
  f.host.paymentSink.onCounted(p);
  assert.equal(fileRow(f.db, fileId).balance_msat, start + 5_000_000n);
  f.host.paymentSink.onReversed(p);
  assert.equal(fileRow(f.db, fileId).balance_msat, start);
  const mine = f.host.ledger.entries(fileId).filter((e) => e.ref.startsWith(TX));
  assert.deepEqual(
    mine.map((e) => [e.kind, e.ref, e.amountMsat]),
    [
      ['payment', `${TX}:1/0`, 5_000_000n],
      ['reversal', `${TX}:1/0`, -5_000_000n],
      ['payment', `${TX}:1/1`, 5_000_000n],
      ['reversal', `${TX}:1/1`, -5_000_000n],
    ],
  );
  assert.deepEqual(f.events, ['credited 5000', 'reversed 5000', 'credited 5000', 'reversed 5000']);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test("one output's reversals are not another's: vout 1 and vout 10 of the same transaction", async (t) => {
  const f = hostFixture(t);
  const { fileId, quote } = await storedFile(f, Buffer.from('x'));
  const at = (vout: number): WatchedPayment => ({ txid: TX, vout, address: quote.address, valueSat: 1_000n, blockHeight: 7, confirmations: 1 });
  f.host.paymentSink.onCounted(at(1));
  f.host.paymentSink.onCounted(at(10));
  f.host.paymentSink.onReversed(at(10));
  assert.equal(f.host.ledger.reversalsOf(fileId, `${TX}:10`), 1n);
  assert.equal(f.host.ledger.reversalsOf(fileId, `${TX}:1`), 0n);
  // vout 1 was never reversed: its reversal now undoes its first credit, not a second one.
  f.host.paymentSink.onReversed(at(1));
  assert.deepEqual(
    f.host.ledger
      .entries(fileId)
      .filter((e) => e.kind === 'reversal')
      .map((e) => e.ref),
    [`${TX}:10/0`, `${TX}:1/0`],
  );
});

test("payments to the agent's own addresses are not a file's and are left alone", (t) => {
  const f = hostFixture(t);
  f.db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 999, 'bcrt1qown', x'00', 'receive', 0)").run();
  f.host.paymentSink.onCounted({ txid: TX, vout: 0, address: 'bcrt1qown', valueSat: 9_000n, blockHeight: 1, confirmations: 1 });
  f.host.paymentSink.onReversed({ txid: TX, vout: 0, address: 'bcrt1qown', valueSat: 9_000n, blockHeight: 1, confirmations: 1 });
  assert.equal((f.db.prepare('SELECT count(*) AS n FROM ledger_entries').get() as { n: bigint }).n, 0n);
  assert.deepEqual(f.events, []);
});

test('a payment to a quote not yet uploaded is the opening balance of its file', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: 1 });
  f.pay(q.address, q.amountSat);
  f.pay(q.address, 3n);
  const r = await f.host.putUpload(q.id, q.uploadToken, bytes(Buffer.from('y')));
  assert.equal(fileRow(f.db, r.fileId).balance_msat, (q.amountSat + 3n) * 1000n);
});

test('a file whose payment was reversed before its bytes arrived is born frozen', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: 1 });
  f.pay(q.address, q.amountSat, { txid: TX });
  // The watcher still counts another payment, but the ledger has the first one reversed twice over.
  f.host.paymentSink.onReversed({ txid: 'cd'.repeat(32), vout: 0, address: q.address, valueSat: q.amountSat * 2n, blockHeight: null, confirmations: 0 });
  const r = await f.host.putUpload(q.id, q.uploadToken, bytes(Buffer.from('y')));
  const row = fileRow(f.db, r.fileId);
  assert.equal(row.state, 'frozen');
  assert.equal(row.frozen_at, BigInt(f.clock.ms));
});
