// Partial uploads in the blob store (src/storage/partial-uploads.ts): the recorded offset is the one that
// counts, bytes past it (left by a crash) are cut off, a body running past the length keeps nothing, and a whole
// upload becomes a blob under its sha256, also after a restart (when the hash is read back from disk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/storage/index.ts';
import { readAll, sha256Hex } from './helpers.ts';

async function store(t: { after(fn: () => unknown): void }): Promise<{ dir: string; open: () => FsBlobStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'storj-partials-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, open: () => new FsBlobStore({ dir }) };
}

const body = (...parts: Uint8Array[]) =>
  (async function* () {
    for (const p of parts) yield await Promise.resolve(p);
  })();

test('appends at the recorded offset; bytes past it are cut off after a restart; the blob hashes right', async (t) => {
  const { dir, open } = await store(t);
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
  const a = open();
  let clock = 1000;
  await a.partials.create('up1', clock);
  assert.deepEqual(await a.partials.state('up1'), { offset: 0, updatedAt: 1000 });
  clock = 2000;
  assert.equal(await a.partials.append('up1', body(bytes.subarray(0, 3000), bytes.subarray(3000, 4000)), { offset: 0, size: bytes.length, at: () => clock }), 4000);
  assert.deepEqual(await a.partials.state('up1'), { offset: 4000, updatedAt: 2000 });

  // A crash after bytes were written but before their offset was recorded: they are not the upload's.
  const data = join(dir, 'partial', 'up1.data');
  await appendFile(data, new Uint8Array(500).fill(9));
  const b = open();
  assert.equal(await b.recover(), 0, 'an upload with a state is not a leftover');
  assert.deepEqual(await b.partials.state('up1'), { offset: 4000, updatedAt: 2000 });
  assert.equal((await stat(data)).size, 4000);

  // More than the length: none of this body is kept.
  await assert.rejects(b.partials.append('up1', body(bytes.subarray(4000), new Uint8Array(1)), { offset: 4000, size: bytes.length, at: () => clock }), { code: 'UPLOAD_SIZE_MISMATCH' });
  assert.equal((await b.partials.state('up1'))?.offset, 4000);
  assert.equal((await stat(data)).size, 4000);

  assert.equal(await b.partials.append('up1', body(bytes.subarray(4000)), { offset: 4000, size: bytes.length, at: () => clock }), bytes.length);
  const stored: string[] = [];
  const blob = await b.partials.commit('up1', bytes.length, { onStored: (x) => stored.push(x.sha256) });
  assert.deepEqual(blob, { sha256: sha256Hex(bytes), size: bytes.length });
  assert.deepEqual(stored, [sha256Hex(bytes)]);
  assert.deepEqual(await readAll(await b.open(blob.sha256)), Buffer.from(bytes));
  assert.equal(await b.partials.state('up1'), null);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
  assert.equal(((await stat(join(dir, 'blobs', blob.sha256.slice(0, 2), blob.sha256.slice(2, 4), blob.sha256))).mode & 0o777), 0o400);
});

test('a body that breaks off keeps what arrived; remove and recover clear partial uploads', async (t) => {
  const { dir, open } = await store(t);
  const s = open();
  await s.partials.create('up2', 1);
  const broken = (async function* () {
    yield await Promise.resolve(new Uint8Array(700).fill(1));
    throw new Error('connection reset');
  })();
  await assert.rejects(s.partials.append('up2', broken, { offset: 0, size: 5000, at: () => 5 }), /connection reset/);
  assert.deepEqual(await s.partials.state('up2'), { offset: 700, updatedAt: 5 });
  assert.deepEqual((await s.partials.list()).map((p) => [p.key, p.offset]), [['up2', 700]]);
  assert.equal(await s.partials.remove('up2'), true);
  assert.equal(await s.partials.remove('up2'), false);
  assert.equal(await s.partials.state('up2'), null);
  // Data whose state is gone (a crash between the two unlinks) is a leftover recover removes.
  await s.partials.create('up3', 1);
  await rm(join(dir, 'partial', 'up3.state'));
  assert.equal(await open().recover(), 1);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
  await assert.rejects(s.partials.create('../x', 1), { code: 'BAD_REQUEST' });
});
