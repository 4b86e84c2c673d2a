// Properties of src/e2e over generated files (fast-check): every file comes back as it went in, whatever its size,
// record size, name and chunking; and every flipped bit, removed, duplicated or reordered record, truncation and
// extension is detected, with the code docs/encryption.md gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { isAgentError, type ErrorCode } from '../../src/errors/index.ts';
import { ciphertextSize, decrypt, decryptStream, encrypt, encryptStream, PREFIX_BYTES } from '../../src/e2e/index.ts';

/** `length` bytes (fast-check's own arrays stay around ten elements long unless told otherwise). */
const bytesOf = (min: number, max: number) => fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((a) => Buffer.from(a));

/** A file of up to 1200 bytes, in records of 64 to 512 bytes: from one empty record to nineteen. */
const file = fc.record({
  plain: bytesOf(0, 1200),
  recordLog2: fc.integer({ min: 6, max: 9 }),
  name: fc.string({ unit: 'grapheme', maxLength: 60 }),
  contentType: fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9.+-]{1,20}$/),
  key: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
});

/** Where each sealed record starts and ends in the encrypted file. */
function records(plainSize: number, recordLog2: number): Array<[number, number]> {
  const rs = 2 ** recordLog2;
  const n = Math.max(1, Math.ceil(plainSize / rs));
  const out: Array<[number, number]> = [];
  let at = PREFIX_BYTES;
  for (let i = 0; i < n; i++) {
    const end = at + Math.min(rs, plainSize - i * rs) + 16;
    out.push([at, end]);
    at = end;
  }
  return out;
}

function failsWith(encrypted: Buffer, key: Buffer, codes: ErrorCode[]): void {
  assert.throws(() => decrypt(encrypted, key), (e) => isAgentError(e) && codes.includes(e.code), `expected ${codes.join(' or ')}`);
}

test('every file comes back whole: any size, record size, name and media type, streamed through both transforms in chunks of any size', async () => {
  await fc.assert(
    fc.asyncProperty(file, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), async (f, inChunk, midChunk) => {
      const input: Buffer[] = [];
      for (let i = 0; i < f.plain.length; i += inChunk) input.push(f.plain.subarray(i, i + inChunk));
      const out: Buffer[] = [];
      let sealed = 0;
      let name: string | undefined;
      await pipeline(
        Readable.from(input),
        encryptStream({ key: f.key, size: f.plain.length, recordLog2: f.recordLog2, name: f.name, contentType: f.contentType }),
        // Re-cut the ciphertext, so the decryptor meets boundaries that are not the encryptor's.
        async function* (src: AsyncIterable<Buffer>) {
          const all = [];
          for await (const c of src) all.push(c);
          const whole = Buffer.concat(all);
          sealed = whole.length;
          for (let i = 0; i < whole.length; i += midChunk) yield whole.subarray(i, i + midChunk);
        },
        decryptStream({ key: f.key, onMetadata: (m) => (name = m.name) }),
        async (src: AsyncIterable<Buffer>) => {
          for await (const c of src) out.push(c);
        },
      );
      assert.equal(sealed, ciphertextSize(f.plain.length, f.recordLog2));
      assert.deepEqual(Buffer.concat(out), f.plain);
      assert.equal(name, f.name);
    }),
    { numRuns: 150 },
  );
});

test('two encryptions of the same file with the same key differ (a fresh salt each time)', () => {
  fc.assert(
    fc.property(file, (f) => {
      const a = encrypt(f.plain, { key: f.key });
      const b = encrypt(f.plain, { key: f.key });
      assert.notDeepEqual(a.subarray(6, 22), b.subarray(6, 22));
      assert.notDeepEqual(a.subarray(PREFIX_BYTES), b.subarray(PREFIX_BYTES));
    }),
    { numRuns: 30 },
  );
});

test('any flipped bit is detected: in the magic, version or record size a bad header, in the salt or key check a wrong key, anywhere else tampering', () => {
  fc.assert(
    fc.property(file, fc.nat(), fc.integer({ min: 0, max: 7 }), (f, where, bit) => {
      const encrypted = encrypt(f.plain, { key: f.key, recordLog2: f.recordLog2, name: f.name, contentType: f.contentType });
      const at = where % encrypted.length;
      const bad = Buffer.from(encrypted);
      bad[at] = (bad[at] ?? 0) ^ (1 << bit);
      if (at < 4 || at === 4) failsWith(bad, f.key, ['E2E_BAD_HEADER']);
      // Another record size in range opens nothing: the header is the metadata's AAD.
      else if (at === 5) failsWith(bad, f.key, ['E2E_BAD_HEADER', 'E2E_TAMPERED']);
      else if (at < 54) failsWith(bad, f.key, ['E2E_WRONG_KEY']);
      else failsWith(bad, f.key, ['E2E_TAMPERED']);
    }),
    { numRuns: 300 },
  );
});

test('any removed, duplicated or reordered record is detected', () => {
  // Two records at least.
  const multi = fc.integer({ min: 6, max: 8 }).chain((recordLog2) =>
    fc.record({ plain: bytesOf(2 ** recordLog2 + 1, 6 * 2 ** recordLog2), recordLog2: fc.constant(recordLog2), key: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)) }),
  );
  fc.assert(
    fc.property(multi, fc.nat(), fc.nat(), fc.constantFrom('remove', 'duplicate', 'swap'), (f, x, y, how) => {
      const encrypted = encrypt(f.plain, { key: f.key, recordLog2: f.recordLog2 });
      const spans = records(f.plain.length, f.recordLog2);
      const parts = spans.map(([a, b]) => encrypted.subarray(a, b));
      const i = x % parts.length;
      let j = y % parts.length;
      if (how === 'swap' && i === j) j = (i + 1) % parts.length;
      const moved = [...parts];
      if (how === 'remove') moved.splice(i, 1);
      else if (how === 'duplicate') moved.splice(i, 0, parts[i] ?? Buffer.alloc(0));
      else [moved[i], moved[j]] = [parts[j] ?? Buffer.alloc(0), parts[i] ?? Buffer.alloc(0)];
      const bad = Buffer.concat([encrypted.subarray(0, PREFIX_BYTES), ...moved]);
      // A file that became shorter than its metadata says may end before the record that fails would.
      failsWith(bad, f.key, how === 'remove' ? ['E2E_TAMPERED', 'E2E_TRUNCATED'] : ['E2E_TAMPERED']);
    }),
    { numRuns: 200 },
  );
});

test('any truncation is detected as such, and any extension as tampering', () => {
  fc.assert(
    fc.property(file, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 100 }), (f, cut, extra) => {
      const encrypted = encrypt(f.plain, { key: f.key, recordLog2: f.recordLog2, name: f.name });
      failsWith(encrypted.subarray(0, cut % encrypted.length), f.key, ['E2E_TRUNCATED']);
      failsWith(Buffer.concat([encrypted, extra]), f.key, ['E2E_TAMPERED']);
    }),
    { numRuns: 300 },
  );
});

test('the wrong key is told apart from a damaged file, and the encryptor refuses input of another size than declared', async () => {
  fc.assert(
    fc.property(file, fc.uint8Array({ minLength: 32, maxLength: 32 }), (f, other) => {
      fc.pre(!Buffer.from(other).equals(f.key));
      failsWith(encrypt(f.plain, { key: f.key }), Buffer.from(other), ['E2E_WRONG_KEY']);
    }),
    { numRuns: 50 },
  );
  const key = Buffer.alloc(32, 7);
  const run = (declared: number, input: Buffer[]) => pipeline(Readable.from(input), encryptStream({ key, size: declared }), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) void c;
  });
  await assert.rejects(run(10, [Buffer.alloc(6), Buffer.alloc(6)]), (e) => isAgentError(e, 'E2E_SIZE_MISMATCH'));
  await assert.rejects(run(10, [Buffer.alloc(9)]), (e) => isAgentError(e, 'E2E_SIZE_MISMATCH'));
  await run(10, [Buffer.alloc(4), Buffer.alloc(6)]);
});
