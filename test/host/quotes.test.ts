// Quotes on their own (src/host/quotes.ts): the amount asked for, what a quote request may be, the states of an
// upload's payment, and the quotes the watcher polls for and the metrics count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { P2WPKH_DUST_SAT, quoteAmountSat, type Quote } from '../../src/host/index.ts';
import { bytes, codeOf, hostFixture } from './helpers.ts';

test('a quote asks for the days and downloads of its size at the latest prices, and at least the minimum deposit', async (t) => {
  const f = hostFixture(t, { freeBytes: () => Promise.resolve(2n ** 40n) });
  const size = 2 * 1024 ** 3;
  const q = await f.host.createUpload({ size, days: 365, downloads: 3, filename: 'a.bin', contentType: 'application/octet-stream' });
  const prices = f.host.currentPrices();
  assert.ok(prices, 'the first quote computed a price set');
  assert.equal(q.amountSat, quoteAmountSat(BigInt(size), 365n, 3n, prices));
  assert.ok(q.amountSat > prices.minimumDepositSat, 'a year of 2 GiB is more than the minimum');
  // 2 sat/vB x 68 vB to spend the output, plus dust: a tiny file still pays what its output costs to spend.
  const tiny = await f.host.createUpload({ size: 1 });
  assert.equal(tiny.amountSat, 136n + P2WPKH_DUST_SAT);
  assert.equal(tiny.amountSat, prices.minimumDepositSat);
  // Defaults: a day and a download.
  assert.equal((await f.host.createUpload({ size })).amountSat, quoteAmountSat(BigInt(size), 1n, 1n, prices));
});

test('a quote has a fresh address, a BIP21 URI, an expiry, and a token whose hash alone is stored', async (t) => {
  const f = hostFixture(t);
  const a = await f.host.createUpload({ size: 1000 });
  const b = await f.host.createUpload({ size: 1000 });
  assert.notEqual(a.address, b.address);
  assert.notEqual(a.id, b.id);
  assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(a.expiresAt.getTime(), f.clock.ms + f.deps.config.quoteTtlSeconds * 1000);
  const amount = new URL(a.bip21).searchParams.get('amount');
  assert.equal(a.bip21.split('?')[0], `bitcoin:${a.address}`);
  assert.equal(amount, (Number(a.amountSat) / 1e8).toFixed(8).replace(/0+$/, '').replace(/\.$/, ''));
  assert.equal(new URL(a.bip21).searchParams.get('label'), `storj upload ${a.id}`);
  const row = f.db.prepare('SELECT token_hash FROM uploads WHERE id = ?').get(a.id) as { token_hash: Buffer };
  assert.deepEqual(row.token_hash, createHash('sha256').update(a.uploadToken).digest());
  const dump = JSON.stringify(f.db.prepare('SELECT * FROM uploads').all(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  assert.ok(!dump.includes(a.uploadToken), 'the token itself is nowhere in the uploads table');
});

test('a quote request is checked: size, days and downloads, the size limit, a degraded agent and the room on disk', async (t) => {
  let problems: string[] = [];
  let free = 10_000n;
  const f = hostFixture(t, { config: { maxFileSize: 5_000 }, freeBytes: () => Promise.resolve(free), storageProblems: () => Promise.resolve(problems) });
  for (const size of [0, -1, 1.5, Number.NaN, 2 ** 53]) assert.equal(await codeOf(() => f.host.createUpload({ size })), 'BAD_REQUEST', `size ${size}`);
  assert.equal(await codeOf(() => f.host.createUpload({ size: 5_001 })), 'PAYLOAD_TOO_LARGE');
  assert.equal(await codeOf(() => f.host.createUpload({ size: 10, days: 0 })), 'BAD_REQUEST');
  assert.equal(await codeOf(() => f.host.createUpload({ size: 10, days: 1.5 })), 'BAD_REQUEST');
  assert.equal(await codeOf(() => f.host.createUpload({ size: 10, downloads: 0 })), 'BAD_REQUEST');
  problems = ['disk below its reserve'];
  assert.equal(await codeOf(() => f.host.createUpload({ size: 10 })), 'DEGRADED');
  problems = [];
  free = 4_999n;
  assert.equal(await codeOf(() => f.host.createUpload({ size: 5_000 })), 'INSUFFICIENT_STORAGE');
  const rows = f.db.prepare('SELECT count(*) AS n FROM files').get() as { n: bigint };
  assert.equal(rows.n, 0n, 'a refused quote leaves no file and takes no address');
  free = 5_000n;
  await f.host.createUpload({ size: 5_000 });
});

test('the room on disk keeps back the reserve for the database', async (t) => {
  const f = hostFixture(t, { config: { diskReserveBytes: 1_000 }, freeBytes: () => Promise.resolve(3_000n) });
  assert.equal(await codeOf(() => f.host.createUpload({ size: 2_001 })), 'INSUFFICIENT_STORAGE');
  await f.host.createUpload({ size: 2_000 });
});

test('an upload goes awaiting_payment -> paid -> complete, and its fileId only to the token holder', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: 4 });
  assert.equal(await codeOf(() => f.host.uploadStatus('nope')), 'NOT_FOUND');
  assert.equal(await codeOf(() => f.host.uploadStatus('A'.repeat(22))), 'NOT_FOUND');
  assert.deepEqual(f.host.uploadStatus(q.id), { id: q.id, state: 'awaiting_payment', amountSat: q.amountSat, receivedSat: 0n, confirmedSat: 0n });
  f.pay(q.address, q.amountSat - 1n);
  assert.equal(f.host.uploadStatus(q.id).state, 'awaiting_payment');
  assert.equal(f.host.uploadStatus(q.id).receivedSat, q.amountSat - 1n);
  // Seen but not counted (waiting for its confirmations) does not make it paid.
  f.pay(q.address, 1n, { counted: false });
  assert.equal(f.host.uploadStatus(q.id).state, 'awaiting_payment');
  f.pay(q.address, 1n);
  assert.equal(f.host.uploadStatus(q.id).state, 'paid');
  assert.equal(f.host.uploadStatus(q.id, q.uploadToken).fileId, undefined, 'no file before its bytes');
  const put = await f.host.putUpload(q.id, q.uploadToken, bytes(Buffer.from('data')));
  assert.equal(f.host.uploadStatus(q.id).state, 'complete');
  assert.equal(f.host.uploadStatus(q.id).fileId, undefined, 'no token, no fileId');
  assert.equal(f.host.uploadStatus(q.id, 'wrong').fileId, undefined);
  assert.equal(f.host.uploadStatus(q.id, '').fileId, undefined);
  assert.equal(f.host.uploadStatus(q.id, q.uploadToken).fileId, put.fileId);
});

test('an unpaid quote expires; after that it asks for the same service at the prices of the day', async (t) => {
  const f = hostFixture(t);
  const q: Quote = await f.host.createUpload({ size: 100 * 1024 * 1024, days: 10 });
  f.advance(f.deps.config.quoteTtlSeconds * 1000);
  assert.equal(f.host.uploadStatus(q.id).state, 'awaiting_payment', 'honoured up to its expiry');
  f.advance(1);
  assert.equal(f.host.uploadStatus(q.id).state, 'expired');
  assert.equal(f.host.uploadStatus(q.id).amountSat, q.amountSat, 'prices unchanged: the same amount');
  // Fees went up: the minimum deposit (and so a small quote) follows the new price set.
  const small = await f.host.createUpload({ size: 1 });
  f.advance(f.deps.config.quoteTtlSeconds * 1000 + 1);
  f.feeRate.satPerKvb = 20_000n;
  await f.host.recomputePrices();
  assert.equal(f.host.uploadStatus(small.id).amountSat, f.host.currentPrices()!.minimumDepositSat);
  assert.ok(f.host.uploadStatus(small.id).amountSat > small.amountSat);
  // Paid in full at today's amount, an expired quote is paid.
  f.pay(small.address, f.host.uploadStatus(small.id).amountSat);
  assert.equal(f.host.uploadStatus(small.id).state, 'paid');
});

test('open quotes and the addresses polled for mempool payments are pending, unexpired ones only', async (t) => {
  const f = hostFixture(t);
  const ttl = f.deps.config.quoteTtlSeconds * 1000;
  const old = await f.host.createUpload({ size: 4 });
  f.advance(ttl / 2);
  const done = await f.host.createUpload({ size: 4 });
  f.pay(done.address, done.amountSat);
  await f.host.putUpload(done.id, done.uploadToken, bytes(Buffer.from('done')));
  const fresh = await f.host.createUpload({ size: 4 });
  assert.equal(f.host.openQuotes(), 2);
  assert.deepEqual(f.host.mempoolAddresses().sort(), [old.address, fresh.address].sort());
  f.advance(ttl / 2 + 1);
  assert.equal(f.host.openQuotes(), 1, 'the first quote expired');
  // An expired quote is polled no more: a payment to it is still found in its block, every block being scanned whole.
  assert.deepEqual(f.host.mempoolAddresses(), [fresh.address]);
  f.advance(ttl);
  assert.equal(f.host.openQuotes(), 0);
  assert.deepEqual(f.host.mempoolAddresses(), []);
});
