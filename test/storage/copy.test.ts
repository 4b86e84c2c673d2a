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
import { setTimeout as sleep } from 'node:timers/promises';
import { copyBlob, FsBlobStore } from '../../src/storage/index.ts';
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
 * A destination that takes each chunk only after a delay and copies it at that moment, as a slow socket
 * would: had copyBlob refilled the buffer before the callback, the copy would hold the wrong bytes.
 */
class SlowSink extends Writable {
  readonly parts: Buffer[] = [];
  constructor(private readonly delayMs: number) {
    super({ highWaterMark: 1 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    setTimeout(() => {
      if (this.destroyed) {
        cb(new Error('destroyed'));
        return;
      }
      this.parts.push(Buffer.from(chunk));
      cb();
    }, this.delayMs);
  }
}

void test('copies every byte, in order, to a slow destination, and reports each chunk as it is taken', async () => {
  await withStore(async (store) => {
    const data = randomBytes(3 * MiB + 17);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const reader = await store.open(sha256);
    const sink = new SlowSink(2);
    const reported: number[] = [];
    await copyBlob(reader, sink, (n) => reported.push(n));
    await reader.close();
    const got = Buffer.concat(sink.parts);
    assert.ok(got.equals(data), 'the destination got the blob exactly');
    assert.equal(reported.reduce((a, b) => a + b, 0), data.length);
    assert.ok(reported.length > 2, 'a 3 MiB blob goes in several chunks, each reported');
  });
});

void test('a range copies exactly its bytes; an empty blob copies nothing', async () => {
  await withStore(async (store) => {
    const data = randomBytes(MiB);
    const { sha256 } = await store.put(chunksOf(data, 64 * KiB), { expectedSize: data.length });
    const reader = await store.open(sha256, { start: 1000, end: 700_000 });
    const sink = new SlowSink(0);
    await copyBlob(reader, sink);
    await reader.close();
    assert.ok(Buffer.concat(sink.parts).equals(data.subarray(1000, 700_001)));

    const empty = await store.put(chunksOf(new Uint8Array(0), 1), { expectedSize: 0 });
    const emptyReader = await store.open(empty.sha256);
    const emptySink = new SlowSink(0);
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
    const reader = await store.open(sha256);
    const sink = new SlowSink(5);
    let reported = 0;
    const copy = copyBlob(reader, sink, (n) => (reported += n));
    await sleep(12);
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
    const reader = await store.open(sha256);
    // Damage on disk after the reader was opened: the file handle sees the shortened file.
    const path = join(dir, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    await chmod(path, 0o600);
    await truncate(path, MiB + 5);
    const sink = new SlowSink(0);
    let reported = 0;
    await assert.rejects(copyBlob(reader, sink, (n) => (reported += n)), (e: unknown) => e instanceof AgentError && e.code === 'BLOB_TRUNCATED');
    await reader.close();
    assert.equal(reported, MiB + 5);
    assert.ok(Buffer.concat(sink.parts).equals(data.subarray(0, MiB + 5)));
  });
});
