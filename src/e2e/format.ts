/**
 * The encrypted file format, version 1 (docs/encryption.md is its specification; this file and the doc must
 * agree, and test/fixtures/e2e-vectors.json holds both to it):
 *
 *   header (54 bytes)  magic "SJEF" | version 1 | log2 of the record size | salt (16) | key check (32)
 *   metadata (1040)    AES-256-GCM of 1024 bytes (plaintext size, name, media type, zero padding), AAD = header
 *   records            AES-256-GCM of each record of the plaintext (2^k bytes, the last one shorter), no AAD
 *
 * Keys: the file key (32 random bytes, only in the link's #fragment) goes through HKDF-SHA256 with the salt into
 * a content key and a key check. Nonces: an 11-byte big-endian counter and a flag byte (0 a record, 1 the final
 * record, 2 the metadata), so a reordered, removed, added or truncated record fails to open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, timingSafeEqual } from 'node:crypto';
import { AgentError } from '../errors/index.ts';
import './errors.ts';

export const MAGIC = Buffer.from('SJEF', 'latin1');
const VERSION = 1;
export const KEY_BYTES = 32;
export const SALT_BYTES = 16;
const KEY_CHECK_BYTES = 32;
export const TAG_BYTES = 16;
export const HEADER_BYTES = MAGIC.length + 1 + 1 + SALT_BYTES + KEY_CHECK_BYTES;
/** The metadata's plaintext is padded to this size, so the ciphertext's size says nothing of the name. */
export const METADATA_BYTES = 1024;
/** Header and sealed metadata: everything before the first record. */
export const PREFIX_BYTES = HEADER_BYTES + METADATA_BYTES + TAG_BYTES;
/**
 * 1 MiB records: 16 bytes of tag per MiB, one record's worth of memory on each side, and one call per MiB into
 * node:crypto or WebCrypto, each of which sets up a cipher and allocates its output per call: with 64 KiB
 * records those per-record costs took about a quarter of the CLI's encryption time (docs/encryption.md,
 * "Choices, and why").
 */
export const DEFAULT_RECORD_LOG2 = 20;
/** What a reader accepts: 64 B (test vectors) to 16 MiB (a bound on the memory a hostile header can ask for). */
const MIN_RECORD_LOG2 = 6;
const MAX_RECORD_LOG2 = 24;

const INFO_CONTENT_KEY = Buffer.from('storj-e2e v1 content key', 'latin1');
const INFO_KEY_CHECK = Buffer.from('storj-e2e v1 key check', 'latin1');

export const FLAG_RECORD = 0;
export const FLAG_FINAL = 1;
export const FLAG_METADATA = 2;

/** What the sealed metadata says: the plaintext's size, and the file's name and media type (empty: none). */
export interface Metadata {
  size: number;
  name: string;
  contentType: string;
}

/** The records' count for `size` plaintext bytes: at least one (an empty file has one empty final record). */
export function recordCount(size: number, recordLog2: number): number {
  // Division by a power of two is exact in binary floating point, so this holds for every safe integer.
  return Math.max(1, Math.ceil(size / 2 ** recordLog2));
}

/** The plaintext length of record `index` of a `size`-byte file. */
export function recordLength(size: number, recordLog2: number, index: number): number {
  return Math.min(2 ** recordLog2, size - index * 2 ** recordLog2);
}

function checkRecordLog2(recordLog2: number): void {
  if (!Number.isInteger(recordLog2) || recordLog2 < MIN_RECORD_LOG2 || recordLog2 > MAX_RECORD_LOG2) {
    throw new AgentError('BAD_REQUEST', `the record size must be 2^${MIN_RECORD_LOG2} to 2^${MAX_RECORD_LOG2} bytes, not 2^${recordLog2}`);
  }
}

/**
 * The size of the encrypted file for `plainSize` bytes of plaintext: a pure function, so a quote can be asked
 * for the ciphertext before a byte is encrypted.
 * @throws AgentError BAD_REQUEST for a size that is not a safe non-negative integer, or a record size out of range
 */
export function ciphertextSize(plainSize: number, recordLog2 = DEFAULT_RECORD_LOG2): number {
  checkRecordLog2(recordLog2);
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) throw new AgentError('BAD_REQUEST', `a plaintext size must be a whole number of bytes, not ${plainSize}`);
  const total = PREFIX_BYTES + plainSize + TAG_BYTES * recordCount(plainSize, recordLog2);
  if (!Number.isSafeInteger(total)) throw new AgentError('BAD_REQUEST', `${plainSize} bytes is too large to encrypt`);
  return total;
}

/** The 96-bit nonce: `counter` as 11 bytes big-endian, then the flag byte. */
export function nonce(counter: number, flag: number): Buffer {
  const n = Buffer.alloc(12);
  // A safe integer fits the last 7 of the counter's 11 bytes.
  n.writeUIntBE(Math.floor(counter / 2 ** 24), 4, 4);
  n.writeUIntBE(counter % 2 ** 24, 8, 3);
  n[11] = flag;
  return n;
}

/** The content key and the key check, from the file key and the header's salt (HKDF-SHA256, RFC 5869). */
export function deriveKeys(key: Uint8Array, salt: Uint8Array): { contentKey: Buffer; keyCheck: Buffer } {
  return {
    contentKey: Buffer.from(hkdfSync('sha256', key, salt, INFO_CONTENT_KEY, KEY_BYTES)),
    keyCheck: Buffer.from(hkdfSync('sha256', key, salt, INFO_KEY_CHECK, KEY_CHECK_BYTES)),
  };
}

/** The 54-byte header. */
export function buildHeader(recordLog2: number, salt: Uint8Array, keyCheck: Uint8Array): Buffer {
  checkRecordLog2(recordLog2);
  return Buffer.concat([MAGIC, Buffer.from([VERSION, recordLog2]), salt, keyCheck]);
}

/**
 * Reads a header and checks `key` against its key check; the header's other bytes are authenticated by the
 * metadata, which is sealed with the header as its AAD.
 * @throws AgentError E2E_BAD_HEADER (not this format, or a version or record size this reader does not know), E2E_WRONG_KEY
 */
export function openHeader(header: Buffer, key: Uint8Array): { recordLog2: number; contentKey: Buffer } {
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new AgentError('E2E_BAD_HEADER', 'these bytes are not an encrypted file (no SJEF header)');
  const version = header[MAGIC.length] ?? 0;
  if (version !== VERSION) throw new AgentError('E2E_BAD_HEADER', `the encrypted file's format is version ${version}; this client reads version ${VERSION}`);
  const recordLog2 = header[MAGIC.length + 1] ?? 0;
  if (recordLog2 < MIN_RECORD_LOG2 || recordLog2 > MAX_RECORD_LOG2) throw new AgentError('E2E_BAD_HEADER', `the header's record size 2^${recordLog2} is out of range`);
  const salt = header.subarray(MAGIC.length + 2, MAGIC.length + 2 + SALT_BYTES);
  const { contentKey, keyCheck } = deriveKeys(key, salt);
  if (!timingSafeEqual(keyCheck, header.subarray(HEADER_BYTES - KEY_CHECK_BYTES, HEADER_BYTES))) {
    throw new AgentError('E2E_WRONG_KEY', "the key does not open this file (check that the link's #key belongs to it)");
  }
  return { recordLog2, contentKey };
}

/** AES-256-GCM of `plain` under `key` and `iv`, its tag appended. */
export function seal(key: Buffer, iv: Buffer, plain: Uint8Array, aad?: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  if (aad) c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

/**
 * Opens what `seal` made.
 * @throws AgentError E2E_TAMPERED when it does not authenticate
 */
export function open(key: Buffer, iv: Buffer, sealed: Buffer, what: string, aad?: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  if (aad) d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const out = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    throw new AgentError('E2E_TAMPERED', `${what} fails authentication: the encrypted file was altered`);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const MEDIA_TYPE = /^[\x20-\x7e]*$/;

/**
 * The metadata's 1024 bytes: size (8, big-endian), name length (2) and UTF-8 name, media type length (2) and its
 * printable ASCII, then zeros.
 * @throws AgentError BAD_REQUEST when the name and media type do not fit, or the media type is not printable ASCII
 */
export function encodeMetadata(m: Metadata): Buffer {
  const name = Buffer.from(m.name, 'utf8');
  if (!MEDIA_TYPE.test(m.contentType)) throw new AgentError('BAD_REQUEST', 'a media type is printable ASCII');
  const type = Buffer.from(m.contentType, 'latin1');
  if (12 + name.length + type.length > METADATA_BYTES) throw new AgentError('BAD_REQUEST', `the file name and media type take ${name.length + type.length} bytes; at most ${METADATA_BYTES - 12} fit`);
  const out = Buffer.alloc(METADATA_BYTES);
  out.writeBigUInt64BE(BigInt(m.size), 0);
  out.writeUInt16BE(name.length, 8);
  name.copy(out, 10);
  out.writeUInt16BE(type.length, 10 + name.length);
  type.copy(out, 12 + name.length);
  return out;
}

/**
 * Reads the metadata's plaintext, strictly (one encoding per metadata, so every reader agrees).
 * @throws AgentError E2E_BAD_HEADER
 */
export function decodeMetadata(b: Buffer): Metadata {
  const bad = (why: string) => new AgentError('E2E_BAD_HEADER', `the encrypted file's metadata is malformed: ${why}`);
  const size = b.readBigUInt64BE(0);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a size above 2^53 - 1');
  const nameLength = b.readUInt16BE(8);
  if (12 + nameLength > METADATA_BYTES) throw bad('the name runs past the end');
  const typeLength = b.readUInt16BE(10 + nameLength);
  const end = 12 + nameLength + typeLength;
  if (end > METADATA_BYTES) throw bad('the media type runs past the end');
  if (b.subarray(end).some((x) => x !== 0)) throw bad('the padding is not zeros');
  let name: string;
  try {
    name = utf8.decode(b.subarray(10, 10 + nameLength));
  } catch {
    throw bad('the name is not UTF-8');
  }
  const contentType = b.subarray(12 + nameLength, end).toString('latin1');
  if (!MEDIA_TYPE.test(contentType)) throw bad('the media type is not printable ASCII');
  return { size: Number(size), name, contentType };
}
