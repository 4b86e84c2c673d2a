/**
 * Partial uploads (a tus upload's bytes so far, docs/uploads.md): kept across restarts in `<store>/partial/`
 * until the upload is whole and committed as a blob, terminated, or dropped by the host's expiry.
 *
 * Each upload `key` is two files: `<key>.data`, its bytes, and `<key>.state`, `{"offset", "updatedAt"}`. The
 * offset is written (to a temp file renamed over the old one, then the directory fsynced) only after the data
 * up to it has been fsynced, so the recorded offset is always durable. Bytes past it (written before a crash,
 * never fsynced or never recorded) are cut off the next time the upload is looked at: the upload resumes from
 * the recorded offset.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { AgentError } from '../errors/index.ts';
import { errno, fsyncDir, readdirOrEmpty, sizeMismatch, statOrNull, translate } from './fs-util.ts';
import { MeteredFileSink } from './metered-sink.ts';
import type { AppendOptions, BlobInfo, PartialState, PartialUploadStore, PutOptions } from './types.ts';

/** Keys name files: a short run of base64url characters and nothing else (an upload id). */
const KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Writable by the agent while it grows; made read-only (as every blob is) just before it becomes one. */
const PARTIAL_MODE = 0o600;
const BLOB_MODE = 0o400;
const DIR_MODE = 0o700;
/** As in ./fs-blob-store.ts: the sink's queue, and a background flush every 64 MiB. */
const IO_CHUNK = 1024 * 1024;
const FLUSH_EVERY = 64 * 1024 * 1024;

/** Moves a finished file into the blob store under its sha256 (FsBlobStore.install). */
type Install = (tempPath: string, file: FileHandle, blob: BlobInfo, opts: Pick<PutOptions, 'onStored' | 'isReferenced'>) => Promise<void>;

export class PartialUploads implements PartialUploadStore {
  readonly #dir: string;
  readonly #install: Install;
  /** Keys being written or committed now: their files are not cut back or removed under them. */
  readonly #busy = new Set<string>();
  /** The running sha256 of each upload's durable bytes, while this process has seen them all. */
  readonly #hashes = new Map<string, { hash: Hash; at: number }>();
  #ready: Promise<void> | undefined;

  constructor(dir: string, install: Install) {
    this.#dir = dir;
    this.#install = install;
  }

  /** {@inheritDoc PartialUploadStore.create} */
  async create(key: string, at: number): Promise<void> {
    const { data } = this.#paths(key);
    await this.#exclusive(key, async () => {
      await this.#init();
      this.#hashes.delete(key);
      try {
        const fh = await open(data, 'w', PARTIAL_MODE);
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await this.#writeState(key, { offset: 0, updatedAt: at });
      } catch (e) {
        throw translate(e);
      }
    });
  }

  /** {@inheritDoc PartialUploadStore.state} */
  async state(key: string): Promise<PartialState | null> {
    const { data } = this.#paths(key);
    const s = await this.#readState(key);
    if (s === null || this.#busy.has(key)) return s;
    const st = await statOrNull(data);
    if (!st?.isFile() || st.size < s.offset) {
      // Bytes the state says were fsynced are missing: the files were damaged; the upload starts again.
      await this.#removeFiles(key);
      return null;
    }
    if (st.size > s.offset) await truncate(data, s.offset);
    return s;
  }

  /** {@inheritDoc PartialUploadStore.append} */
  async append(key: string, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, o: AppendOptions): Promise<number> {
    const { data } = this.#paths(key);
    const s = await this.state(key);
    if (s === null) throw new AgentError('NOT_FOUND', 'no such partial upload');
    if (s.offset !== o.offset) throw new Error(`append at ${o.offset} to partial upload ${key}, whose offset is ${s.offset}`);
    return this.#exclusive(key, async () => {
      const hash = await this.#hashAt(key, o.offset);
      let fh: FileHandle | undefined;
      let sink: MeteredFileSink | undefined;
      let failure: unknown;
      try {
        fh = await open(data, 'a');
        sink = new MeteredFileSink(fh.fd, {
          expectedSize: o.size - o.offset,
          atMost: true,
          hash,
          highWaterMark: IO_CHUNK,
          sizeMismatch: (got) => sizeMismatch(o.size - o.offset, got),
          onProgress: o.onProgress,
          flushEvery: FLUSH_EVERY,
        });
        try {
          await pipeline(body, sink, o.signal ? { signal: o.signal } : {});
        } catch (e) {
          failure = e;
        }
        if (!sink.closed) sink.destroy();
        await finished(sink).catch(() => undefined);
        if (failure instanceof AgentError && failure.code === 'UPLOAD_SIZE_MISMATCH') {
          // More than the upload's length: none of this request's bytes are kept.
          await fh.truncate(o.offset);
          throw failure;
        }
        // Whatever arrived before the body ended or broke off is kept: fsynced, then recorded.
        const offset = o.offset + sink.written;
        if (offset !== o.offset) {
          await fh.datasync();
          await this.#writeState(key, { offset, updatedAt: o.at() });
        }
        if (sink.received === sink.written) this.#hashes.set(key, { hash, at: offset });
        else this.#hashes.delete(key);
        if (failure !== undefined) throw failure instanceof Error ? failure : new Error('the body of the append failed');
        return offset;
      } catch (e) {
        throw translate(e);
      } finally {
        await fh?.close().catch(() => undefined);
      }
    });
  }

  /** {@inheritDoc PartialUploadStore.commit} */
  async commit(key: string, size: number, opts: Pick<PutOptions, 'onStored' | 'isReferenced'>): Promise<BlobInfo> {
    const { data } = this.#paths(key);
    const s = await this.state(key);
    if (s?.offset !== size) throw new Error(`commit of partial upload ${key} at ${s?.offset ?? 'none'} of ${size} bytes`);
    return this.#exclusive(key, async () => {
      const sha256 = (await this.#hashAt(key, size)).digest('hex');
      const fh = await open(data, 'r');
      try {
        await fh.chmod(BLOB_MODE);
        await this.#install(data, fh, { sha256, size }, opts);
      } catch (e) {
        throw translate(e);
      } finally {
        await fh.close().catch(() => undefined);
      }
      // Moved into place, or identical bytes were there already: either way the partial upload is done.
      await this.#removeFiles(key);
      return { sha256, size };
    });
  }

  /** {@inheritDoc PartialUploadStore.remove} */
  async remove(key: string): Promise<boolean> {
    this.#paths(key);
    return this.#exclusive(key, () => this.#removeFiles(key));
  }

  /** {@inheritDoc PartialUploadStore.list} */
  async list(): Promise<Array<PartialState & { key: string }>> {
    const out: Array<PartialState & { key: string }> = [];
    for (const name of await readdirOrEmpty(this.#dir)) {
      const key = name.endsWith('.state') ? name.slice(0, -'.state'.length) : '';
      if (!KEY_RE.test(key)) continue;
      const s = await this.#readState(key);
      if (s) out.push({ key, ...s });
    }
    return out;
  }

  /**
   * Removes what a crash in the middle of a removal or a state write left in partial/: data without a state,
   * and half-written states. Uploads with a state are kept: they resume. Returns how many files went.
   */
  async recover(): Promise<number> {
    const names = await readdirOrEmpty(this.#dir);
    const states = new Set(names.filter((n) => n.endsWith('.state')).map((n) => n.slice(0, -'.state'.length)));
    let removed = 0;
    for (const name of names) {
      const leftover = name.endsWith('.state.new') || (name.endsWith('.data') && !states.has(name.slice(0, -'.data'.length)));
      if (!leftover || this.#busy.has(name.split('.')[0] ?? '')) continue;
      await unlink(join(this.#dir, name)).catch(() => undefined);
      removed++;
    }
    return removed;
  }

  #paths(key: string): { data: string; state: string } {
    if (typeof key !== 'string' || !KEY_RE.test(key)) throw new AgentError('BAD_REQUEST', 'a partial upload key is 1 to 64 base64url characters');
    return { data: join(this.#dir, `${key}.data`), state: join(this.#dir, `${key}.state`) };
  }

  async #exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy.has(key)) throw new Error(`partial upload ${key} is busy`);
    this.#busy.add(key);
    try {
      return await fn();
    } finally {
      this.#busy.delete(key);
    }
  }

  /** The sha256 state after the first `at` bytes: the one kept in memory, or read back from the file (after a restart). */
  async #hashAt(key: string, at: number): Promise<Hash> {
    const kept = this.#hashes.get(key);
    if (kept?.at === at) return kept.hash.copy();
    const hash = createHash('sha256');
    if (at > 0) {
      for await (const chunk of createReadStream(this.#paths(key).data, { start: 0, end: at - 1, highWaterMark: IO_CHUNK })) hash.update(chunk as Buffer);
    }
    return hash;
  }

  async #readState(key: string): Promise<PartialState | null> {
    let text: string;
    try {
      text = await readFile(this.#paths(key).state, 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw e;
    }
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || !('offset' in v) || !('updatedAt' in v) || !Number.isSafeInteger(v.offset) || !Number.isSafeInteger(v.updatedAt)) {
      throw new Error(`the state of partial upload ${key} is damaged`);
    }
    return { offset: Number(v.offset), updatedAt: Number(v.updatedAt) };
  }

  async #writeState(key: string, s: PartialState): Promise<void> {
    const { state } = this.#paths(key);
    const temp = `${state}.new`;
    await writeFile(temp, JSON.stringify(s), { mode: PARTIAL_MODE, flush: true });
    await rename(temp, state);
    await fsyncDir(this.#dir);
  }

  async #removeFiles(key: string): Promise<boolean> {
    const { data, state } = this.#paths(key);
    this.#hashes.delete(key);
    let existed = false;
    // The state first: without it the data is a leftover nothing resumes, which the next list() skips.
    for (const path of [state, data]) {
      try {
        await unlink(path);
        existed = true;
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw e;
      }
    }
    if (existed) await fsyncDir(this.#dir);
    return existed;
  }

  #init(): Promise<void> {
    this.#ready ??= mkdir(this.#dir, { recursive: true, mode: DIR_MODE }).then(
      () => undefined,
      (e: unknown) => {
        this.#ready = undefined;
        throw e;
      },
    );
    return this.#ready;
  }
}
