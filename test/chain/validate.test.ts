// The pure checks behind the Esplora client: hash shapes and fee-rate conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feeRateToSatPerKvb, isBlockHash, isHex, isTxid } from '../../src/chain/index.ts';

void test('isTxid and isBlockHash accept exactly 64 hex digits', () => {
  assert.ok(isTxid('ab'.repeat(32)));
  assert.ok(isTxid('AB'.repeat(32)));
  assert.ok(isBlockHash('0'.repeat(64)));
  for (const bad of ['ab'.repeat(31), 'ab'.repeat(33), 'g'.repeat(64), ` ${'a'.repeat(63)}`, 42, null, undefined]) {
    assert.equal(isTxid(bad), false, String(bad));
    assert.equal(isBlockHash(bad), false, String(bad));
  }
});

void test('isHex wants whole bytes', () => {
  assert.ok(isHex(''));
  assert.ok(isHex('00ff'));
  assert.equal(isHex('0'), false);
  assert.equal(isHex('0x00'), false);
  assert.equal(isHex(7), false);
});

void test('fee rates convert exactly from their decimal form, rounding up', () => {
  const cases: Array<[number, bigint]> = [
    [0, 0n],
    [1, 1_000n],
    [87.882, 87_882n],
    [2.007, 2_007n], // 2.007 * 1000 is 2007.0000000000002 in floating point: must not become 2008
    [1.027, 1_027n],
    [0.1, 100n],
    [1.0005, 1_001n],
    [0.0001, 1n],
    [1e-7, 1n],
    [2.5e-10, 1n],
    [123456.789, 123_456_789n],
    [1e21, 10n ** 24n],
  ];
  for (const [rate, want] of cases) assert.equal(feeRateToSatPerKvb(rate), want, String(rate));
  assert.equal(Math.ceil(2.007 * 1000), 2008); // the float way really is wrong
});

void test('fee-rate conversion refuses negative and non-finite rates', () => {
  for (const bad of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => feeRateToSatPerKvb(bad), RangeError);
});
