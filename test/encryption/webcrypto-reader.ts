/**
 * A second reader of the encrypted file format, written from docs/encryption.md alone, on WebCrypto and
 * nothing else a browser lacks (no Buffer, no node:crypto, nothing from src/). The vectors in
 * test/fixtures/e2e-vectors.json must open with it exactly as with src/e2e: that shows the page describes what
 * the CLI writes, and a browser implementation can start from it.
 */
import type { webcrypto } from 'node:crypto';

/** A failure, with the code docs/encryption.md gives it. */
export class ReadError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const { subtle } = globalThis.crypto;
const ascii = (s: string) => new TextEncoder().encode(s);

async function hkdf(key: Uint8Array, salt: Uint8Array, info: string): Promise<Uint8Array> {
  const ikm = await subtle.importKey('raw', key, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: ascii(info) }, ikm, 256));
}

function nonce(counter: number, flag: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(3, BigInt(counter));
  n[11] = flag;
  return n;
}

async function openSealed(key: webcrypto.CryptoKey, iv: Uint8Array, sealed: Uint8Array, what: string, aad?: Uint8Array): Promise<Uint8Array> {
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 128, ...(aad ? { additionalData: aad } : {}) }, key, sealed));
  } catch {
    throw new ReadError('E2E_TAMPERED', `${what} does not open`);
  }
}

function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Reads a whole encrypted file. */
export async function readEncrypted(file: Uint8Array, fileKey: Uint8Array): Promise<{ plaintext: Uint8Array; name: string; contentType: string }> {
  const magic = ascii('SJEF');
  const seen = Math.min(file.length, 4);
  if (!equalConstantTime(file.subarray(0, seen), magic.subarray(0, seen))) throw new ReadError('E2E_BAD_HEADER', 'not SJEF');
  if (file.length < 54) throw new ReadError('E2E_TRUNCATED', 'the header is incomplete');
  if (file[4] !== 1) throw new ReadError('E2E_BAD_HEADER', 'not version 1');
  const k = file[5] ?? 0;
  if (k < 6 || k > 24) throw new ReadError('E2E_BAD_HEADER', 'record size out of range');
  const header = file.subarray(0, 54);
  const salt = header.subarray(6, 22);
  if (!equalConstantTime(await hkdf(fileKey, salt, 'storj-e2e v1 key check'), header.subarray(22, 54))) throw new ReadError('E2E_WRONG_KEY', 'the key check differs');
  const contentKey = await subtle.importKey('raw', await hkdf(fileKey, salt, 'storj-e2e v1 content key'), 'AES-GCM', false, ['decrypt']);

  if (file.length < 54 + 1040) throw new ReadError('E2E_TRUNCATED', 'the metadata is incomplete');
  const meta = await openSealed(contentKey, nonce(0, 2), file.subarray(54, 1094), 'the metadata', header);
  const view = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
  const bigSize = view.getBigUint64(0);
  if (bigSize > BigInt(Number.MAX_SAFE_INTEGER)) throw new ReadError('E2E_BAD_HEADER', 'size above 2^53 - 1');
  const size = Number(bigSize);
  const n = view.getUint16(8);
  if (12 + n > 1024) throw new ReadError('E2E_BAD_HEADER', 'name too long');
  const t = view.getUint16(10 + n);
  if (12 + n + t > 1024) throw new ReadError('E2E_BAD_HEADER', 'media type too long');
  if (meta.subarray(12 + n + t).some((b) => b !== 0)) throw new ReadError('E2E_BAD_HEADER', 'padding not zero');
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(meta.subarray(10, 10 + n));
  } catch {
    throw new ReadError('E2E_BAD_HEADER', 'name not UTF-8');
  }
  const typeBytes = meta.subarray(12 + n, 12 + n + t);
  if (typeBytes.some((b) => b < 0x20 || b > 0x7e)) throw new ReadError('E2E_BAD_HEADER', 'media type not printable ASCII');
  const contentType = String.fromCharCode(...typeBytes);

  const rs = 2 ** k;
  const records = Math.max(1, Math.ceil(size / rs));
  const plaintext = new Uint8Array(size);
  let at = 1094;
  for (let i = 0; i < records; i++) {
    const length = Math.min(rs, size - i * rs);
    if (file.length < at + length + 16) throw new ReadError('E2E_TRUNCATED', `record ${i} is incomplete`);
    plaintext.set(await openSealed(contentKey, nonce(i, i === records - 1 ? 1 : 0), file.subarray(at, at + length + 16), `record ${i}`), i * rs);
    at += length + 16;
  }
  if (file.length > at) throw new ReadError('E2E_TAMPERED', 'bytes after the last record');
  return { plaintext, name, contentType };
}
