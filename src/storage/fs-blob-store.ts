import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, statfs, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { AgentError } from '../errors/index.ts';
import { errno, fsyncDir, readdirOrEmpty, sizeMismatch, statOrNull, translate } from './fs-util.ts';
import { MeteredFileSink } from './metered-sink.ts';
import { PartialUploads } from './partial-uploads.ts';
import { FileRangeReader } from './range-reader.ts';
import type { BlobInfo, BlobReader, BlobStore, BlobUsage, ByteRange, DeleteOptions, PutOptions } from './types.ts';

/**
 * How much an upload's sink queues before it stops taking more from the socket. Node's default
 * (16 KiB in Node 20) means ~65 000 syscalls per GiB; at 1 MiB the chunks queued while a write is
 * in flight go out in one writev. (Downloads read through `copyBlob`'s own buffers.)
 */
const IO_CHUNK = 1024 * 1024;

/** An upload's bytes are flushed to disk in the background every 64 MiB (see MeteredFileSink). */
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * Blobs are read-only because a blob's name is the hash of its bytes: any write would break that
 * promise. Owner-only (not 0o444) because they are customers' files and no other local user has
 * any business reading them; only this process serves them. Unlink needs write permission on the
 * directory, not the file, so deletion still works.
 */
const BLOB_MODE = 0o400;
const DIR_MODE = 0o700;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const FANOUT_NAME = /^[0-9a-f]{2}$/;

/** How many times `usage()` rescans when puts or deletes keep landing during the scan. */
const SCAN_ATTEMPTS = 5;
/** stat() calls in flight while scanning one fan-out directory. */
const SCAN_PARALLELISM = 64;

/**
 * A BlobStore on a local filesystem.
 *
 * Layout: `<dir>/blobs/ab/cd/<sha256>` (two levels of fan-out, so even a million blobs leave
 * ~15 per directory), `<dir>/tmp/` for uploads in progress, and `<dir>/partial/` for resumable uploads that
 * survive a restart (./partial-uploads.ts). tmp/ sits beside blobs/ on the
 * same filesystem, which makes the final rename atomic: a blob appears whole or not at all.
 *
 * One process owns a directory: `recover()` treats every temp file it did not start as left
 * over from a crash.
 */
export class FsBlobStore implements BlobStore {
  readonly dir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private ready: Promise<void> | undefined;
  /** Temp file names of uploads running in this process; recover() must not remove them. */
  private readonly activeTemps = new Set<string>();
  /** Per-sha256 queue, so a put's commit and a delete of the same blob never interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Running total of blob bytes once a scan has established it; null until then. */
  private usedBytes: bigint | null = null;
  private scan: Promise<bigint> | undefined;
  /** Bumped by every put that adds a blob and every delete, so a scan can tell it raced one. */
  private generation = 0;
  /** {@inheritDoc BlobStore.partials} */
  readonly partials: PartialUploads;

  /**
   * @param opts.dir the store's directory; created (owner-only) on first use.
   */
  constructor(opts: { dir: string }) {
    this.dir = resolve(opts.dir);
    this.blobsDir = join(this.dir, 'blobs');
    this.tmpDir = join(this.dir, 'tmp');
    // partial/ sits beside blobs/ on the same filesystem, so a whole upload is renamed into place, not copied.
    this.partials = new PartialUploads(join(this.dir, 'partial'), (path, file, blob, o) => this.install(path, file, blob, o));
  }

  /** {@inheritDoc BlobStore.put} */
  async put(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: PutOptions): Promise<BlobInfo> {
    const { expectedSize, signal, onProgress, onStored, isReferenced } = opts;
    if (!Number.isSafeInteger(expectedSize) || expectedSize < 0) {
      throw new AgentError('BAD_REQUEST', `expectedSize must be a non-negative integer, got ${String(expectedSize)}`);
    }
    signal?.throwIfAborted();
    await this.init();

    const tempName = `${randomUUID()}.part`;
    const tempPath = join(this.tmpDir, tempName);
    this.activeTemps.add(tempName);
    let fh: FileHandle | undefined;
    let sink: MeteredFileSink | undefined;
    try {
      // Created read-only from the start: permission bits are checked when a file is opened, so
      // this descriptor can still write, and no later chmod needs its own fsync to be durable.
      fh = await open(tempPath, 'wx', BLOB_MODE);
      // No fsync yet: a failed upload's bytes are on their way to deletion. The fsync happens below,
      // only for a body that is going to be kept.
      sink = new MeteredFileSink(fh.fd, {
        expectedSize,
        highWaterMark: IO_CHUNK,
        sizeMismatch: (got) => sizeMismatch(expectedSize, got),
        onProgress,
        flushEvery: FLUSH_EVERY,
      });
      await pipeline(source, sink, signal ? { signal } : {});
      const sha256 = sink.digest();
      signal?.throwIfAborted();
      await this.install(tempPath, fh, { sha256, size: expectedSize }, { onStored, isReferenced });
      return { sha256, size: expectedSize };
    } catch (e) {
      throw translate(e);
    } finally {
      // On failure pipeline() destroys the sink without waiting for it; wait here, so no write is
      // still in flight on the descriptor when it is closed (its number could be reused at once).
      if (sink && !sink.closed) {
        sink.destroy();
        await finished(sink).catch(() => undefined);
      }
      await fh?.close().catch(() => undefined);
      // Gone already when it was renamed into place.
      await unlink(tempPath).catch(() => undefined);
      this.activeTemps.delete(tempName);
    }
  }

  /**
   * Puts a finished temp file (`tempPath`, open as `file`, whose bytes are `blob`) in place under its name,
   * durably, and calls `onStored` under the blob's lock (see PutOptions). Identical bytes already stored are
   * reused: the temp file is then left where it is, for the caller to remove. Used by `put` and by a partial
   * upload's commit (./partial-uploads.ts).
   */
  async install(tempPath: string, file: FileHandle, blob: BlobInfo, opts: Pick<PutOptions, 'onStored' | 'isReferenced'>): Promise<void> {
    const { sha256, size } = blob;
    await this.withLock(sha256, async () => {
      const finalPath = this.blobPath(sha256);
      const existing = await statOrNull(finalPath);
      // Same name means same bytes, so the temp copy is simply dropped (by `finally`). A size
      // that differs can only be a damaged blob: replacing it with the verified copy repairs it.
      let createdHere = false;
      try {
        if (!(existing?.isFile() && existing.size === size)) {
          // Data before name: once the rename is durable, the bytes it points to must be too.
          await file.sync();
          const leaf = dirname(finalPath);
          const created = await mkdir(leaf, { recursive: true, mode: DIR_MODE });
          await rename(tempPath, finalPath);
          createdHere = existing === null;
          this.noteChange(BigInt(size) - BigInt(existing?.isFile() ? existing.size : 0));
          // The rename is only durable once the directory entry is; so are freshly made fan-out
          // directories, whose entries live in their parents.
          await fsyncDir(leaf);
          if (created !== undefined) {
            await fsyncDir(dirname(leaf));
            if (created !== leaf) await fsyncDir(this.blobsDir);
          }
        }
        opts.onStored?.({ sha256, size });
      } catch (e) {
        // The blob is in place but cannot be recorded (the caller's database is full, or an fsync failed:
        // ENOSPC can surface there with delayed allocation): a blob this put brought in would be an orphan
        // nothing points to. Removed here, still under the lock, unless the caller says something else
        // references it; a blob that was already stored was someone else's and stays.
        if (createdHere && !safeIsReferenced(opts.isReferenced, sha256)) await this.removeUnlocked(finalPath, size);
        throw e;
      }
    });
  }

  /** Unlinks a blob the caller holds the lock of; best effort (a failure leaves what recover cannot see: logged by the caller's error). */
  private async removeUnlocked(path: string, size: number): Promise<void> {
    try {
      await unlink(path);
      this.noteChange(-BigInt(size));
      await fsyncDir(dirname(path));
    } catch {
      /* the put's own error is the one to report */
    }
  }

  /** {@inheritDoc BlobStore.stat} */
  async stat(sha256: string): Promise<BlobInfo | null> {
    const path = this.blobPath(sha256);
    const st = await statOrNull(path);
    return st?.isFile() ? { sha256, size: st.size } : null;
  }

  /** {@inheritDoc BlobStore.open} */
  async open(sha256: string, range?: ByteRange): Promise<BlobReader> {
    const path = this.blobPath(sha256);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new AgentError('BLOB_NOT_FOUND', `no blob ${sha256}`, { sha256 });
      throw e;
    }
    // The open handle, not the path, is what the reader reads: a delete meanwhile unlinks the
    // name but the bytes stay readable until the reader closes.
    try {
      const { size } = await fh.stat();
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (range !== undefined && (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= size)) {
        throw new AgentError('BLOB_RANGE_INVALID', `range ${String(start)}-${String(end)} is not within ${size} bytes`, { size });
      }
      return new FileRangeReader(fh, sha256, start, end + 1);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  /** {@inheritDoc BlobStore.delete} */
  async delete(sha256: string, opts: DeleteOptions = {}): Promise<boolean> {
    const path = this.blobPath(sha256);
    return this.withLock(sha256, async () => {
      if (opts.unless?.()) return false;
      const st = await statOrNull(path);
      if (!st?.isFile()) return false;
      try {
        await unlink(path);
      } catch (e) {
        if (errno(e) === 'ENOENT') return false;
        throw e;
      }
      // Without this a crash could bring the blob back: harmless to customers, but its bytes
      // would be counted and never freed.
      await fsyncDir(dirname(path));
      this.noteChange(-BigInt(st.size));
      return true;
    });
  }

  /** {@inheritDoc BlobStore.recover} */
  async recover(): Promise<number> {
    await this.init();
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      if (this.activeTemps.has(name)) continue;
      // tmp/ belongs to the store alone, so anything else in it is a leftover.
      await rm(join(this.tmpDir, name), { force: true, recursive: true });
      removed++;
    }
    return removed + (await this.partials.recover());
  }

  /** {@inheritDoc BlobStore.usage} */
  async usage(): Promise<BlobUsage> {
    await this.init();
    const fsStats = await statfs(this.dir, { bigint: true });
    let used = this.usedBytes;
    if (used === null) {
      this.scan ??= this.establishUsedBytes().finally(() => {
        this.scan = undefined;
      });
      used = await this.scan;
    }
    return {
      usedBytes: used,
      // bavail, not bfree: blocks reserved for root are not ours to sell.
      freeBytes: fsStats.bavail * fsStats.bsize,
      totalBytes: fsStats.blocks * fsStats.bsize,
    };
  }

  /** `<dir>/blobs/ab/cd/<sha256>`, after checking the id cannot name anything else. */
  private blobPath(sha256: string): string {
    // The only thing standing between a hostile id ("../../etc/passwd") and the filesystem.
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
      throw new AgentError('BLOB_ID_INVALID', 'a blob id is 64 lowercase hex digits');
    }
    return join(this.blobsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.blobsDir, { recursive: true, mode: DIR_MODE });
      await mkdir(this.tmpDir, { recursive: true, mode: DIR_MODE });
    })().catch((e: unknown) => {
      this.ready = undefined; // let the next call try again (e.g. after a mount appears)
      throw e;
    });
    return this.ready;
  }

  private noteChange(deltaBytes: bigint): void {
    this.generation++;
    if (this.usedBytes !== null) this.usedBytes += deltaBytes;
  }

  /**
   * Walks blobs/ once to learn the total; after that put and delete keep it up to date. A put or
   * delete landing mid-walk may or may not have been seen, so the walk is repeated until one
   * runs undisturbed (or gives a close-enough figure after a few tries: it only steers pricing).
   */
  private async establishUsedBytes(): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      const before = this.generation;
      const total = await this.sumBlobBytes();
      // Checked and stored in the same synchronous step, so no change can slip in between.
      if (this.generation === before || attempt >= SCAN_ATTEMPTS) {
        this.usedBytes = total;
        return total;
      }
    }
  }

  private async sumBlobBytes(): Promise<bigint> {
    let total = 0n;
    for (const a of await readdirOrEmpty(this.blobsDir)) {
      if (!FANOUT_NAME.test(a)) continue;
      for (const b of await readdirOrEmpty(join(this.blobsDir, a))) {
        if (!FANOUT_NAME.test(b)) continue;
        const leaf = join(this.blobsDir, a, b);
        const names = (await readdirOrEmpty(leaf)).filter((n) => SHA256_HEX.test(n) && n.startsWith(a + b));
        for (let i = 0; i < names.length; i += SCAN_PARALLELISM) {
          const sizes = await Promise.all(
            names.slice(i, i + SCAN_PARALLELISM).map(async (n) => {
              const st = await statOrNull(join(leaf, n));
              return st?.isFile() ? BigInt(st.size) : 0n;
            }),
          );
          for (const s of sizes) total += s;
        }
      }
    }
    return total;
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(() => fn());
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

/** A reference check that fails counts as a reference: keeping a blob is the safe side. */
function safeIsReferenced(check: ((sha256: string) => boolean) | undefined, sha256: string): boolean {
  if (!check) return false;
  try {
    return check(sha256);
  } catch {
    return true;
  }
}
