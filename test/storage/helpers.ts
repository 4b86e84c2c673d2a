// Byte sources and checks shared by the storage tests. Expected hashes are always computed here,
// straight from node:crypto, never by asking the store under test.
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { setImmediate } from 'node:timers/promises';
import type { BlobReader } from '../../src/storage/index.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export function sha256Hex(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Yields `buf` in slices of `size` bytes (the last may be shorter), a turn of the event loop apart as a socket would. */
export async function* chunksOf(buf: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) {
    await setImmediate();
    yield buf.subarray(i, i + size);
  }
}

/** Chunk `i` of a deterministic pattern: a fresh buffer, so nothing downstream can share memory between chunks. */
export function patternChunk(i: number, size: number): Buffer {
  return Buffer.alloc(size, createHash('sha256').update(`chunk ${i}`).digest());
}

export interface Pulled {
  /** Bytes the consumer has taken from the source so far. */
  bytes: number;
  /** True once the generator ran its `finally` (it was closed, not left hanging). */
  closed: boolean;
}

/**
 * `total` bytes of the pattern in `chunkSize` chunks, counting what is pulled into `pulled`.
 * With `stallAfter`, the source stops after that many chunks and never yields again, as a client that went
 * quiet mid-body would (the process stays alive, waiting for it).
 */
export async function* patternSource(
  total: number,
  chunkSize: number,
  pulled: Pulled = { bytes: 0, closed: false },
  stallAfter?: number,
): AsyncGenerator<Uint8Array> {
  try {
    for (let i = 0, sent = 0; sent < total; i++) {
      if (i === stallAfter) await new Promise<never>(() => setInterval(() => undefined, 2 ** 30));
      const n = Math.min(chunkSize, total - sent);
      pulled.bytes += n;
      sent += n;
      yield patternChunk(i, n);
    }
  } finally {
    pulled.closed = true;
  }
}

/** The sha256 of what `patternSource(total, chunkSize)` yields. */
export function patternSha256(total: number, chunkSize: number): string {
  const h = createHash('sha256');
  for (let i = 0, sent = 0; sent < total; i++) {
    const n = Math.min(chunkSize, total - sent);
    h.update(patternChunk(i, n));
    sent += n;
  }
  return h.digest('hex');
}

/**
 * Reads a blob reader to the end into one buffer (test blobs are small), then closes it. The odd buffer size
 * makes reads straddle every power-of-two boundary.
 */
export async function readAll(reader: BlobReader, bufferSize = 7 * KiB + 3): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(bufferSize);
  try {
    for (let n = await reader.read(buf); n > 0; n = await reader.read(buf)) parts.push(Buffer.from(buf.subarray(0, n)));
  } finally {
    await reader.close();
  }
  const all = Buffer.concat(parts);
  assert.equal(all.length, reader.length, 'the reader yields exactly its length');
  return all;
}
