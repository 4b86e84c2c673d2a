// A put whose caller cannot record the blob (onStored throws: its database is full, say) leaves no orphan:
// a blob the put brought in is removed again under the store's lock, and one that was already stored stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/storage/index.ts';
import { sha256Hex } from './helpers.ts';

async function store(t: { after(fn: () => unknown): void }): Promise<FsBlobStore> {
  const dir = await mkdtemp(join(tmpdir(), 'storj-orphan-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new FsBlobStore({ dir });
}

const full = () => {
  throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
};

void test('a blob this put brought in is removed when onStored throws, and the put rejects with that error', async (t) => {
  const s = await store(t);
  const bytes = randomBytes(100_000);
  await assert.rejects(s.put(Readable.from([bytes]), { expectedSize: bytes.length, onStored: full }), /database or disk is full/);
  assert.equal(await s.stat(sha256Hex(bytes)), null);
  assert.equal((await s.usage()).usedBytes, 0n);
  assert.deepEqual(await readdir(join(s.dir, 'tmp')), []);
  // Once the caller can record it, the same put works.
  assert.deepEqual(await s.put(Readable.from([bytes]), { expectedSize: bytes.length, onStored: () => undefined }), { sha256: sha256Hex(bytes), size: bytes.length });
});

void test('a blob that was already stored, or that the caller says is referenced, stays', async (t) => {
  const s = await store(t);
  const bytes = randomBytes(50_000);
  await s.put(Readable.from([bytes]), { expectedSize: bytes.length });
  await assert.rejects(s.put(Readable.from([bytes]), { expectedSize: bytes.length, onStored: full }), /full/);
  assert.notEqual(await s.stat(sha256Hex(bytes)), null, 'someone else\'s blob is not touched');

  const other = randomBytes(50_000);
  await assert.rejects(s.put(Readable.from([other]), { expectedSize: other.length, onStored: full, isReferenced: () => true }), /full/);
  assert.notEqual(await s.stat(sha256Hex(other)), null);
  const third = randomBytes(50_000);
  const broken = () => {
    throw new Error('cannot tell');
  };
  await assert.rejects(s.put(Readable.from([third]), { expectedSize: third.length, onStored: full, isReferenced: broken }), /full/);
  assert.notEqual(await s.stat(sha256Hex(third)), null, 'a reference check that fails keeps the blob');
});
