// copyBlob: a blob reader into a Writable through two reused buffers. What matters is that a buffer is never
// refilled before the destination has taken it, that every byte is reported as it is taken, and that a
// destination that goes away or a damaged blob ends the copy with an error rather than a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { copyBlob, FsBlobStore } from '../../src/storage/index.ts';
import type { BlobReader } from '../../src/storage/index.ts';
import { AgentError } from '../../src/errors/index.ts';
import { KiB, MiB, chunksOf } from './helpers.ts';

async function withStore(fn: (store: FsBlobStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'storj-copy-'));
  try {
    await fn(new FsBlobStore({ dir }), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A destination that takes each chunk late, as a slow socket would, and copies it at that moment: a chunk of
 * the k-th buffer read (copyBlob writes a buffer in pieces) is taken only once the reader has settled k + 2
 * reads (so copyBlob has had every chance to refill that buffer early), and then on the next turn of the event
 * loop, after whatever copyBlob does next. Had copyBlob refilled a buffer before its last piece's write
 * callback, the copy would hold the wrong bytes and `early` would count it. Chunks are paced by the reader's
 * events, never by a timer.
 */
class LateSink extends Writable {
  readonly parts: Buffer[] = [];
  /** Buffers handed to write() and not yet taken. */
  readonly #held = new Set<ArrayBufferLike>();
  /** Bytes handed to _write so far: which buffer a chunk came from (copyBlob reads min(1 MiB, length) at a time). */
  #offset = 0;
  constructor(private readonly reader: WatchedReader) {
    super({ highWaterMark: 1 });
  }
  holds(buf: Uint8Array): boolean {
    return this.#held.has(buf.buffer);
  }
  override write(chunk: Buffer, encodingOrCb?: BufferEncoding | ((error: Error | null | undefined) => void), cb?: (error: Error | null | undefined) => void): boolean {
    this.#held.add(chunk.buffer);
    return super.write(chunk, encodingOrCb as BufferEncoding, cb);
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const k = Math.floor(this.#offset / Math.min(MiB, Math.max(1, this.reader.length)));
    this.#offset += chunk.length;
    void this.reader.settled(k + 2).then(() =>
      setImmediate(() => {
        if (this.destroyed) {
          cb(new Error('destroyed'));
          return;
        }
        this.parts.push(Buffer.from(chunk));
        this.#held.delete(chunk.buffer);
        cb();
        this.emit('took', this.parts.length);
      }),
    );
  }
}

/** The store's reader, counting its reads as they settle and every read into a buffer the sink still holds. */
class WatchedReader implements BlobReader {
  #settled = 0;
  #waiters: Array<{ n: number; wake: () => void }> = [];
  sink: LateSink | undefined;
  /** Reads into a buffer the destination had not taken yet: copyBlob must never make one. */
  early = 0;
  constructor(private readonly inner: BlobReader) {}
  get length(): number {
    return this.inner.length;
  }
  async read(buf: Uint8Array): Promise<number> {
    if (this.sink?.holds(buf)) this.early++;
    try {
      return await this.inner.read(buf);
    } finally {
      this.#settled++;
      this.#waiters = this.#waiters.filter((w) => (w.n <= this.#settled ? (w.wake(), false) : true));
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Resolves once `n` reads have settled (never, if the copy stops before). */
  settled(n: number): Promise<void> {
    if (this.#settled >= n) return Promise.resolve();
    return new Promise((wake) => this.#waiters.push({ n, wake }));
  }
}

/** A reader of `sha256` (or a range of it) and a late destination paced by it. */
async function lateCopy(store: FsBlobStore, sha256: string, range?: { start: number; end: number }): Promise<{ reader: WatchedReader; sink: LateSink }> {
  const reader = new WatchedReader(await store.open(sha256, range));
  const sink = new LateSink(reader);
  reader.sink = sink;
  return { reader, sink };
}

void test('copies every byte, in order, to a slow destination, and reports each piece as it is taken', async () => {
  await withStore(async (store) => {
    const data = randomBytes(3 * MiB + 17);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const { reader, sink } = await lateCopy(store, sha256);
    const reported: number[] = [];
    await copyBlob(reader, sink, (n) => reported.push(n));
    await reader.close();
    assert.equal(reader.early, 0, 'no buffer was refilled before the destination took it');
    const got = Buffer.concat(sink.parts);
    assert.ok(got.equals(data), 'the destination got the blob exactly');
    assert.equal(reported.reduce((a, b) => a + b, 0), data.length);
    assert.ok(reported.length > 2, 'a 3 MiB blob goes in several chunks, each reported');
    assert.ok(Math.max(...reported) <= 64 * KiB, 'in pieces of at most 64 KiB, each counted once written');
  });
});

void test('a range copies exactly its bytes; an empty blob copies nothing', async () => {
  await withStore(async (store) => {
    const data = randomBytes(MiB);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const { reader, sink } = await lateCopy(store, sha256, { start: 1000, end: 700_000 });
    await copyBlob(reader, sink);
    await reader.close();
    assert.equal(reader.early, 0);
    assert.ok(Buffer.concat(sink.parts).equals(data.subarray(1000, 700_001)));

    const empty = await store.put(chunksOf(new Uint8Array(0), 1), { expectedSize: 0 });
    const { reader: emptyReader, sink: emptySink } = await lateCopy(store, empty.sha256);
    let reported = 0;
    await copyBlob(emptyReader, emptySink, (n) => (reported += n));
    await emptyReader.close();
    assert.equal(emptySink.parts.length, 0);
    assert.equal(reported, 0);
  });
});

void test('a destination destroyed mid-copy ends it with an error, having reported only what it took', async () => {
  await withStore(async (store) => {
    const data = randomBytes(4 * MiB);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const { reader, sink } = await lateCopy(store, sha256);
    let reported = 0;
    // Destroyed as soon as it has taken its second chunk: an event, not a moment on a timer.
    const tookTwo = new Promise<void>((resolve) => sink.on('took', (n: number) => n === 2 && resolve()));
    const copy = copyBlob(reader, sink, (n) => (reported += n));
    await tookTwo;
    sink.destroy();
    await assert.rejects(copy, (e: NodeJS.ErrnoException) => e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.code === 'ERR_STREAM_DESTROYED');
    await reader.close();
    assert.ok(reported < data.length, 'the copy stopped early');
    assert.equal(reported, Buffer.concat(sink.parts).length, 'what was reported is what the destination took');
  });
});

void test('a blob shorter on disk than its size ends the copy with BLOB_TRUNCATED after the bytes it had', async () => {
  await withStore(async (store, dir) => {
    const data = randomBytes(2 * MiB);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const { reader, sink } = await lateCopy(store, sha256);
    // Damage on disk after the reader was opened: the file handle sees the shortened file.
    const path = join(dir, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    await chmod(path, 0o600);
    await truncate(path, MiB + 5);
    let reported = 0;
    await assert.rejects(copyBlob(reader, sink, (n) => (reported += n)), (e: unknown) => e instanceof AgentError && e.code === 'BLOB_TRUNCATED');
    await reader.close();
    assert.equal(reported, MiB + 5);
    assert.ok(Buffer.concat(sink.parts).equals(data.subarray(0, MiB + 5)));
  });
});
