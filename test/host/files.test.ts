// What a stored file shows (src/host/files.ts): its page with balance, top-up address and funded-until, and
// the headers a download starts with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storageMsatPerDay } from '../../src/ledger/index.ts';
import { bytes, codeOf, DAY, fileRow, hostFixture, storedFile } from './helpers.ts';

const BODY = Buffer.from('a file with a page');

test("a file's page: its balance, its top-up address as a BIP21 URI, and when its balance runs out", async (t) => {
  const f = hostFixture(t, { config: { hostingCostSatPerMonth: 10n ** 12n } });
  const { fileId, quote, sha256 } = await storedFile(f, BODY, { days: 10 });
  const v = f.host.fileView(fileId);
  const row = fileRow(f.db, fileId);
  const daily = storageMsatPerDay(BigInt(BODY.length), f.host.currentPrices()!.storageMsatPerGibDay);
  assert.ok(daily > 0n);
  assert.deepEqual(v, {
    fileId,
    size: BODY.length,
    sha256,
    filename: null,
    contentType: null,
    state: 'active',
    balanceMsat: row.balance_msat,
    address: quote.address,
    bip21: `bitcoin:${quote.address}?label=storj+file+${fileId}`,
    fundedUntil: new Date(f.clock.ms + Number((row.balance_msat * BigInt(DAY)) / daily)),
  });
  assert.ok(v.fundedUntil.getTime() >= f.clock.ms + 10 * DAY, 'ten days were paid for');
  // Charged for a day: the end stays where it was (to rounding).
  f.advance(DAY);
  await f.host.sweep();
  assert.ok(Math.abs(f.host.fileView(fileId).fundedUntil.getTime() - v.fundedUntil.getTime()) < 1000);
});

test('HEAD: the size, hash and type of a stored file; unknown ids are not found', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length, filename: 'page.txt', contentType: 'text/plain' });
  f.pay(q.address, q.amountSat);
  const { fileId, sha256 } = await f.host.putUpload(q.id, q.uploadToken, bytes(BODY));
  assert.deepEqual(f.host.headFile(fileId), { size: BODY.length, sha256, contentType: 'text/plain', filename: 'page.txt', state: 'active' });
  for (const id of ['', 'short', 'A'.repeat(22), `${fileId}x`, fileId.replace(/^./, '/')]) {
    assert.equal(await codeOf(() => f.host.headFile(id)), 'NOT_FOUND', id);
    assert.equal(await codeOf(() => f.host.fileView(id)), 'NOT_FOUND', id);
  }
});
