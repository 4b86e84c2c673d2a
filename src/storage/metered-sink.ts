/**
 * The end of an upload's pipeline: counts, caps and hashes the body in one pass and writes it to a file
 * descriptor it does not own, gathering the chunks that arrive while a write is in flight into one writev.
 *
 * One stream with callback-style writes, so each chunk crosses one stream and no promise on its way to disk
 * (`npm run bench -- upload` prints the agent's CPU time per GiB beside its throughput).
 */
import { createHash, type Hash } from 'node:crypto';
import { fdatasync, writev } from 'node:fs';
import { Writable } from 'node:stream';
import { noteShortLivedBytes } from './young-gc.ts';

export interface MeteredFileSinkOptions {
  /** How many bytes the body must have: one more fails the chunk that brings it, one fewer fails the end. */
  expectedSize: number;
  /** Bytes queued while a write is in flight before the source is told to wait (1 MiB: ~1000 writes per GiB). */
  highWaterMark: number;
  /** The error for a body of the wrong length; `got` is its length, or "more than N". */
  sizeMismatch: (got: string) => Error;
  /** Called with the bytes received so far, as each batch is accepted; an exception fails the upload. */
  onProgress?: ((bytes: number) => void) | undefined;
  /**
   * Starts an fdatasync in the background each time this many more bytes have been written (none while one
   * is still running), so the disk writes the body while it arrives and the fsync that makes the upload
   * durable has only the tail left to wait for. 0: never.
   */
  flushEvery?: number;
  /** A body shorter than `expectedSize` is fine too (a tus PATCH, which may send part of what is left). */
  atMost?: boolean;
  /** The hash to carry on (a partial upload's, over the bytes before these); a new one by default. */
  hash?: Hash;
}

export class MeteredFileSink extends Writable {
  readonly #fd: number;
  readonly #opts: MeteredFileSinkOptions;
  readonly #hash: Hash;
  #received = 0;
  #written = 0;
  #flushedAt = 0;
  /** The write and the background flush in flight, if any: the descriptor must outlive both. */
  #writing: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;

  /** @param fd open for writing; the caller closes it, after this stream has finished or been destroyed. */
  constructor(fd: number, opts: MeteredFileSinkOptions) {
    super({ highWaterMark: opts.highWaterMark });
    this.#fd = fd;
    this.#opts = opts;
    this.#hash = opts.hash ?? createHash('sha256');
  }

  /** Bytes written to the descriptor so far (those whose write completed). */
  get written(): number {
    return this.#written;
  }

  /** Bytes accepted and hashed so far: more than `written` only while a write is in flight, or after one failed. */
  get received(): number {
    return this.#received;
  }

  /** The sha256 (hex) of every byte written. Call once, after the stream has finished. */
  digest(): string {
    return this.#hash.digest('hex');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#take([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#take(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    const error = this.#received === this.#opts.expectedSize || this.#opts.atMost ? null : this.#opts.sizeMismatch(String(this.#received));
    void this.#idle().then(() => callback(error));
  }

  // A destroy (pipeline() on any failure) can come while a write or flush is in flight; 'close' waits for them,
  // so whoever closes the descriptor after it never closes one a thread-pool call is still using.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.#idle().then(() => callback(error));
  }

  async #idle(): Promise<void> {
    await this.#writing;
    await this.#flushing;
  }

  #take(buffers: Buffer[], callback: (error?: Error | null) => void): void {
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    // Failing the batch that crosses the limit makes pipeline() destroy the source, so an oversized body
    // is never read further than that, and none of that batch is written.
    if (this.#received + bytes > this.#opts.expectedSize) {
      callback(this.#opts.sizeMismatch(`more than ${this.#opts.expectedSize}`));
      return;
    }
    this.#received += bytes;
    noteShortLivedBytes(bytes);
    for (const b of buffers) this.#hash.update(b);
    try {
      this.#opts.onProgress?.(this.#received);
    } catch (e) {
      callback(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.#writing = new Promise((resolve) => {
      writeAll(this.#fd, buffers, bytes, (err) => {
        resolve();
        if (!err) this.#wrote(bytes);
        callback(err);
      });
    });
  }

  #wrote(bytes: number): void {
    this.#written += bytes;
    const every = this.#opts.flushEvery ?? 0;
    if (every <= 0 || this.#flushing !== undefined || this.#written - this.#flushedAt < every) return;
    this.#flushedAt = this.#written;
    // Its outcome does not matter: the caller's fsync at the end is what makes the upload durable, and reports.
    this.#flushing = new Promise((resolve) => {
      fdatasync(this.#fd, () => {
        this.#flushing = undefined;
        resolve();
      });
    });
  }
}

/** writev until every byte of `buffers` is written (a regular file may take fewer bytes than asked). */
function writeAll(fd: number, buffers: Buffer[], bytes: number, callback: (error?: Error | null) => void): void {
  writev(fd, buffers, (err, written) => {
    if (err) {
      callback(err);
      return;
    }
    if (written === bytes) {
      callback();
      return;
    }
    if (written === 0) {
      callback(new Error(`write made no progress with ${bytes} bytes left`));
      return;
    }
    let skip = written;
    const rest: Buffer[] = [];
    for (const b of buffers) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    writeAll(fd, rest, bytes - written, callback);
  });
}
