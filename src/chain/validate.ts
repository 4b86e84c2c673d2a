/**
 * Checks for what goes to the chain backend (inputs) and what comes back (answers). A chain API
 * is untrusted input (anyone may run one, or sit between us and it): every field is parsed into a known shape here, and anything
 * else becomes CHAIN_BAD_RESPONSE naming the endpoint and the field, never a TypeError later.
 */
import { AgentError } from '../errors/index.ts';
import { MAX_SAT, ceilDiv } from '../money/index.ts';

const HEX32 = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
// Base58 (legacy) and bech32/bech32m (segwit) addresses are alphanumeric; bech32 strings are at
// most 90 characters (BIP173). This is a shape check that keeps paths clean, not a network check.
const ADDRESS = /^[a-zA-Z0-9]{14,90}$/;

/** True for a txid in display byte order: 64 hex digits (either case). */
export function isTxid(value: unknown): value is string {
  return typeof value === 'string' && HEX32.test(value);
}

/** True for a block hash in display byte order: 64 hex digits (either case). */
export function isBlockHash(value: unknown): value is string {
  return typeof value === 'string' && HEX32.test(value);
}

/** True for an even-length hex string (the empty string included: an empty script is valid). */
export function isHex(value: unknown): value is string {
  return typeof value === 'string' && HEX.test(value);
}

// BIP125: a transaction signals that it may be replaced when any of its inputs has an nSequence below this.
const BIP125_FINAL_SEQUENCE = 0xffff_fffe;

/** True when a transaction with these input nSequence values signals replacement (BIP125). */
export function signalsReplacement(inputs: ReadonlyArray<{ sequence: number }>): boolean {
  return inputs.some((i) => i.sequence < BIP125_FINAL_SEQUENCE);
}

/** Input check for a txid argument. @throws AgentError BAD_REQUEST */
export function requireTxid(txid: unknown, name = 'txid'): string {
  if (!isTxid(txid)) throw new AgentError('BAD_REQUEST', `${name} must be 64 hex digits`);
  return txid.toLowerCase();
}

/** Input check for a block hash argument. @throws AgentError BAD_REQUEST */
export function requireBlockHash(hash: unknown): string {
  if (!isBlockHash(hash)) throw new AgentError('BAD_REQUEST', 'block hash must be 64 hex digits');
  return hash.toLowerCase();
}

/** Input check for a block height argument. @throws AgentError BAD_REQUEST */
export function requireHeight(height: unknown): number {
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) {
    throw new AgentError('BAD_REQUEST', 'block height must be a non-negative integer');
  }
  return height;
}

/** Input check for an address argument: only its shape, since it becomes part of a URL path. @throws AgentError BAD_REQUEST */
export function requireAddress(address: unknown): string {
  if (typeof address !== 'string' || !ADDRESS.test(address)) {
    throw new AgentError('BAD_REQUEST', 'address must be a base58 or bech32 address');
  }
  return address;
}

// The largest fee rate accepted from a backend, in sat/vB. A 100 vB transaction at this rate pays
// 1 BTC; no fee market has come within a thousandth of it, so anything above is a broken backend.
export const MAX_FEE_RATE_SAT_PER_VB = 1_000_000;

/**
 * Converts Esplora's float sat/vB into integer sat per 1000 vB, rounding up so a fee computed
 * from it is never below the rate asked for. It works on the number's shortest decimal form
 * (what the JSON said, e.g. "2.007"), because `2.007 * 1000` in binary floating point is
 * 2007.0000000000002 and would round up to a rate one higher than the backend gave.
 * @throws RangeError when `satPerVb` is not a finite number >= 0
 */
export function feeRateToSatPerKvb(satPerVb: number): bigint {
  if (!Number.isFinite(satPerVb) || satPerVb < 0) throw new RangeError('fee rate must be a finite number >= 0');
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(satPerVb));
  if (!m) throw new RangeError(`cannot read fee rate ${satPerVb}`);
  const frac = m[2] ?? '';
  const digits = BigInt(`${m[1] ?? '0'}${frac}`);
  // value = digits * 10^(exp - frac.length); times 1000 for per-kvB.
  const shift = 3 + Number(m[3] ?? '0') - frac.length;
  return shift >= 0 ? digits * 10n ** BigInt(shift) : ceilDiv(digits, 10n ** BigInt(-shift));
}

/** Throws CHAIN_BAD_RESPONSE: `at` is the request and field ("GET /tx/<txid>/status.block_height"), `problem` what is wrong. */
export function badResponse(at: string, problem: string): never {
  throw new AgentError('CHAIN_BAD_RESPONSE', `chain backend: ${at} ${problem}`);
}

/** Parses a JSON body; malformed JSON is a bad response, not a SyntaxError. */
export function parseJson(text: string, at: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return badResponse(at, 'is not valid JSON');
  }
}

export function readObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) badResponse(at, 'is not a JSON object');
  return value as Record<string, unknown>;
}

export function readArray(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) badResponse(at, 'is not a JSON array');
  return value;
}

export function readBoolean(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') badResponse(at, 'is not a boolean');
  return value;
}

/** A JSON integer in [min, max]; floats, strings, unsafe integers and NaN are refused. */
export function readInteger(value: unknown, at: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    badResponse(at, `is not an integer in ${min}..${max}`);
  }
  return value;
}

/** An amount in satoshis: a JSON safe integer in 0..MAX_SAT, returned as bigint. */
export function readSat(value: unknown, at: string): bigint {
  return BigInt(readInteger(value, at, 0, Number(MAX_SAT)));
}

/** A 32-byte hash in display order, normalised to lowercase. */
export function readHash(value: unknown, at: string): string {
  if (!isTxid(value)) badResponse(at, 'is not 64 hex digits');
  return value.toLowerCase();
}

/** An even-length hex string, normalised to lowercase. */
export function readHex(value: unknown, at: string): string {
  if (!isHex(value)) badResponse(at, 'is not hex');
  return value.toLowerCase();
}

export function readString(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.length === 0) badResponse(at, 'is not a non-empty string');
  return value;
}

/** Esplora writes an absent optional field either by omitting it or as null. */
export function readOptional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : read(value);
}
