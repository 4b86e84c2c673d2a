// Metered downloads (src/host/downloads.ts, src/host/meter.ts): the cost of the bytes asked for is reserved in
// memory before they go, the bytes actually sent are charged once and written to the ledger in group commits,
// a balance that cannot cover a download gets the top-up it needs, holds an earlier version left in the
// database are released uncharged, and charges the database cannot take are not lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { egressMsat, storageMsatPerDay } from '../../src/ledger/index.ts';
import { countCompiles } from '../helpers/stubs.ts';
import { codeOf, DAY, fileRow, hostFixture, readAll, storedFile, type HostFixture } from './helpers.ts';

// Egress dear enough that one download of a few bytes is worth more than the minimum deposit (about 1,100 sat a
// byte). Group commits only when a test asks for them (retryPendingWrites) or when the bytes reach the threshold.
const DEAR = { bandwidthCostSatPerGib: 1_000_000_000_000n, meterBatchMs: 60_000 };
const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

function egressOf(f: HostFixture, fileId: string) {
  return f.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
}

function openDownloads(f: HostFixture): number {
  return Number((f.db.prepare('SELECT count(*) AS n FROM downloads WHERE settled_at IS NULL').get() as { n: bigint }).n);
}

/** A download of the whole file whose client took `sent` bytes (all of them by default) and went away. */
async function downloadWhole(f: HostFixture, fileId: string, sent = BODY.length): Promise<void> {
  const d = await f.host.startDownload(fileId, undefined);
  await d.blob.close();
  d.settle(sent);
}

/** A download an earlier version of the agent held for in the database, and a crash left open. */
function legacyHold(f: HostFixture, fileId: string, msat: bigint): void {
  f.db.prepare("INSERT INTO downloads (id, file_id, held_msat, bytes_requested, started_at) VALUES (?, ?, ?, 1, 0)").run(`old${openDownloads(f)}`, fileId, msat);
  f.db.prepare('UPDATE file_accounts SET held_msat = held_msat + ? WHERE file_id = ?').run(msat, fileId);
}

test('a download reserves the cost of its bytes; settling charges the bytes sent once, written with the group commit', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 2 });
  const price = f.host.currentPrices()!.egressMsatPerGib;
  const cost = egressMsat(BigInt(BODY.length), price);
  const before = fileRow(f.db, fileId).balance_msat;
  const d = await f.host.startDownload(fileId, undefined);
  assert.deepEqual({ start: d.start, end: d.end, size: d.size, partial: d.partial, sha256: d.sha256 }, { start: 0, end: BODY.length - 1, size: BODY.length, partial: false, sha256: d.sha256 });
  assert.equal(f.host.owedMsat(fileId), cost, 'reserved in memory');
  assert.equal(fileRow(f.db, fileId).held_msat, 0n, 'nothing written to hold it');
  assert.equal(fileRow(f.db, fileId).balance_msat, before, 'reserved, not yet charged');
  assert.deepEqual(await readAll(d.blob), BODY);
  d.settle(BODY.length);
  d.settle(BODY.length);
  assert.equal(f.host.owedMsat(fileId), cost, 'charged, waiting for its group commit');
  assert.equal(f.host.pendingSettlements, 1);
  assert.equal(fileRow(f.db, fileId).balance_msat, before, 'not written yet');
  assert.equal(f.host.fileView(fileId).balanceMsat, before - cost, 'the file\'s page shows the charge already');
  assert.deepEqual(f.host.retryPendingWrites(), { written: 1, pending: 0 });
  assert.equal(f.host.owedMsat(fileId), 0n);
  assert.equal(fileRow(f.db, fileId).balance_msat, before - cost);
  assert.deepEqual(egressOf(f, fileId).map((e) => e.amountMsat), [-cost], 'charged once');
  assert.equal(f.events.filter((e) => e.startsWith('egress')).join(), `egress ${BODY.length}`);
  assert.equal(openDownloads(f), 0);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('a range is reserved for its bytes and charged on the bytes sent, never more than asked for', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 2 });
  const price = f.host.currentPrices()!.egressMsatPerGib;
  const d = await f.host.startDownload(fileId, 'bytes=10-19');
  assert.deepEqual({ start: d.start, end: d.end, partial: d.partial }, { start: 10, end: 19, partial: true });
  assert.equal(f.host.owedMsat(fileId), egressMsat(10n, price));
  assert.deepEqual(await readAll(d.blob), BODY.subarray(10, 20));
  d.settle(4); // the client went away after 4 bytes
  f.host.retryPendingWrites();
  assert.deepEqual(egressOf(f, fileId).map((e) => e.amountMsat), [-egressMsat(4n, price)]);
  const e = await f.host.startDownload(fileId, 'bytes=-5');
  assert.deepEqual({ start: e.start, end: e.end }, { start: BODY.length - 5, end: BODY.length - 1 });
  await e.blob.close();
  e.settle(1_000);
  f.host.retryPendingWrites();
  assert.deepEqual(egressOf(f, fileId).at(-1)?.amountMsat, -egressMsat(5n, price), 'capped at the 5 bytes reserved for');
  assert.equal(f.host.owedMsat(fileId), 0n);
  assert.equal(await codeOf(() => f.host.startDownload(fileId, `bytes=${BODY.length}-`)), 'RANGE_NOT_SATISFIABLE');
  assert.equal(f.host.owedMsat(fileId), 0n, 'an unsatisfiable range reserves nothing');
});

test('nothing sent, nothing charged and nothing written: the reservation is given back', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY);
  const before = fileRow(f.db, fileId).balance_msat;
  const changes = f.db.prepare('SELECT total_changes()').pluck().get();
  await downloadWhole(f, fileId, 0);
  assert.equal(f.host.owedMsat(fileId), 0n);
  assert.equal(f.host.pendingSettlements, 0);
  assert.deepEqual(f.host.retryPendingWrites(), { written: 0, pending: 0 });
  assert.equal(f.db.prepare('SELECT total_changes()').pluck().get(), changes, 'no row written');
  assert.equal(fileRow(f.db, fileId).balance_msat, before);
  assert.deepEqual(egressOf(f, fileId), []);
  assert.equal(f.events.filter((e) => e.startsWith('egress')).length, 0);
});

test('a balance that cannot cover the bytes gets INSUFFICIENT_BALANCE with the top-up, and reserves nothing', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId, quote } = await storedFile(f, BODY, { downloads: 1 });
  const price = f.host.currentPrices()!;
  await downloadWhole(f, fileId);
  // Before the group commit: the charge waiting counts against the balance.
  assert.equal(await codeOf(() => f.host.startDownload(fileId, undefined)), 'INSUFFICIENT_BALANCE');
  f.host.retryPendingWrites();
  const row = fileRow(f.db, fileId);
  const cost = egressMsat(BigInt(BODY.length), price.egressMsatPerGib);
  assert.ok(row.balance_msat < cost, 'one download was paid for, and it is spent');
  const err = await f.host.startDownload(fileId, undefined).then(
    () => undefined,
    (e: unknown) => e as { code: string; details: { address: string; amountSat: bigint; bip21: string } },
  );
  assert.equal(err?.code, 'INSUFFICIENT_BALANCE');
  assert.equal(err?.details.address, quote.address);
  const short = (cost - row.balance_msat + 999n) / 1000n;
  assert.equal(err?.details.amountSat, short > price.minimumDepositSat ? short : price.minimumDepositSat);
  assert.match(err?.details.bip21 ?? '', new RegExp(`^bitcoin:${quote.address}\\?amount=`));
  assert.equal(f.host.owedMsat(fileId), 0n);
  // Paying what it asked for is enough.
  f.pay(quote.address, err.details.amountSat);
  await downloadWhole(f, fileId);
  f.host.retryPendingWrites();
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('the top-up asked for while charges wait for their group commit counts them', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 1 });
  await downloadWhole(f, fileId);
  const waiting = await f.host.startDownload(fileId, undefined).then(() => undefined, (e: unknown) => e as { details: { amountSat: bigint } });
  f.host.retryPendingWrites();
  const written = await f.host.startDownload(fileId, undefined).then(() => undefined, (e: unknown) => e as { details: { amountSat: bigint } });
  assert.equal(waiting?.details.amountSat, written?.details.amountSat, 'the same top-up before and after the commit');
});

test('two downloads at once cannot both spend the same balance', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 1 });
  const results = await Promise.allSettled([f.host.startDownload(fileId, undefined), f.host.startDownload(fileId, undefined)]);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(ok.length, 1);
  assert.equal((refused[0]?.reason as { code?: string }).code, 'INSUFFICIENT_BALANCE');
  const d = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof f.host.startDownload>>>).value;
  await d.blob.close();
  d.settle(BODY.length);
  f.host.retryPendingWrites();
  assert.ok(fileRow(f.db, fileId).balance_msat >= 0n);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('downloads, their settlements and the group commit prepare no statement and write nothing until the commit', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 3 });
  const seen = countCompiles(f.db);
  const changes = () => f.db.prepare<[], bigint>('SELECT total_changes()').pluck().get() ?? 0n;
  const before = changes();
  for (let i = 0; i < 2; i++) {
    await downloadWhole(f, fileId);
  }
  assert.equal(changes(), before, 'two downloads, nothing written yet');
  assert.deepEqual(f.host.retryPendingWrites(), { written: 2, pending: 0 });
  assert.ok(changes() > before, 'written by the group commit');
  // The two SELECT total_changes() of this test are its own.
  assert.deepEqual({ prepared: seen.prepared.filter((sql) => !sql.includes('total_changes')), transactions: seen.transactions }, { prepared: [], transactions: 0 });
});

test('charges are written in one transaction once they reach the byte threshold', async (t) => {
  const f = hostFixture(t, { config: { ...DEAR, meterBatchBytes: 3 * BODY.length } });
  const { fileId } = await storedFile(f, BODY, { downloads: 5 });
  const price = f.host.currentPrices()!.egressMsatPerGib;
  const before = fileRow(f.db, fileId).balance_msat;
  const download = () => downloadWhole(f, fileId);
  await download();
  await download();
  assert.equal(f.host.pendingSettlements, 2);
  assert.deepEqual(egressOf(f, fileId), [], 'below the threshold: nothing written');
  await download();
  assert.equal(f.host.pendingSettlements, 0, 'the third reached the threshold: all three written');
  assert.equal(egressOf(f, fileId).length, 3);
  assert.equal(fileRow(f.db, fileId).balance_msat, before - 3n * egressMsat(BigInt(BODY.length), price));
  assert.equal(f.events.filter((e) => e.startsWith('egress')).join(), `egress ${3 * BODY.length}`, 'told once per group');
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('a sweep writes the charges waiting first, so that it charges and freezes whole balances', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 2 });
  await downloadWhole(f, fileId);
  assert.equal(egressOf(f, fileId).length, 0);
  await f.host.sweep();
  assert.equal(egressOf(f, fileId).length, 1);
  assert.equal(f.host.pendingSettlements, 0);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});
test('storage used since the last sweep counts against a download, though not yet charged', async (t) => {
  // Storage dear enough that a day of this small file costs more than the download.
  const f = hostFixture(t, { config: { ...DEAR, hostingCostSatPerMonth: 10n ** 15n, capacityBytes: 1024n ** 3n } });
  const { fileId } = await storedFile(f, BODY, { days: 1, downloads: 1 });
  const prices = f.host.currentPrices()!;
  assert.ok(storageMsatPerDay(BigInt(BODY.length), prices.storageMsatPerGibDay) > egressMsat(BigInt(BODY.length), prices.egressMsatPerGib));
  await downloadWhole(f, fileId, 0);
  // A day's storage and a download were paid for; two days have passed, and no sweep has charged them.
  f.advance(2 * DAY);
  const before = fileRow(f.db, fileId).balance_msat;
  assert.equal(await codeOf(() => f.host.startDownload(fileId, undefined)), 'INSUFFICIENT_BALANCE');
  assert.equal(fileRow(f.db, fileId).balance_msat, before, 'nothing charged by asking');
});

test('a frozen file is not served and asks for its debt; unknown and unfinished files are not found', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId, quote } = await storedFile(f, BODY);
  f.host.paymentSink.onReversed({ txid: 'ff'.repeat(32), vout: 0, address: quote.address, valueSat: quote.amountSat * 2n, blockHeight: null, confirmations: 0 });
  assert.equal(fileRow(f.db, fileId).state, 'frozen');
  const err = await f.host.startDownload(fileId, undefined).then(
    () => undefined,
    (e: unknown) => e as { code: string; details: { amountSat: bigint } },
  );
  assert.equal(err?.code, 'FILE_FROZEN');
  const debt = -fileRow(f.db, fileId).balance_msat;
  assert.ok(err.details.amountSat * 1000n >= debt, 'the top-up covers the debt and the download');
  assert.equal(await codeOf(() => f.host.startDownload('A'.repeat(22), undefined)), 'NOT_FOUND');
  assert.equal(await codeOf(() => f.host.startDownload('../../etc/passwd', undefined)), 'NOT_FOUND');
  const pending = await f.host.createUpload({ size: 3 });
  const pendingFileId = (f.db.prepare('SELECT file_id FROM uploads WHERE id = ?').get(pending.id) as { file_id: string }).file_id;
  assert.equal(await codeOf(() => f.host.startDownload(pendingFileId, undefined)), 'NOT_FOUND');
  assert.equal(await codeOf(() => f.host.headFile(pendingFileId)), 'NOT_FOUND');
});

test('holds an earlier version left in the database are released uncharged at start, once', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 3 });
  const price = f.host.currentPrices()!.egressMsatPerGib;
  legacyHold(f, fileId, egressMsat(BigInt(BODY.length), price));
  const after = f.restart();
  const mine = await after.startDownload(fileId, 'bytes=0-0');
  await mine.blob.close();
  assert.equal(after.releaseStaleHolds(), 1);
  assert.equal(fileRow(f.db, fileId).held_msat, 0n, 'the earlier version\'s hold is released');
  assert.equal(after.owedMsat(fileId), egressMsat(1n, price), 'this process\'s reservation is its own');
  assert.deepEqual(egressOf(f, fileId), [], 'the crash is not charged');
  const row = f.db.prepare('SELECT bytes_sent, settled_at FROM downloads ORDER BY rowid LIMIT 1').get() as { bytes_sent: bigint | null; settled_at: bigint | null };
  assert.deepEqual(row, { bytes_sent: null, settled_at: BigInt(f.clock.ms) });
  assert.equal(after.releaseStaleHolds(), 0, 'released once');
  mine.settle(1);
  after.retryPendingWrites();
  assert.equal(after.owedMsat(fileId), 0n);
  assert.equal(egressOf(f, fileId).length, 1);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('a group commit the database cannot take is kept, still counted, retried until written, and applied once', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY, { downloads: 2 });
  const cost = egressMsat(BigInt(BODY.length), f.host.currentPrices()!.egressMsatPerGib);
  const d = await f.host.startDownload(fileId, undefined);
  await d.blob.close();
  f.db.exec("CREATE TEMP TRIGGER refuse BEFORE INSERT ON ledger_entries BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  d.settle(BODY.length); // does not throw: it runs from a response's close listener
  d.settle(1); // a second call (the response closing after an error) changes nothing
  assert.deepEqual(f.host.retryPendingWrites(), { written: 0, pending: 1 });
  assert.equal(f.host.pendingSettlements, 1);
  assert.ok(f.logs.some((l) => l.includes('not yet written') && l.includes('database or disk is full')));
  assert.ok(!f.logs.some((l) => l.includes(fileId)), 'a file id is a download link: never logged');
  assert.equal(f.host.owedMsat(fileId), cost, 'still counted against the balance');
  f.db.exec('DROP TRIGGER refuse');
  assert.deepEqual(f.host.retryPendingWrites(), { written: 1, pending: 0 });
  assert.deepEqual(f.host.retryPendingWrites(), { written: 0, pending: 0 });
  assert.equal(f.host.pendingSettlements, 0);
  assert.deepEqual(egressOf(f, fileId).map((e) => e.amountMsat), [-cost], 'the bytes of the first call');
  assert.equal(f.host.owedMsat(fileId), 0n);
  assert.deepEqual(f.host.ledger.verifyBalances(), []);
});

test('stale holds that cannot be released at start are released by the retry', async (t) => {
  const f = hostFixture(t, { config: DEAR });
  const { fileId } = await storedFile(f, BODY);
  legacyHold(f, fileId, 5n);
  const after = f.restart();
  f.db.exec("CREATE TEMP TRIGGER refuse BEFORE UPDATE ON downloads BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  assert.throws(() => after.releaseStaleHolds(), /database or disk is full/);
  assert.deepEqual(after.retryPendingWrites(), { written: 0, pending: 1 });
  f.db.exec('DROP TRIGGER refuse');
  assert.deepEqual(after.retryPendingWrites(), { written: 1, pending: 0 });
  assert.equal(fileRow(f.db, fileId).held_msat, 0n);
});
