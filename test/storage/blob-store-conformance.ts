// One conformance suite for every BlobStore implementation (after tus's
// store tests). An implementation's test file calls blobStoreConformance() with a harness; all
// behaviour promised by the BlobStore interface is checked here, through the interface only.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import type { BlobStore } from '../../src/storage/index.ts';
import { rejectsWith } from '../helpers/errors.ts';
import { KiB, MiB, chunksOf, patternChunk, patternSha256, patternSource, readAll, sha256Hex } from './helpers.ts';
import type { Pulled } from './helpers.ts';

export interface BlobStoreHarness {
  store: BlobStore;
  /** Leaves behind exactly what an upload killed half-way (kill -9) leaves in this implementation. */
  simulateCrashedUpload(partial: Uint8Array): Promise<void>;
  /** How many upload leftovers (temp files or the like) exist right now. */
  countLeftovers(): Promise<number>;
  /** A new store over the same backing storage, as after a restart. */
  reopen(): BlobStore;
  cleanup(): Promise<void>;
}

/** Asserts that nothing of a failed upload survives: no blob bytes, no leftovers. */
async function assertNothingKept(h: BlobStoreHarness, usedBefore: bigint): Promise<void> {
  assert.equal((await h.store.usage()).usedBytes, usedBefore, 'no blob bytes were added');
  assert.equal(await h.countLeftovers(), 0, 'no temp file is left');
  assert.equal(await h.store.recover(), 0, 'recover() finds nothing to clean');
}

export function blobStoreConformance(name: string, makeHarness: () => Promise<BlobStoreHarness>): void {
  void describe(`BlobStore conformance: ${name}`, () => {
    let h: BlobStoreHarness;
    let store: BlobStore;
    beforeEach(async () => {
      h = await makeHarness();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    void test('put, stat and open round-trip the bytes under their independently computed sha256', async () => {
      // Odd size spanning several 1 MiB I/O chunks, fed in odd-sized pieces.
      const data = randomBytes(3 * MiB + 17);
      const want = sha256Hex(data);
      const info = await store.put(chunksOf(data, 10_007), { expectedSize: data.length });
      assert.deepEqual(info, { sha256: want, size: data.length });
      assert.deepEqual(await store.stat(want), { sha256: want, size: data.length });
      const back = await readAll(await store.open(want));
      assert.equal(back.length, data.length);
      assert.ok(back.equals(data), 'the bytes read back are the bytes put');
    });

    void test('accepts a Node Readable as the source', async () => {
      const data = randomBytes(200 * KiB + 3);
      const info = await store.put(Readable.from(chunksOf(data, 4096)), { expectedSize: data.length });
      assert.equal(info.sha256, sha256Hex(data));
      assert.ok((await readAll(await store.open(info.sha256))).equals(data));
    });

    void test('a zero-byte blob is the sha256 of nothing', async () => {
      const info = await store.put(chunksOf(new Uint8Array(0), 1), { expectedSize: 0 });
      assert.deepEqual(info, { sha256: sha256Hex(), size: 0 });
      assert.equal((await readAll(await store.open(info.sha256))).length, 0);
    });

    void test('onProgress reports the running total, ending at the size', async () => {
      const data = randomBytes(300 * KiB);
      const seen: number[] = [];
      await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length, onProgress: (n) => seen.push(n) });
      assert.ok(seen.length >= 2, 'called more than once for a multi-chunk body');
      assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]!), 'strictly increasing');
      assert.equal(seen.at(-1), data.length);
    });

    void test('ranges: first byte, last byte, middle, whole', async () => {
      const data = randomBytes(2 * MiB + 5 * KiB + 7);
      const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
      const last = data.length - 1;
      for (const [label, start, end] of [
        ['first byte', 0, 0],
        ['last byte', last, last],
        ['middle, across an I/O chunk boundary', MiB - 10, 2 * MiB + 10],
        ['whole', 0, last],
      ] as const) {
        const got = await readAll(await store.open(sha256, { start, end }));
        assert.equal(got.length, end - start + 1, `${label}: length`);
        assert.ok(got.equals(data.subarray(start, end + 1)), `${label}: bytes`);
      }
    });

    void test('ranges outside the blob are refused', async () => {
      const data = randomBytes(1000);
      const { sha256 } = await store.put(chunksOf(data, 1000), { expectedSize: data.length });
      for (const range of [
        { start: 0, end: 1000 },
        { start: 1000, end: 1000 },
        { start: 5, end: 4 },
        { start: -1, end: 10 },
        { start: 0.5, end: 10 },
      ]) {
        await rejectsWith(store.open(sha256, range), 'BLOB_RANGE_INVALID');
      }
    });

    void test('an absent blob: stat is null, open is BLOB_NOT_FOUND, delete is false', async () => {
      const absent = sha256Hex(Buffer.from('never stored'));
      assert.equal(await store.stat(absent), null);
      await rejectsWith(store.open(absent), 'BLOB_NOT_FOUND');
      assert.equal(await store.delete(absent), false);
    });

    void test('a short body is UPLOAD_SIZE_MISMATCH and nothing is kept', async () => {
      const data = randomBytes(100 * KiB);
      await rejectsWith(store.put(chunksOf(data, 16 * KiB), { expectedSize: data.length + 1 }), 'UPLOAD_SIZE_MISMATCH');
      assert.equal(await store.stat(sha256Hex(data)), null);
      await assertNothingKept(h, 0n);
    });

    void test('a long body is cut off as soon as it goes over, without reading the rest', async () => {
      const pulled: Pulled = { bytes: 0, closed: false };
      const expectedSize = 100_000;
      // A 1 GiB body against a 100 kB quote: reading it all would take seconds and show here.
      await rejectsWith(store.put(patternSource(1024 * MiB, 64 * KiB, pulled), { expectedSize }), 'UPLOAD_SIZE_MISMATCH');
      assert.ok(pulled.bytes < expectedSize + 4 * MiB, `pulled ${pulled.bytes} bytes`);
      assert.ok(pulled.closed, 'the source was closed, not left hanging');
      await assertNothingKept(h, 0n);
    });

    void test('one byte too many in the last chunk is also a mismatch', async () => {
      const data = randomBytes(5000);
      await rejectsWith(store.put(chunksOf(data, 5000), { expectedSize: 4999 }), 'UPLOAD_SIZE_MISMATCH');
      assert.equal(await store.stat(sha256Hex(data)), null);
      assert.equal(await store.stat(sha256Hex(data.subarray(0, 4999))), null);
      await assertNothingKept(h, 0n);
    });

    void test('an abort mid-stream rejects with AbortError and keeps nothing', async () => {
      const ac = new AbortController();
      let pulled = 0;
      async function* abortsAfter20Chunks(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 4096; i++) {
          if (i === 20) ac.abort(); // as a client disconnect would, while the body is flowing
          pulled += 64 * KiB;
          await setImmediate();
          yield patternChunk(i, 64 * KiB);
        }
      }
      await assert.rejects(store.put(abortsAfter20Chunks(), { expectedSize: 256 * MiB, signal: ac.signal }), {
        name: 'AbortError',
      });
      assert.ok(pulled < 8 * MiB, `stopped reading after the abort (pulled ${pulled})`);
      await assertNothingKept(h, 0n);
    });

    void test('an already aborted signal rejects before reading anything', async () => {
      const pulled: Pulled = { bytes: 0, closed: false };
      await assert.rejects(
        store.put(patternSource(MiB, 64 * KiB, pulled), { expectedSize: MiB, signal: AbortSignal.abort() }),
        { name: 'AbortError' },
      );
      assert.equal(pulled.bytes, 0);
      await assertNothingKept(h, 0n);
    });

    void test('a source that fails rejects with its error and keeps nothing', async () => {
      async function* broken(): AsyncGenerator<Uint8Array> {
        yield randomBytes(64 * KiB);
        await setImmediate();
        throw new Error('client went away');
      }
      await assert.rejects(store.put(broken(), { expectedSize: MiB }), /client went away/);
      await assertNothingKept(h, 0n);
    });

    void test('a bad expectedSize is BAD_REQUEST', async () => {
      for (const expectedSize of [-1, 1.5, Number.NaN]) {
        await rejectsWith(store.put(chunksOf(new Uint8Array(1), 1), { expectedSize }), 'BAD_REQUEST');
      }
      await assertNothingKept(h, 0n);
    });

    void test('identical content put twice is stored once', async () => {
      const data = randomBytes(123_456);
      const a = await store.put(chunksOf(data, 10_000), { expectedSize: data.length });
      const b = await store.put(chunksOf(data, 7_000), { expectedSize: data.length });
      assert.deepEqual(a, b);
      assert.equal((await store.usage()).usedBytes, BigInt(data.length), 'counted once');
      assert.equal(await h.countLeftovers(), 0, 'the second copy was discarded');
      // One delete removes the only copy.
      assert.equal(await store.delete(a.sha256), true);
      assert.equal(await store.stat(a.sha256), null);
      assert.equal(await store.delete(a.sha256), false);
    });

    void test('concurrent puts of the same content leave one blob, counted once', async () => {
      const data = randomBytes(MiB + 1);
      const infos = await Promise.all([1, 2, 3].map(() => store.put(chunksOf(data, 32 * KiB), { expectedSize: data.length })));
      for (const info of infos) assert.equal(info.sha256, sha256Hex(data));
      assert.equal((await store.usage()).usedBytes, BigInt(data.length));
      assert.ok((await readAll(await store.open(sha256Hex(data)))).equals(data));
    });

    void test('delete removes the blob; a reader opened before it still reads everything', async () => {
      const keep = randomBytes(10_000);
      const drop = randomBytes(3 * MiB);
      await store.put(chunksOf(keep, 4096), { expectedSize: keep.length });
      const { sha256 } = await store.put(chunksOf(drop, 64 * KiB), { expectedSize: drop.length });
      const reader = await store.open(sha256);
      assert.equal(await store.delete(sha256), true);
      assert.equal(await store.stat(sha256), null);
      await rejectsWith(store.open(sha256), 'BLOB_NOT_FOUND');
      assert.ok((await readAll(reader)).equals(drop), 'the open reader was not cut short');
      assert.equal((await store.usage()).usedBytes, BigInt(keep.length));
      assert.deepEqual(await store.stat(sha256Hex(keep)), { sha256: sha256Hex(keep), size: keep.length });
    });

    void test('onStored runs once the blob is stored, for new and reused bytes alike; its throw rejects put and keeps the blob', async () => {
      const data = randomBytes(100 * KiB);
      const want = { sha256: sha256Hex(data), size: data.length };
      const seen: unknown[] = [];
      await store.put(chunksOf(data, 7 * KiB), { expectedSize: data.length, onStored: (b) => seen.push({ ...b, there: false }) });
      assert.deepEqual(seen, [{ ...want, there: false }]);
      let statWhileStored: Promise<unknown> | undefined;
      await store.put(chunksOf(data, 7 * KiB), { expectedSize: data.length, onStored: () => {
          statWhileStored = store.stat(want.sha256);
        },
      });
      assert.deepEqual(await statWhileStored, want, 'the blob exists when onStored runs');
      await assert.rejects(
        store.put(chunksOf(data, 7 * KiB), {
          expectedSize: data.length,
          onStored: () => {
            throw new Error('the caller could not record it');
          },
        }),
        /could not record it/,
      );
      assert.deepEqual(await store.stat(want.sha256), want);
    });

    void test('delete with `unless` keeps the blob when it answers true, asked after a put in flight has recorded its reference', async () => {
      const data = randomBytes(64 * KiB);
      const sha = sha256Hex(data);
      await store.put(chunksOf(data, 8 * KiB), { expectedSize: data.length });
      assert.equal(await store.delete(sha, { unless: () => true }), false);
      assert.deepEqual(await store.stat(sha), { sha256: sha, size: data.length });
      // A put of the same bytes and a delete race: the delete's check comes after the put's onStored or before
      // the put looks for the blob, never between, so either the reference is seen or the bytes are stored again.
      let referenced = false;
      const put = store.put(chunksOf(data, 8 * KiB), { expectedSize: data.length, onStored: () => (referenced = true) });
      const removed = await store.delete(sha, { unless: () => referenced });
      await put;
      assert.equal(referenced, true);
      assert.deepEqual(await store.stat(sha), { sha256: sha, size: data.length }, removed ? 'stored again after the delete' : 'kept for the reference');
      assert.equal(await store.delete(sha, { unless: () => false }), true);
      assert.equal(await store.stat(sha), null);
    });

    void test('hostile or malformed ids are refused before anything is touched', async () => {
      const good = sha256Hex(Buffer.from('x'));
      for (const id of [
        '../../etc/passwd',
        `../${good.slice(3)}`,
        `${good.slice(0, 63)}/`,
        good.toUpperCase(),
        good.slice(0, 63),
        `${good}0`,
        '',
        `${good.slice(0, 62)}\0a`,
      ]) {
        await rejectsWith(store.stat(id), 'BLOB_ID_INVALID');
        await rejectsWith(store.open(id), 'BLOB_ID_INVALID');
        await rejectsWith(store.delete(id), 'BLOB_ID_INVALID');
      }
    });

    void test('recover() removes what a crashed upload left, and nothing else', async () => {
      const data = randomBytes(50_000);
      const { sha256 } = await store.put(chunksOf(data, 10_000), { expectedSize: data.length });
      await h.simulateCrashedUpload(randomBytes(30_000));
      await h.simulateCrashedUpload(new Uint8Array(0));
      assert.equal(await h.countLeftovers(), 2);
      const restarted = h.reopen();
      assert.equal((await restarted.usage()).usedBytes, BigInt(data.length), 'leftovers are not counted as blobs');
      assert.equal(await restarted.recover(), 2);
      assert.equal(await h.countLeftovers(), 0);
      assert.equal(await restarted.recover(), 0);
      assert.ok((await readAll(await restarted.open(sha256))).equals(data), 'complete blobs are untouched');
    });

    void test('recover() leaves an upload that is still running alone', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const data = randomBytes(256 * KiB);
      async function* paused(): AsyncGenerator<Uint8Array> {
        yield data.subarray(0, 128 * KiB);
        await gate;
        yield data.subarray(128 * KiB);
      }
      let started!: () => void;
      const progressed = new Promise<void>((r) => (started = r));
      const put = store.put(paused(), { expectedSize: data.length, onProgress: () => started() });
      await progressed;
      await h.simulateCrashedUpload(randomBytes(10));
      assert.equal(await store.recover(), 1, 'only the crashed leftover');
      release();
      assert.equal((await put).sha256, sha256Hex(data));
      assert.ok((await readAll(await store.open(sha256Hex(data)))).equals(data));
    });

    void test('usage() counts blob bytes and reports the filesystem', async () => {
      const empty = await store.usage();
      assert.equal(empty.usedBytes, 0n);
      assert.ok(empty.totalBytes > 0n);
      assert.ok(empty.freeBytes > 0n && empty.freeBytes <= empty.totalBytes);
      const a = randomBytes(70_000);
      const b = randomBytes(MiB + 3);
      await store.put(chunksOf(a, 8192), { expectedSize: a.length });
      const { sha256 } = await store.put(chunksOf(b, 64 * KiB), { expectedSize: b.length });
      assert.equal((await store.usage()).usedBytes, BigInt(a.length + b.length));
      // A store that starts fresh over the same data learns the same figure.
      assert.equal((await h.reopen().usage()).usedBytes, BigInt(a.length + b.length));
      // ...even when a put lands while it is still counting.
      const racing = h.reopen();
      const c = randomBytes(5000);
      await Promise.all([racing.usage(), racing.put(chunksOf(c, 1000), { expectedSize: c.length })]);
      assert.equal((await racing.usage()).usedBytes, BigInt(a.length + b.length + c.length));
      await racing.delete(sha256Hex(c));
      await store.delete(sha256);
      assert.equal((await store.usage()).usedBytes, BigInt(a.length));
    });

    void test('a 64 MiB put streams: memory does not grow by anything like 64 MiB', async () => {
      const total = 64 * MiB;
      const chunk = 64 * KiB;
      const before = process.memoryUsage().rss;
      let peak = before;
      const info = await store.put(patternSource(total, chunk), {
        expectedSize: total,
        onProgress: () => {
          peak = Math.max(peak, process.memoryUsage().rss);
        },
      });
      assert.equal(info.sha256, patternSha256(total, chunk));
      // A sanity check, not a benchmark: GC lag on the source's fresh buffers alone can account
      // for tens of MiB, but a store that held the body would add all 64.
      const growth = (peak - before) / MiB;
      assert.ok(growth < 48, `rss grew by ${growth.toFixed(1)} MiB`);
    });
  });
}
