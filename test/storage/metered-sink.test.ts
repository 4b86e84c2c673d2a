// MeteredFileSink, the end of an upload's pipeline: the bytes reach the file whole and in order with their
// sha256, a body that grows past its size is cut off before the batch that crosses it is written, and the
// descriptor is never left to a write or flush still in flight once the stream has closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { MeteredFileSink } from '../../src/storage/metered-sink.ts';
import { KiB, MiB, chunksOf, sha256Hex } from './helpers.ts';

async function withFile(fn: (fd: number, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'storj-sink-'));
  const path = join(dir, 'body');
  const fd = openSync(path, 'wx');
  try {
    await fn(fd, path);
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

function sink(fd: number, expectedSize: number, extra: { flushEvery?: number; onProgress?: (n: number) => void } = {}): MeteredFileSink {
  return new MeteredFileSink(fd, { expectedSize, highWaterMark: 64 * KiB, sizeMismatch: (got) => new Error(`size ${got}`), ...extra });
}

test('every byte reaches the file in order, with its sha256, while background flushes run', async () => {
  await withFile(async (fd, path) => {
    const body = randomBytes(3 * MiB + 17);
    const seen: number[] = [];
    const s = sink(fd, body.length, { flushEvery: 256 * KiB, onProgress: (n) => seen.push(n) });
    await pipeline(chunksOf(body, 61 * KiB + 5), s);
    assert.equal(s.digest(), sha256Hex(body));
    assert.ok(readFileSync(path).equals(body));
    assert.equal(seen.at(-1), body.length);
    assert.ok(seen.every((n, i) => i === 0 || n > (seen[i - 1] ?? 0)), 'progress only grows');
  });
});

test('a body longer than its size fails at the batch that crosses it, which is not written', async () => {
  await withFile(async (fd) => {
    const body = randomBytes(200 * KiB);
    await assert.rejects(pipeline(chunksOf(body, 64 * KiB), sink(fd, 150 * KiB)), /size more than 153600/);
    assert.equal(fstatSync(fd).size, 128 * KiB, 'the first two chunks only');
  });
});

test('a body shorter than its size fails at the end', async () => {
  await withFile(async (fd) => {
    await assert.rejects(pipeline(chunksOf(randomBytes(10 * KiB), 4 * KiB), sink(fd, 11 * KiB)), /size 10240/);
  });
});

test('a destroy while a write is in flight closes only after that write has finished with the descriptor', async () => {
  await withFile(async (fd) => {
    const s = sink(fd, 64 * MiB);
    const chunk = randomBytes(32 * MiB);
    s.write(chunk);
    s.destroy(new Error('client went away'));
    await finished(s).catch(() => undefined);
    // Had 'close' come at once, the caller would close the descriptor under a write the thread pool was
    // still making (and a reused descriptor number would take its bytes).
    assert.equal(fstatSync(fd).size, chunk.length);
  });
});
