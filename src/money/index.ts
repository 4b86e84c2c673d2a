/**
 * Money is bigint from end to end: satoshis on chain, millisatoshis (msat) for balances and prices,
 * because a byte-day costs far less than a satoshi. Conversion happens only at JSON and CLI edges,
 * and a string with more precision than the unit allows is rejected, never rounded (as scure-btc-signer does).
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
import { AgentError } from '../errors/index.ts';

export const MSAT_PER_SAT = 1000n;
const SAT_PER_BTC = 100_000_000n;
/** bitcoinjs-lib's bound for an output value: 0..2^63-1 (and Bitcoin's 21e6 BTC supply is far below it). */
export const MAX_SAT = 21_000_000n * SAT_PER_BTC;

const DIGITS = /^(0|[1-9][0-9]*)$/;
const BTC = /^(0|[1-9][0-9]*)(\.([0-9]{1,8}))?$/;

/** Parses a non-negative integer (a JSON number that is a safe integer, a bigint, or a decimal string). @throws AgentError AMOUNT_INVALID */
export function parseSat(value: unknown, field = 'amount'): bigint {
  let out: bigint;
  if (typeof value === 'bigint') out = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) out = BigInt(value);
  else if (typeof value === 'string' && DIGITS.test(value)) out = BigInt(value);
  else throw new AgentError('AMOUNT_INVALID', `${field} must be a non-negative integer number of satoshis`);
  if (out < 0n || out > MAX_SAT) throw new AgentError('AMOUNT_INVALID', `${field} is out of range`);
  return out;
}

/** Parses a decimal msat string (the JSON form of `...Msat` fields). @throws AgentError AMOUNT_INVALID */
export function parseMsat(value: unknown, field = 'amount'): bigint {
  if (typeof value === 'string' && /^-?(0|[1-9][0-9]*)$/.test(value)) return BigInt(value);
  throw new AgentError('AMOUNT_INVALID', `${field} must be a decimal string of millisatoshis`);
}

/** Parses "0.001" BTC into satoshis; more than 8 decimals is an error, not a rounding. @throws AgentError AMOUNT_INVALID */
export function parseBtc(value: string): bigint {
  const m = BTC.exec(value.trim());
  if (!m) throw new AgentError('AMOUNT_INVALID', `"${value}" is not a BTC amount with at most 8 decimals`);
  const whole = BigInt(m[1] ?? '0');
  const frac = BigInt((m[3] ?? '').padEnd(8, '0'));
  const sat = whole * SAT_PER_BTC + frac;
  if (sat > MAX_SAT) throw new AgentError('AMOUNT_INVALID', `${value} BTC is more than can exist`);
  return sat;
}

/** Formats satoshis as a BTC decimal string with trailing zeros trimmed ("0.0001"), as BIP21 wants. */
export function formatBtc(sat: bigint): string {
  const neg = sat < 0n;
  const abs = neg ? -sat : sat;
  const whole = abs / SAT_PER_BTC;
  const frac = (abs % SAT_PER_BTC).toString().padStart(8, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** Integer division rounding up, for charges: the customer pays for any started unit. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('divisor must be positive');
  if (a <= 0n) return a / b; // truncation toward zero is the ceiling for non-positive a
  return (a + b - 1n) / b;
}

/** msat to sat, rounding up (what a payment must send to cover an msat amount). */
export function msatToSatCeil(msat: bigint): bigint {
  return ceilDiv(msat, MSAT_PER_SAT);
}

/** Converts a sat amount to a JSON number, refusing anything that a JSON number cannot hold exactly. */
export function satToJson(sat: bigint): number {
  if (sat > BigInt(Number.MAX_SAFE_INTEGER) || sat < -BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('amount exceeds JSON safe integer range');
  return Number(sat);
}
