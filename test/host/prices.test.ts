// The host's price sets (src/host/prices.ts): a first set on demand, a new one from the fee rate and the disk's
// fill level at each run of the pricing job, a quote that keeps the set it was made with, and a bounded history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePrices, P2WPKH_DUST_SAT } from '../../src/host/index.ts';
import { hostFixture, storedFile } from './helpers.ts';

function priceSetCount(f: ReturnType<typeof hostFixture>): bigint {
  return (f.db.prepare('SELECT count(*) AS n FROM price_sets').get() as { n: bigint }).n;
}

test('no price set until one is asked for; then one computed from the costs, the fee rate and the disk', async (t) => {
  const f = hostFixture(t);
  assert.equal(f.host.currentPrices(), undefined);
  const p = await f.host.prices();
  assert.equal(priceSetCount(f), 1n);
  assert.deepEqual(f.host.currentPrices(), p);
  const c = f.deps.config;
  const expected = computePrices({
    hostingCostSatPerMonth: c.hostingCostSatPerMonth,
    capacityBytes: c.capacityBytes,
    targetUtilisationBps: c.targetUtilisationBps,
    marginBps: c.marginBps,
    bandwidthCostSatPerGib: c.bandwidthCostSatPerGib,
    usedBytes: 0n,
    feeRateSatPerKvb: 2_000n,
  });
  assert.equal(p.storageMsatPerGibDay, expected.storageMsatPerGibDay);
  assert.equal(p.egressMsatPerGib, expected.egressMsatPerGib);
  assert.equal(p.minimumDepositSat, 136n + P2WPKH_DUST_SAT);
  assert.equal(p.computedAt.getTime(), f.clock.ms);
  assert.deepEqual(p.derivation, { ...expected.explain, usedBytes: '0' });
  assert.deepEqual(await f.host.prices(), p, 'asked again: the same set');
});

test('the pricing job follows the fee rate and the bytes stored', async (t) => {
  const f = hostFixture(t);
  await storedFile(f, Buffer.alloc(1000, 1));
  f.feeRate.satPerKvb = 10_000n;
  f.advance(1000);
  const d = await f.host.recomputePrices();
  assert.equal(d.minimumDepositSat, 680n + P2WPKH_DUST_SAT);
  const p = f.host.currentPrices()!;
  assert.equal(p.minimumDepositSat, d.minimumDepositSat);
  assert.equal(p.feeRateSatPerKvb, 10_000n);
  assert.equal(p.derivation.usedBytes, '1000');
  assert.equal(p.computedAt.getTime(), f.clock.ms);
});

test('a quote keeps its price set while the history stays bounded', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: 10 });
  const first = f.host.currentPrices()!;
  for (let i = 0; i < 1_005; i++) await f.host.recomputePrices();
  // The newest 1001 sets, and the one the quote was made with.
  assert.equal(priceSetCount(f), 1_002n);
  assert.ok(f.db.prepare('SELECT 1 FROM price_sets WHERE id = ?').get(first.id), "the quote's set is kept");
  assert.equal(f.host.uploadStatus(q.id).amountSat, q.amountSat);
});
