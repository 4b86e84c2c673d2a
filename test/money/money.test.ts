import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBtc, formatBtc, parseSat, parseMsat, ceilDiv, msatToSatCeil, MAX_SAT } from '../../src/money/index.ts';
import { isAgentError } from '../../src/errors/index.ts';

test('BTC strings convert to satoshis exactly and extra precision is refused, not rounded', () => {
  assert.equal(parseBtc('1'), 100_000_000n);
  assert.equal(parseBtc('0.00000001'), 1n);
  assert.equal(parseBtc('20999999.9769'), 2_099_999_997_690_000n);
  for (const bad of ['0.000000001', '-1', '1e3', '', '.5', '01', '21000000.00000001', 'NaN']) {
    assert.throws(() => parseBtc(bad), (e) => isAgentError(e, 'AMOUNT_INVALID'), bad);
  }
});

test('formatBtc is the inverse of parseBtc and trims zeros for BIP21', () => {
  for (const s of ['0', '1', '0.0001', '12.3456789', '20999999.9769']) assert.equal(formatBtc(parseBtc(s)), s);
  assert.equal(formatBtc(150_000n), '0.0015');
});

test('parseSat accepts integers only, within the supply', () => {
  assert.equal(parseSat(5), 5n);
  assert.equal(parseSat('7'), 7n);
  assert.equal(parseSat(MAX_SAT), MAX_SAT);
  for (const bad of [1.5, -1, '1.0', 'x', null, MAX_SAT + 1n, Number.MAX_SAFE_INTEGER + 2]) {
    assert.throws(() => parseSat(bad), (e) => isAgentError(e, 'AMOUNT_INVALID'), String(bad));
  }
  assert.equal(parseMsat('-15'), -15n);
  assert.throws(() => parseMsat(15), (e) => isAgentError(e, 'AMOUNT_INVALID'));
});

test('charges round up to the next unit', () => {
  assert.equal(ceilDiv(10n, 3n), 4n);
  assert.equal(ceilDiv(9n, 3n), 3n);
  assert.equal(ceilDiv(0n, 3n), 0n);
  assert.equal(ceilDiv(-10n, 3n), -3n);
  assert.equal(msatToSatCeil(1001n), 2n);
  assert.equal(msatToSatCeil(1000n), 1n);
});
