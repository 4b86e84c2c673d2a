// FsBlobStore: the shared BlobStore conformance suite, then what only a filesystem store has
// (its layout on disk, file modes, and surviving a real kill -9 mid-upload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/storage/index.ts';
import { blobStoreConformance } from './blob-store-conformance.ts';
import { KiB, MiB, chunksOf, patternSha256, patternSource, readAll, sha256Hex } from './helpers.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

async function tempDirs(dir: string): Promise<string[]> {
  try {
    return await readdir(join(dir, 'tmp'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function freshDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'storj-blobs-'));
}

blobStoreConformance('FsBlobStore', async () => {
  const dir = await freshDir();
  return {
    store: new FsBlobStore({ dir }),
    // A crashed upload leaves a partial, never-renamed file in tmp/ (see FsBlobStore.put).
    simulateCrashedUpload: async (partial) => {
      await writeFile(join(dir, 'tmp', `${randomUUID()}.part`), partial, { mode: 0o400 });
    },
    countLeftovers: async () => (await tempDirs(dir)).length,
    reopen: () => new FsBlobStore({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

void test('FsBlobStore lays blobs out as blobs/ab/cd/<sha256>, read-only, with tmp/ emptied', async () => {
  const dir = await freshDir();
  try {
    const data = randomBytes(4321);
    const want = sha256Hex(data);
    await new FsBlobStore({ dir }).put(chunksOf(data, 1000), { expectedSize: data.length });
    const path = join(dir, 'blobs', want.slice(0, 2), want.slice(2, 4), want);
    const st = await stat(path);
    assert.equal(st.size, data.length);
    assert.equal(st.mode & 0o777, 0o400, 'blobs are owner-read-only');
    assert.equal((await stat(join(dir, 'blobs'))).mode & 0o777, 0o700);
    assert.deepEqual(await tempDirs(dir), []);
    // Identical content again: the existing file is kept as it is (same inode), the copy dropped.
    await new FsBlobStore({ dir }).put(chunksOf(data, 999), { expectedSize: data.length });
    assert.equal((await stat(path)).ino, st.ino);
    assert.deepEqual(await tempDirs(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a short upload leaves no file anywhere under the store', async () => {
  const dir = await freshDir();
  try {
    const store = new FsBlobStore({ dir });
    await assert.rejects(store.put(chunksOf(randomBytes(1000), 100), { expectedSize: 2000 }), { code: 'UPLOAD_SIZE_MISMATCH' });
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile());
    assert.deepEqual(files.map((d) => d.name), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('kill -9 mid-upload: nothing visible, recover() removes the temp, the same put then succeeds', async () => {
  const dir = await freshDir();
  try {
    const total = 8 * MiB;
    const chunk = 64 * KiB;
    const want = patternSha256(total, chunk);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'crash-child.ts'), dir, String(total), String(chunk)],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('progress\n')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`child exited (${String(code)}) before progress: ${out}${err}`)));
    });
    assert.ok(child.kill('SIGKILL'));
    assert.equal(await exited, 'SIGKILL');
    assert.ok(!out.includes('completed'), 'the upload was cut off mid-body');

    const temps = await tempDirs(dir);
    assert.equal(temps.length, 1, 'the crash left its temp file behind');
    assert.ok((await stat(join(dir, 'tmp', temps[0]!))).size < total);

    const store = new FsBlobStore({ dir });
    assert.equal(await store.stat(want), null, 'no blob is visible');
    assert.equal((await store.usage()).usedBytes, 0n);
    assert.equal(await store.recover(), 1);
    assert.deepEqual(await tempDirs(dir), []);

    const info = await store.put(patternSource(total, chunk), { expectedSize: total });
    assert.deepEqual(info, { sha256: want, size: total });
    const back = await readAll(await store.open(want));
    assert.equal(sha256Hex(back), want);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
