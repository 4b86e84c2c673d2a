// The host's scheduled work (src/host/retention.ts): the sweep charges stored files for their days and freezes
// the ones that run out; files frozen past the grace period are deleted, and their blobs removed once nothing
// else holds the same bytes, even after a run that stopped half-way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { BlobStore } from '../../src/storage/index.ts';
import { storageMsatPerDay } from '../../src/ledger/index.ts';
import { codeOf, DAY, fileRow, hostFixture, storedFile } from './helpers.ts';

// Storage dear enough that a day of a small file is worth far more than the minimum deposit.
const DEAR = { hostingCostSatPerMonth: 10n ** 15n, capacityBytes: 1024n ** 3n, graceSeconds: 3 * 86_400 };
const BODY = Buffer.from('kept for a while');

test('the sweep charges each stored file a day at a time, never twice for the same time', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { days: 3 });
  const daily = storageMsatPerDay(BigInt(BODY.length), f.host.currentPrices()!.storageMsatPerGibDay);
  const start = fileRow(f.db, fileId).balance_msat;
  assert.equal(await f.host.sweep(), 'charged 0 file(s), froze 0', 'nothing is due yet');
  f.advance(DAY);
  assert.equal(await f.host.sweep(), 'charged 1 file(s), froze 0');
  assert.equal(await f.host.sweep(), 'charged 0 file(s), froze 0');
  assert.equal(fileRow(f.db, fileId).balance_msat, start - daily);
  assert.equal(fileRow(f.db, fileId).charged_until, BigInt(f.clock.ms));
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('a file that runs out is frozen by the sweep, deleted after the grace period, and its blob removed', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId, sha256, quote } = await storedFile(f, BODY, { days: 1 });
  f.advance(2 * DAY);
  assert.equal(await f.host.sweep(), 'charged 1 file(s), froze 1');
  const frozenAt = fileRow(f.db, fileId).frozen_at;
  assert.equal(frozenAt, BigInt(f.clock.ms));
  const view = f.host.fileView(fileId);
  assert.equal(view.state, 'frozen');
  assert.equal(view.deleteAt?.getTime(), f.clock.ms + DEAR.graceSeconds * 1000);
  assert.equal(await codeOf(() => f.host.startDownload(fileId, undefined)), 'FILE_FROZEN');
  f.advance(DEAR.graceSeconds * 1000 - 1);
  assert.equal(await f.host.deleteExpired(), 'deleted 0 file(s), removed 0 blob(s)', 'not before the grace period ends');
  f.advance(1);
  assert.equal(await f.host.deleteExpired(), 'deleted 1 file(s), removed 1 blob(s)');
  assert.equal(await f.blobs.stat(sha256), null);
  assert.equal(fileRow(f.db, fileId).state, 'deleted', 'the row stays, so its link answers 410');
  assert.equal(await codeOf(() => f.host.headFile(fileId)), 'FILE_DELETED');
  assert.equal(await codeOf(() => f.host.startDownload(fileId, undefined)), 'FILE_DELETED');
  assert.equal(f.host.fileView(fileId).state, 'deleted');
  assert.equal(f.host.fileView(fileId).deleteAt?.getTime(), f.clock.ms);
  assert.equal(await f.host.deleteExpired(), 'deleted 0 file(s), removed 0 blob(s)');
  // Its account is closed with it: a deleted file is charged no more, and its balance leaves the total.
  const debt = fileRow(f.db, fileId).balance_msat;
  f.advance(2 * DAY);
  assert.equal(await f.host.sweep(), 'charged 0 file(s), froze 0');
  assert.equal(fileRow(f.db, fileId).balance_msat, debt);
  assert.equal(f.host.ledger.totalBalanceMsat(), 0n);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
  // A top-up after the grace period is too late: the bytes are gone.
  f.pay(quote.address, 1_000n);
  assert.equal(await codeOf(() => f.host.headFile(fileId)), 'FILE_DELETED');
  assert.equal(fileRow(f.db, fileId).state, 'deleted');
});

test('a frozen file paid again before the grace period ends is not deleted', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId, quote } = await storedFile(f, BODY, { days: 1 });
  f.advance(2 * DAY);
  await f.host.sweep();
  assert.equal(fileRow(f.db, fileId).state, 'frozen');
  f.pay(quote.address, (-fileRow(f.db, fileId).balance_msat + 999n) / 1000n);
  assert.equal(fileRow(f.db, fileId).state, 'active');
  f.advance(DEAR.graceSeconds * 1000);
  assert.equal(await f.host.deleteExpired(), 'deleted 0 file(s), removed 0 blob(s)');
});

test('bytes another live file holds are kept when one of their files is deleted', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const short = await storedFile(f, BODY, { days: 1 });
  const long = await storedFile(f, BODY, { days: 30 });
  f.advance(2 * DAY);
  assert.equal(await f.host.sweep(), 'charged 2 file(s), froze 1');
  f.advance(DEAR.graceSeconds * 1000);
  assert.equal(await f.host.deleteExpired(), 'deleted 1 file(s), removed 0 blob(s)');
  assert.equal(fileRow(f.db, short.fileId).state, 'deleted');
  assert.equal(fileRow(f.db, long.fileId).state, 'active');
  assert.ok(await f.blobs.stat(long.sha256));
});

test('a blob left behind by a run that stopped after marking its file deleted is removed by the next run', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId, sha256 } = await storedFile(f, BODY, { days: 1 });
  f.advance(2 * DAY);
  await f.host.sweep();
  f.advance(DEAR.graceSeconds * 1000);
  // The same store, whose delete fails as if the process had died before it removed the blob.
  const failing = new Proxy(f.blobs, {
    get(target, p) {
      if (p === 'delete') return () => Promise.reject(new Error('killed'));
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as BlobStore;
  const dying = f.restart({ blobs: failing });
  await assert.rejects(dying.deleteExpired(), /killed/);
  assert.equal(fileRow(f.db, fileId).state, 'deleted');
  assert.ok(await f.blobs.stat(sha256), 'the blob outlived the run');
  f.advance(DAY / 2);
  assert.equal(await f.host.deleteExpired(), 'deleted 0 file(s), removed 1 blob(s)');
  assert.equal(await f.blobs.stat(sha256), null);
});

test('bytes uploaded again before the deletion job runs are not removed under the new file', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const old = await storedFile(f, BODY, { days: 1 });
  f.advance(2 * DAY);
  await f.host.sweep();
  f.advance(DEAR.graceSeconds * 1000);
  assert.equal(await f.host.deleteExpired(), 'deleted 1 file(s), removed 1 blob(s)');
  const again = await storedFile(f, BODY, { days: 5 });
  assert.equal(again.sha256, createHash('sha256').update(BODY).digest('hex'));
  assert.equal(fileRow(f.db, old.fileId).state, 'deleted');
  assert.equal(await f.host.deleteExpired(), 'deleted 0 file(s), removed 0 blob(s)', 'the deleted file\'s bytes are held again');
  assert.ok(await f.blobs.stat(again.sha256));
});
