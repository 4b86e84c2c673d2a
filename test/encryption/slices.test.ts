// Random access to an encrypted file (src/e2e/slices.ts) and the sources `storj upload` sends from
// (src/cli/client/tus.ts): slices cut anywhere are the very bytes the streamed encryption makes, and a read-ahead
// source gives the same bytes whatever order it is asked in, a resume behind what it has read ahead included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isAgentError } from '../../src/errors/index.ts';
import { decrypt, encrypt, SliceEncryptor } from '../../src/e2e/index.ts';
import { encryptBySlices } from '../../src/e2e/slices.ts';
import { encryptedFileSource, fileSource, readAhead, type Source } from '../../src/cli/client/tus.ts';
import { tempDir } from '../helpers/agent.ts';

const bytesOf = (min: number, max: number) => fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((a) => Buffer.from(a));
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
const salt16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));

test('sealed slice by slice, cut anywhere (inside the header, a record or a tag), the file is the streamed encryption byte for byte', () => {
  fc.assert(
    fc.property(bytesOf(0, 1500), fc.integer({ min: 6, max: 9 }), key32, salt16, fc.array(fc.nat({ max: 4000 }), { maxLength: 12 }), (plain, recordLog2, key, salt, cuts) => {
      const whole = encrypt(plain, { key, salt, recordLog2, name: 'a.txt', contentType: 'text/plain' });
      const sliced = encryptBySlices(plain, { key, salt, recordLog2, name: 'a.txt', contentType: 'text/plain' }, cuts);
      assert.deepEqual(sliced, whole);
      assert.deepEqual(decrypt(sliced, key).plaintext, plain);
    }),
    { numRuns: 300 },
  );
});

test('a span outside the encrypted file is refused', () => {
  const e = new SliceEncryptor({ key: randomBytes(32), size: 100 });
  for (const [start, end] of [
    [-1, 5],
    [5, 4],
    [0, e.size + 1],
    [0.5, 3],
  ] as const) {
    assert.throws(() => e.span(start, end), (err) => isAgentError(err) && err.code === 'BAD_REQUEST');
  }
});

/** Bytes [start, end) of `source`, copied at once (a source may use its buffers again). */
async function readCopy(source: Source, start: number, end: number): Promise<Buffer> {
  return Buffer.from(await source.read(start, end));
}

test('the encrypted file source, read ahead, gives the streamed encryption at any offsets: in order, behind the read-ahead (a resume), and in random order', async (t) => {
  const dir = tempDir(t);
  await fc.assert(
    fc.asyncProperty(bytesOf(0, 3000), fc.integer({ min: 6, max: 8 }), key32, salt16, fc.integer({ min: 1, max: 700 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 900 })), { maxLength: 8 }), async (plain, recordLog2, key, salt, slice, jumps) => {
      const path = join(dir, 'plain.bin');
      writeFileSync(path, plain);
      const whole = encrypt(plain, { key, salt, recordLog2, name: 'p.bin' });
      const source = readAhead(await encryptedFileSource(path, new SliceEncryptor({ key, salt, recordLog2, size: plain.length, name: 'p.bin' })));
      try {
        assert.equal(source.size, whole.length);
        // Forward in slices, as tus-js-client asks (each read starts the next one ahead)...
        const forward: Buffer[] = [];
        for (let at = 0; at < source.size; at += slice) forward.push(await readCopy(source, at, Math.min(source.size, at + slice)));
        assert.deepEqual(Buffer.concat(forward), whole);
        // ...then from anywhere: behind the read-ahead, across it, and forward again from there.
        for (const [at, length] of jumps) {
          const start = at % (whole.length + 1);
          const end = Math.min(whole.length, start + length);
          assert.deepEqual(await readCopy(source, start, end), whole.subarray(start, end), `bytes ${start} to ${end}`);
          const next = Math.min(whole.length, end + length);
          assert.deepEqual(await readCopy(source, end, next), whole.subarray(end, next), `bytes ${end} to ${next}, read ahead`);
        }
      } finally {
        await source.close();
      }
    }),
    { numRuns: 120 },
  );
});

test('a resume behind the read-ahead, in 32 MiB slices of records (1 MiB, the default) as storj upload sends them: the bytes are those streamed the first time', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'big.bin');
  const plain = randomBytes(80 * 1024 * 1024 + 12345);
  writeFileSync(path, plain);
  const key = randomBytes(32);
  const salt = randomBytes(16);
  const whole = encrypt(plain, { key, salt });
  const slice = 32 * 1024 * 1024;
  const source = readAhead(await encryptedFileSource(path, new SliceEncryptor({ key, salt, size: plain.length })));
  try {
    assert.deepEqual(await readCopy(source, 0, slice), whole.subarray(0, slice));
    // The read-ahead is now sealing [32 MiB, 64 MiB); a PATCH broke off, and the agent holds 5 MiB + 17 bytes.
    const resume = 5 * 1024 * 1024 + 17;
    assert.deepEqual(await readCopy(source, resume, resume + slice), whole.subarray(resume, resume + slice));
    for (let at = resume + slice; at < whole.length; at += slice) {
      const end = Math.min(whole.length, at + slice);
      assert.deepEqual(await readCopy(source, at, end), whole.subarray(at, end), `bytes ${at} to ${end}`);
    }
  } finally {
    await source.close();
  }
});

test('the plain file source, read ahead, gives the file at any offsets, and a file that became shorter fails with BAD_REQUEST', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'plain.bin');
  const plain = randomBytes(10_000);
  writeFileSync(path, plain);
  const source = readAhead(await fileSource(path, plain.length));
  try {
    assert.deepEqual(await readCopy(source, 0, 3000), plain.subarray(0, 3000));
    assert.deepEqual(await readCopy(source, 1000, 4000), plain.subarray(1000, 4000));
    assert.deepEqual(await readCopy(source, 4000, 7000), plain.subarray(4000, 7000));
    assert.deepEqual(await readCopy(source, 7000, 10_000), plain.subarray(7000, 10_000));
    truncateSync(path, 5000);
    await assert.rejects(source.read(4000, 7000), (e) => isAgentError(e) && e.code === 'BAD_REQUEST' && /became shorter/.test(e.message));
  } finally {
    await source.close();
  }
  const encrypted = readAhead(await encryptedFileSource(path, new SliceEncryptor({ key: randomBytes(32), size: plain.length })));
  try {
    await assert.rejects(encrypted.read(0, encrypted.size), (e) => isAgentError(e) && e.code === 'BAD_REQUEST');
  } finally {
    await encrypted.close();
  }
});
