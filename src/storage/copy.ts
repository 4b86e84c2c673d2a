import type { Writable } from 'node:stream';
import type { BlobReader } from './types.ts';

/**
 * Size of each of the two buffers a copy reuses: a GiB is ~1 000 reads and writes, and a download holds
 * 2 MiB (less for a smaller file) however large it is. With 256 KiB the per-chunk round trips cost a
 * third of the throughput (`npm run bench -- download`: 0.65-0.77x of nginx, against 1.08-1.15x at 1 MiB).
 */
const COPY_CHUNK = 1024 * 1024;

/**
 * Each buffer goes to `dest` in pieces of this size, one after the other, and `onWritten` counts a piece once
 * `dest` has written it to the socket: what is counted is what left the process (less at most one piece still
 * being written), not a whole buffer that is only queued. The kernel's socket buffers still hold bytes that
 * count as sent.
 */
const WRITE_PIECE = 64 * 1024;

/**
 * Copies everything `reader` yields into `dest` (an HTTP response, a socket), reusing two buffers for the
 * whole copy: while one is being written the other is filled. A buffer is refilled only once `dest` has
 * taken it (its write callback ran), so nothing is overwritten before it is sent.
 *
 * A stream pipe would instead allocate a fresh buffer for every read. At line rate that is a GiB of
 * garbage per GiB sent, which V8 collects only after tens of MB have piled up, in many full collections;
 * with reused buffers a download allocates almost nothing, however large it is.
 *
 * `onWritten(n)` is called as each piece (WRITE_PIECE) is written by `dest`, so the caller can charge what was
 * sent even when the copy is cut short. Does not end or destroy `dest`, and does not close `reader`.
 * @throws the reader's error (e.g. AgentError BLOB_TRUNCATED) or `dest`'s (e.g. the client hung up:
 *   ERR_STREAM_PREMATURE_CLOSE when `dest` closes with a write outstanding)
 */
export async function copyBlob(reader: BlobReader, dest: Writable, onWritten: (bytes: number) => void = () => undefined): Promise<void> {
  const size = Math.min(COPY_CHUNK, Math.max(1, reader.length));
  const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  // A write per buffer, still outstanding or settled. Each is awaited before its buffer is refilled and once
  // more at the end, and never left rejected without a handler.
  const writes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  // The buffers' writes in order: a buffer's pieces start once the previous buffer's are all written.
  let tail: Promise<void> = Promise.resolve();
  // The first write failure, set by a write's handler while the loop awaits something else.
  let failure: Error | undefined;
  const fail = (e: unknown) => {
    failure ??= e instanceof Error ? e : new Error(String(e));
  };
  const throwIfFailed = () => {
    if (failure) throw failure;
  };
  try {
    for (let i = 0; ; i ^= 1) {
      const buf = buffers[i] as Buffer;
      await writes[i];
      throwIfFailed();
      const n = await reader.read(buf);
      if (n === 0) break;
      throwIfFailed();
      const chunk = buf.subarray(0, n);
      tail = tail.then(() => writePieces(dest, chunk, onWritten));
      writes[i] = tail.catch(fail);
    }
    await Promise.all(writes);
    throwIfFailed();
  } catch (e) {
    // The other buffer's write may still be outstanding; it must not outlive this call unhandled.
    await Promise.all(writes);
    throwIfFailed();
    throw e;
  }
}

/** Writes `chunk` in pieces, each once the one before is written, counting each as it is. */
async function writePieces(dest: Writable, chunk: Buffer, onWritten: (bytes: number) => void): Promise<void> {
  for (let at = 0; at < chunk.length; at += WRITE_PIECE) {
    const piece = chunk.subarray(at, Math.min(at + WRITE_PIECE, chunk.length));
    await writeChunk(dest, piece);
    onWritten(piece.length);
  }
}

/** `dest.write(chunk)` as a promise: resolves when `dest` has taken the chunk, rejects if it fails or closes first. */
function writeChunk(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (dest.destroyed || dest.writableEnded) {
      reject(prematureClose());
      return;
    }
    const onClose = () => reject(prematureClose());
    dest.once('close', onClose);
    dest.write(chunk, (err) => {
      dest.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('the destination closed before the copy finished'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
