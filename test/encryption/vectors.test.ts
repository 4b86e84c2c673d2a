// The encrypted file format's test vectors (test/fixtures/e2e-vectors.json, docs/encryption.md): src/e2e makes
// each valid vector byte for byte and opens it, whole and streamed in chunks of any size; an independent reader on
// WebCrypto alone (./webcrypto-reader.ts) opens them too; and both refuse each invalid vector with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAgentError } from '../../src/errors/index.ts';
import { ciphertextSize, decodeKey, decrypt, decryptStream, encrypt, encryptStream, type Metadata } from '../../src/e2e/index.ts';
import { makeVectors, VECTORS_PATH, type Vectors } from './vectors.ts';
import { readEncrypted, ReadError } from './webcrypto-reader.ts';

const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
const bytes = (h: string) => Buffer.from(h, 'hex');

/** `data` in chunks of `size` bytes. */
function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** Streams `encrypted` through decryptStream in chunks of `size`; what came out, and the error if it failed. */
async function streamed(encrypted: Buffer, key: Buffer, size: number): Promise<{ out: Buffer; metadata?: Metadata; error?: unknown }> {
  const parts: Buffer[] = [];
  let metadata: Metadata | undefined;
  try {
    await pipeline(Readable.from(chunks(encrypted, size)), decryptStream({ key, onMetadata: (m) => (metadata = m) }), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) parts.push(c);
    });
    return { out: Buffer.concat(parts), ...(metadata ? { metadata } : {}) };
  } catch (error) {
    return { out: Buffer.concat(parts), ...(metadata ? { metadata } : {}), error };
  }
}

test('the vectors in the fixture are what test/encryption/vectors.ts makes: src/e2e still writes each one byte for byte', () => {
  assert.deepEqual(vectors, makeVectors());
  assert.ok(vectors.valid.length >= 7 && vectors.invalid.length >= 20);
});

test('src/e2e opens every valid vector, whole and streamed in chunks of 1, 7, 80 and 4096 bytes, and streams the same bytes when encrypting', async () => {
  for (const v of vectors.valid) {
    const key = decodeKey(v.key);
    const plain = bytes(v.plaintext);
    const encrypted = bytes(v.ciphertext);
    assert.equal(encrypted.length, ciphertextSize(plain.length, v.recordLog2), `${v.description}: the size is ciphertextSize's`);
    const whole = decrypt(encrypted, key);
    assert.deepEqual(whole.plaintext, plain, v.description);
    assert.deepEqual(whole.metadata, { size: plain.length, name: v.name, contentType: v.contentType }, v.description);
    for (const size of [1, 7, 80, 4096]) {
      const s = await streamed(encrypted, key, size);
      assert.equal(s.error, undefined, `${v.description}, chunks of ${size}`);
      assert.deepEqual(s.out, plain, `${v.description}, chunks of ${size}`);
      assert.equal(s.metadata?.name, v.name);
    }
    // The streaming encryptor, fed in uneven chunks, writes the same bytes as the whole-buffer one.
    const parts: Buffer[] = [];
    const input = plain.length > 3 ? [plain.subarray(0, 3), plain.subarray(3)] : [plain];
    await pipeline(Readable.from(input), encryptStream({ key, salt: bytes(v.salt), recordLog2: v.recordLog2, size: plain.length, name: v.name, contentType: v.contentType }), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) parts.push(c);
    });
    assert.deepEqual(Buffer.concat(parts), encrypted, `${v.description}: streamed encryption`);
    assert.deepEqual(encrypt(plain, { key, salt: bytes(v.salt), recordLog2: v.recordLog2, name: v.name, contentType: v.contentType }), encrypted);
  }
});

test('the WebCrypto reader, written from docs/encryption.md alone, opens every valid vector', async () => {
  for (const v of vectors.valid) {
    const r = await readEncrypted(bytes(v.ciphertext), decodeKey(v.key));
    assert.deepEqual(Buffer.from(r.plaintext), bytes(v.plaintext), v.description);
    assert.equal(r.name, v.name);
    assert.equal(r.contentType, v.contentType);
  }
});

test('every invalid vector fails with its code, in src/e2e whole and streamed (releasing no byte of a record that does not open) and in the WebCrypto reader', async () => {
  for (const v of vectors.invalid) {
    const key = decodeKey(v.key);
    const encrypted = bytes(v.ciphertext);
    assert.throws(() => decrypt(encrypted, key), (e) => isAgentError(e) && e.code === v.error, `${v.description}: ${v.error}`);
    for (const size of [1, 13, 4096]) {
      const s = await streamed(encrypted, key, size);
      assert.ok(isAgentError(s.error) && s.error.code === v.error, `${v.description}, chunks of ${size}: ${String(s.error)}`);
      // What came out before the failure is whole, authenticated records of the plaintext, never more.
      assert.ok(s.out.length % 64 === 0 && s.out.equals(bytes(vectors.valid[4]?.plaintext ?? '').subarray(0, s.out.length)), `${v.description}: only whole records that opened`);
    }
    await assert.rejects(readEncrypted(encrypted, key), (e) => e instanceof ReadError && e.code === v.error, `WebCrypto reader, ${v.description}: ${v.error}`);
  }
});

test('a key in a link is 43 base64url characters for 32 bytes, in the one spelling', () => {
  const key = decodeKey(vectors.valid[0]?.key ?? '');
  assert.equal(key.length, 32);
  for (const bad of ['', 'short', `${vectors.valid[0]?.key ?? ''}A`, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+', 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9']) {
    assert.throws(() => decodeKey(bad), (e) => isAgentError(e, 'E2E_BAD_KEY'), bad);
  }
});
