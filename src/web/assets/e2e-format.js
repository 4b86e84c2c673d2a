/**
 * The encrypted file format of docs/encryption.md (version 1) on WebCrypto: its constants, keys, nonces, sizes and
 * sealed metadata, and the error every failure is. ./e2e.js is the module pages import; it builds on this one.
 */

export const MAGIC = [0x53, 0x4a, 0x45, 0x46]; // "SJEF"
export const VERSION = 1;
export const KEY_BYTES = 32;
export const SALT_BYTES = 16;
export const TAG_BYTES = 16;
export const HEADER_BYTES = 54;
export const METADATA_BYTES = 1024;
/** Header and sealed metadata: everything before the first record. */
export const PREFIX_BYTES = HEADER_BYTES + METADATA_BYTES + TAG_BYTES;
/** 1 MiB records, as the CLI writes (docs/encryption.md, "Choices, and why"). */
export const DEFAULT_RECORD_LOG2 = 20;
export const MIN_RECORD_LOG2 = 6;
export const MAX_RECORD_LOG2 = 24;
export const FLAG_RECORD = 0;
export const FLAG_FINAL = 1;
export const FLAG_METADATA = 2;
/** The sealed name's budget in UTF-8 bytes, as the CLI's (src/cli/commands/upload.ts sealedName). */
const NAME_BYTES = 900;

export const subtle = globalThis.crypto.subtle;
const ascii = (/** @type {string} */ s) => new TextEncoder().encode(s);
const INFO_CONTENT_KEY = ascii('storj-e2e v1 content key');
const INFO_KEY_CHECK = ascii('storj-e2e v1 key check');

/**
 * An error with a stable code (src/e2e/errors.ts's, or the agent's for an HTTP error) and, for the agent's
 * errors, the fields of its body (e.g. amountSat of a 402).
 */
export class E2EError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [details]
   */
  constructor(code, message, details) {
    super(message);
    this.name = 'E2EError';
    this.code = code;
    if (details) this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------------- keys

/** A new file key: 32 random bytes, one per file. It travels only in the link's #fragment. */
export function newFileKey() {
  return globalThis.crypto.getRandomValues(new Uint8Array(KEY_BYTES));
}

/**
 * The key as a link writes it: base64url without padding, 43 characters.
 * @param {Uint8Array} key
 * @returns {string}
 */
export function encodeKey(key) {
  checkKey(key);
  let binary = '';
  for (const b of key) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The key a link's fragment holds. Only the one spelling encodeKey gives is accepted (the 43rd character's two
 * unused bits are zero), as src/e2e/link.ts.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function decodeKey(text) {
  const bad = () => new E2EError('E2E_BAD_KEY', "the link's #fragment is not a file key (32 bytes as 43 base64url characters)");
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(text)) throw bad();
  const binary = atob(`${text.replace(/-/g, '+').replace(/_/g, '/')}=`);
  const key = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (key.length !== KEY_BYTES || encodeKey(key) !== text) throw bad();
  return key;
}

/** @param {Uint8Array} key */
export function checkKey(key) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new E2EError('E2E_BAD_KEY', `a file key is ${KEY_BYTES} bytes`);
}

/**
 * The content key (AES-256-GCM) and the key check, from the file key and the header's salt (HKDF-SHA256).
 * @param {Uint8Array} key
 * @param {Uint8Array} salt
 * @param {KeyUsage} usage
 * @returns {Promise<{ contentKey: CryptoKey, keyCheck: Uint8Array }>}
 */
export async function deriveKeys(key, salt, usage) {
  // Copies: WebCrypto takes only bytes over an ArrayBuffer, and the caller's might be over a SharedArrayBuffer.
  const ikm = await subtle.importKey('raw', new Uint8Array(key), 'HKDF', false, ['deriveBits']);
  const saltCopy = new Uint8Array(salt);
  const bits = (/** @type {Uint8Array<ArrayBuffer>} */ info) => subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: saltCopy, info }, ikm, 256);
  const [content, check] = await Promise.all([bits(INFO_CONTENT_KEY), bits(INFO_KEY_CHECK)]);
  return { contentKey: await subtle.importKey('raw', content, 'AES-GCM', false, [usage]), keyCheck: new Uint8Array(check) };
}

/**
 * The 96-bit nonce: the counter as 11 bytes big-endian, then the flag byte.
 * @param {number} counter
 * @param {number} flag
 */
export function nonce(counter, flag) {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(3, BigInt(counter));
  n[11] = flag;
  return n;
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
export function equalConstantTime(a, b) {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------------- sizes

/**
 * @param {number} size
 * @param {number} recordLog2
 */
export const recordCount = (size, recordLog2) => Math.max(1, Math.ceil(size / 2 ** recordLog2));

/**
 * The plaintext length of record `index`.
 * @param {number} size
 * @param {number} recordLog2
 * @param {number} index
 */
export const recordLength = (size, recordLog2, index) => Math.min(2 ** recordLog2, size - index * 2 ** recordLog2);

/**
 * The encrypted file's size for `plainSize` bytes: the CLI's ciphertextSize (src/e2e/format.ts), so a page can
 * ask for the quote before it encrypts a byte.
 * @param {number} plainSize
 * @returns {number}
 */
export function encryptedSize(plainSize) {
  return sizeWith(plainSize, DEFAULT_RECORD_LOG2);
}

/**
 * @param {number} plainSize
 * @param {number} recordLog2
 */
export function sizeWith(plainSize, recordLog2) {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) throw new E2EError('BAD_REQUEST', `a plaintext size must be a whole number of bytes, not ${plainSize}`);
  const total = PREFIX_BYTES + plainSize + TAG_BYTES * recordCount(plainSize, recordLog2);
  if (!Number.isSafeInteger(total)) throw new E2EError('BAD_REQUEST', `${plainSize} bytes is too large to encrypt`);
  return total;
}

// ---------------------------------------------------------------------------------------------------- metadata

const MEDIA_TYPE = /^[\x20-\x7e]*$/;

/**
 * `name` cut, by whole characters, to the sealed name's budget.
 * @param {string} name
 */
function sealedName(name) {
  const chars = Array.from(name);
  const encoder = new TextEncoder();
  while (encoder.encode(chars.join('')).length > NAME_BYTES) chars.pop();
  return chars.join('');
}

/**
 * The metadata's 1024 bytes: size, name, media type, zeros.
 * @param {number} size
 * @param {string} name
 * @param {string} type
 */
export function encodeMetadata(size, name, type) {
  const n = new TextEncoder().encode(sealedName(name));
  // A media type a browser gives is printable ASCII; anything else is sealed as none rather than refused.
  const t = MEDIA_TYPE.test(type) && type.length <= 100 ? ascii(type) : new Uint8Array(0);
  const out = new Uint8Array(METADATA_BYTES);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(size));
  view.setUint16(8, n.length);
  out.set(n, 10);
  view.setUint16(10 + n.length, t.length);
  out.set(t, 12 + n.length);
  return out;
}

/**
 * Reads the metadata strictly, as src/e2e/format.ts decodeMetadata.
 * @param {Uint8Array} meta
 * @returns {{ size: number, name: string, type: string }}
 */
export function decodeMetadata(meta) {
  const bad = (/** @type {string} */ why) => new E2EError('E2E_BAD_HEADER', `the encrypted file's metadata is malformed: ${why}`);
  const view = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
  const size = view.getBigUint64(0);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a size above 2^53 - 1');
  const n = view.getUint16(8);
  if (12 + n > METADATA_BYTES) throw bad('the name runs past the end');
  const t = view.getUint16(10 + n);
  const end = 12 + n + t;
  if (end > METADATA_BYTES) throw bad('the media type runs past the end');
  if (meta.subarray(end).some((b) => b !== 0)) throw bad('the padding is not zeros');
  let name;
  try {
    name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(meta.subarray(10, 10 + n));
  } catch {
    throw bad('the name is not UTF-8');
  }
  const typeBytes = meta.subarray(12 + n, end);
  if (typeBytes.some((b) => b < 0x20 || b > 0x7e)) throw bad('the media type is not printable ASCII');
  return { size: Number(size), name, type: String.fromCharCode(...typeBytes) };
}
