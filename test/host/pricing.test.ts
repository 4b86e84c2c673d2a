// Pricing from operating cost (src/host/pricing.ts): the formula, the rise as the disk fills, the minimum deposit,
// and quotes that cover the service asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePrices, quoteAmountSat, serviceCostMsat, P2WPKH_DUST_SAT, bip21, parseRange } from '../../src/host/index.ts';
import { GIB } from '../../src/ledger/index.ts';
import { isAgentError } from '../../src/errors/index.ts';

const base = {
  hostingCostSatPerMonth: 6_000n,
  capacityBytes: 100n * GIB,
  targetUtilisationBps: 7_000n,
  marginBps: 2_000n,
  bandwidthCostSatPerGib: 10n,
  usedBytes: 0n,
  feeRateSatPerKvb: 2_000n,
};

test('price per GiB-day = monthly cost / (usable GiB x utilisation x 30) x (1 + margin), rounded up', () => {
  const p = computePrices(base);
  // 6,000,000 msat / (100 x 0.7 x 30) = 2857.14 -> 2858; x 1.2 = 3429.6 -> 3430
  assert.equal(p.explain.baseMsatPerGibDay, '2858');
  assert.equal(p.storageMsatPerGibDay, 3_430n);
  assert.equal(p.egressMsatPerGib, 12_000n); // 10 sat x 1000 x 1.2
  // 2 sat/vB x 68 vB to spend the output later, plus the P2WPKH dust limit.
  assert.equal(p.minimumDepositSat, 136n + P2WPKH_DUST_SAT);
});

test('a fuller disk raises the price: flat up to the target fill, then up to 3x when full', () => {
  const at = (usedGib: bigint) => computePrices({ ...base, usedBytes: usedGib * GIB }).storageMsatPerGibDay;
  assert.equal(at(50n), at(0n));
  assert.equal(at(70n), at(0n));
  assert.ok(at(85n) > at(70n));
  assert.ok(at(100n) > at(85n));
  assert.equal(at(100n), 3n * at(0n));
  assert.equal(at(150n), at(100n), 'capped');
});

test('a quote covers the days and downloads asked for, and never less than the minimum deposit', () => {
  const p = computePrices({ ...base, hostingCostSatPerMonth: 6_000_000_000n });
  for (const [size, days, downloads] of [
    [1n, 1n, 1n],
    [GIB, 1n, 1n],
    [3n * GIB, 30n, 5n],
  ] as const) {
    const amount = quoteAmountSat(size, days, downloads, p);
    assert.ok(amount * 1000n >= serviceCostMsat(size, days, downloads, p), `${size}`);
    assert.ok(amount >= p.minimumDepositSat);
  }
  assert.equal(quoteAmountSat(1n, 1n, 1n, computePrices(base)), computePrices(base).minimumDepositSat);
});

test('BIP21 URIs carry the amount in BTC', () => {
  assert.equal(bip21('bcrt1qxyz', 150_000n), 'bitcoin:bcrt1qxyz?amount=0.0015');
  assert.equal(bip21('bcrt1qxyz', undefined, 'storj file A'), 'bitcoin:bcrt1qxyz?label=storj+file+A');
});

test('Range headers: single ranges, suffixes, open ends; unsatisfiable ones are 416; garbage is ignored', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-1000', 100), { start: 50, end: 99 });
  assert.equal(parseRange(undefined, 100), undefined);
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'multiple ranges: the whole file');
  assert.equal(parseRange('items=0-1', 100), undefined);
  for (const h of ['bytes=100-', 'bytes=5-4', 'bytes=-0']) {
    assert.throws(() => parseRange(h, 100), (e) => isAgentError(e, 'RANGE_NOT_SATISFIABLE'), h);
  }
});
