/**
 * The test vectors of the encrypted file format (docs/encryption.md), as data: test/fixtures/e2e-vectors.json.
 * They were made once by this file, from fixed keys and salts, with src/e2e; test/encryption/vectors.test.ts
 * checks that src/e2e still makes every valid vector byte for byte, and that both src/e2e and an independent
 * WebCrypto reader (./webcrypto-reader.ts) open the valid ones and refuse the invalid ones with the same code.
 *
 * Regenerate (only when the format's version changes): `npx tsx test/encryption/vectors.ts --write`
 */
import { writeFileSync } from 'node:fs';
import { encrypt } from '../../src/e2e/index.ts';
import { buildHeader, deriveKeys, encodeMetadata, FLAG_METADATA, FLAG_RECORD, nonce, seal } from '../../src/e2e/format.ts';

export const VECTORS_PATH = new URL('../fixtures/e2e-vectors.json', import.meta.url);

interface ValidVector {
  description: string;
  /** base64url, as in a link */
  key: string;
  /** hex */
  salt: string;
  recordLog2: number;
  name: string;
  contentType: string;
  /** hex */
  plaintext: string;
  /** hex */
  ciphertext: string;
}

interface InvalidVector {
  description: string;
  key: string;
  ciphertext: string;
  error: string;
}

export interface Vectors {
  comment: string;
  valid: ValidVector[];
  invalid: InvalidVector[];
}

/** Fixed bytes: 0, 1, 2 ... from `start`. */
const counting = (length: number, start: number) => Buffer.from(Array.from({ length }, (_, i) => (start + i) & 0xff));
/** Plaintext that is not all one value, so a misplaced record shows. */
const pattern = (length: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff));

const KEY = counting(32, 0);
const SALT = counting(16, 0xa0);
const OTHER_KEY = counting(32, 0x40);

interface Case {
  description: string;
  recordLog2: number;
  name: string;
  contentType: string;
  plaintext: Buffer;
}

const CASES: Case[] = [
  { description: 'an empty file, no name: one empty final record', recordLog2: 16, name: '', contentType: '', plaintext: Buffer.alloc(0) },
  { description: 'one byte, with a name and a media type', recordLog2: 16, name: 'a.txt', contentType: 'text/plain', plaintext: Buffer.from('x') },
  { description: 'exactly one record (64-byte records): one full final record', recordLog2: 6, name: 'one-record.bin', contentType: '', plaintext: pattern(64) },
  { description: 'one record and one byte (64-byte records): a full record, then a final record of one byte', recordLog2: 6, name: 'one-record-plus-one.bin', contentType: '', plaintext: pattern(65) },
  { description: 'several records (64-byte records): three full records, then a final record of 8 bytes', recordLog2: 6, name: 'several.bin', contentType: 'application/octet-stream', plaintext: pattern(200) },
  { description: 'three full records (64-byte records), the last of them final', recordLog2: 6, name: 'three.bin', contentType: '', plaintext: pattern(192) },
  { description: 'a non-ASCII name (Latin, CJK, an emoji outside the BMP)', recordLog2: 16, name: 'naïve résumé 日本語 🎉.pdf', contentType: 'application/pdf', plaintext: pattern(10) },
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const flip = (b: Buffer, at: number) => {
  const c = Buffer.from(b);
  c[at] = (c[at] ?? 0) ^ 0x01;
  return c;
};

/** The invalid vectors, each made from the several-records vector (records of 80, 80, 80 and 24 bytes from 1094). */
function invalidCases(good: Buffer): Omit<InvalidVector, 'key'>[] {
  const r = (i: number) => good.subarray(1094 + 80 * i, 1094 + 80 * (i + 1));
  const prefix = good.subarray(0, 1094);
  const last = good.subarray(1094 + 240);
  const out: Array<[string, Buffer, string]> = [
    ['an empty input', Buffer.alloc(0), 'E2E_TRUNCATED'],
    ['cut inside the header', good.subarray(0, 30), 'E2E_TRUNCATED'],
    ['cut inside the metadata', good.subarray(0, 600), 'E2E_TRUNCATED'],
    ['cut inside a record', good.subarray(0, 1094 + 100), 'E2E_TRUNCATED'],
    ['the last record removed (cut at a record boundary)', good.subarray(0, 1094 + 240), 'E2E_TRUNCATED'],
    ['another magic', flip(good, 0), 'E2E_BAD_HEADER'],
    ['version 2', Buffer.concat([good.subarray(0, 4), Buffer.from([2]), good.subarray(5)]), 'E2E_BAD_HEADER'],
    ['a record size of 2^25', Buffer.concat([good.subarray(0, 5), Buffer.from([25]), good.subarray(6)]), 'E2E_BAD_HEADER'],
    ['a record size of 2^7 instead of 2^6 (the header is the metadata\'s AAD)', Buffer.concat([good.subarray(0, 5), Buffer.from([7]), good.subarray(6)]), 'E2E_TAMPERED'],
    ['a bit of the salt flipped', flip(good, 10), 'E2E_WRONG_KEY'],
    ['a bit of the key check flipped', flip(good, 40), 'E2E_WRONG_KEY'],
    ['a bit of the sealed metadata flipped', flip(good, 300), 'E2E_TAMPERED'],
    ['a bit of the metadata\'s tag flipped', flip(good, 1093), 'E2E_TAMPERED'],
    ['a bit of record 0 flipped', flip(good, 1100), 'E2E_TAMPERED'],
    ['a bit of the last record\'s tag flipped', flip(good, good.length - 1), 'E2E_TAMPERED'],
    ['records 1 and 2 swapped', Buffer.concat([prefix, r(0), r(2), r(1), last]), 'E2E_TAMPERED'],
    ['record 1 removed', Buffer.concat([prefix, r(0), r(2), last]), 'E2E_TAMPERED'],
    ['record 1 twice', Buffer.concat([prefix, r(0), r(1), r(1), r(2), last]), 'E2E_TAMPERED'],
    ['one byte after the last record', Buffer.concat([good, Buffer.from([0])]), 'E2E_TAMPERED'],
    ['a whole record after the last record', Buffer.concat([good, r(0)]), 'E2E_TAMPERED'],
  ];
  return out.map(([description, bytes, error]) => ({ description, ciphertext: hex(bytes), error }));
}

/**
 * A file of 64 bytes in 64-byte records whose one record was sealed as not the last (flag 0): what a writer
 * that forgets the final flag makes, and what an attacker gets by cutting a longer file at a record boundary
 * and forging the size (which the metadata's tag stops anyway).
 */
function notFinal(): Buffer {
  const { contentKey, keyCheck } = deriveKeys(KEY, SALT);
  const header = buildHeader(6, SALT, keyCheck);
  const meta = seal(contentKey, nonce(0, FLAG_METADATA), encodeMetadata({ size: 64, name: '', contentType: '' }), header);
  return Buffer.concat([header, meta, seal(contentKey, nonce(0, FLAG_RECORD), pattern(64))]);
}

export function makeVectors(): Vectors {
  const valid = CASES.map((c): ValidVector => {
    const ciphertext = encrypt(c.plaintext, { key: KEY, salt: SALT, recordLog2: c.recordLog2, name: c.name, contentType: c.contentType });
    return { description: c.description, key: KEY.toString('base64url'), salt: hex(SALT), recordLog2: c.recordLog2, name: c.name, contentType: c.contentType, plaintext: hex(c.plaintext), ciphertext: hex(ciphertext) };
  });
  const several = encrypt(pattern(200), { key: KEY, salt: SALT, recordLog2: 6, name: 'several.bin', contentType: 'application/octet-stream' });
  const invalid: InvalidVector[] = [
    ...invalidCases(several).map((v) => ({ ...v, key: KEY.toString('base64url') })),
    { description: 'the several-records vector opened with another key', key: OTHER_KEY.toString('base64url'), ciphertext: hex(several), error: 'E2E_WRONG_KEY' },
    { description: 'a one-record file whose record was sealed with flag 0 (not the last)', key: KEY.toString('base64url'), ciphertext: hex(notFinal()), error: 'E2E_TAMPERED' },
  ];
  return {
    comment: 'Test vectors of the encrypted file format, version 1 (docs/encryption.md). Made by test/encryption/vectors.ts with src/e2e from the fixed key and salt below; opened as well by test/encryption/webcrypto-reader.ts, written from docs/encryption.md on WebCrypto alone. Byte strings are hex, keys base64url as in a link. Every invalid vector names the error code a reader must give.',
    valid,
    invalid,
  };
}

if (process.argv.includes('--write')) writeFileSync(VECTORS_PATH, `${JSON.stringify(makeVectors(), null, 2)}\n`);
