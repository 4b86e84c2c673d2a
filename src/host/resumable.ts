/**
 * Resumable uploads (tus 1.0: core, creation, termination; docs/uploads.md): a paid upload's bytes arrive in
 * as many requests as the client needs, each appended to a partial upload in the blob store that survives a
 * restart. The offset reported is always fsynced. When the last byte is in, the upload completes exactly as a
 * PUT does (Uploads.completion): nothing of it is visible before.
 */
import { AgentError } from '../errors/index.ts';
import type { BlobStore } from '../storage/index.ts';
import type { Uploads } from './uploads.ts';
import { tell, type HostDeps } from './types.ts';

/** A partial upload nobody has added to for this long is removed by the expiry job (docs/uploads.md). */
const PARTIAL_IDLE_MS = 7 * 86_400_000;
/** How long a HEAD waits for a PATCH of the same upload to end before it answers the durable offset it has. */
const SETTLE_WAIT_MS = 2000;

interface ResumableDeps extends Pick<HostDeps, 'now' | 'events' | 'config'> {
  blobs: BlobStore;
  uploads: Uploads;
  /** Whether upload `id` still waits for its bytes (false once complete, or when there is no such upload). */
  pending: (id: string) => boolean;
}

/** Where an upload stands: how many of its bytes the agent holds, durably, and its file once whole. */
export interface ResumableState {
  size: number;
  offset: number;
  file?: { fileId: string; size: number; sha256: string };
}

export class Resumable {
  readonly #d: ResumableDeps;

  constructor(deps: ResumableDeps) {
    this.#d = deps;
  }

  /** The largest upload the agent quotes (config maxFileSize), for Tus-Max-Size. */
  get maxSize(): number {
    return this.#d.config.maxFileSize;
  }

  /**
   * Starts (or starts again from zero) the resumable upload of a paid quote. `length` must be the quote's size.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, PAYMENT_REQUIRED, UPLOAD_SIZE_MISMATCH, UPLOAD_IN_PROGRESS
   */
  async create(id: string, token: string | undefined, length: number): Promise<ResumableState> {
    const { size } = this.#d.uploads.admit(id, token);
    if (length !== size) throw new AgentError('UPLOAD_SIZE_MISMATCH', `Upload-Length is ${length} but the upload is for ${size} bytes`, { size });
    if (this.#d.uploads.busy(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    await this.#d.blobs.partials.create(id, this.#d.now().getTime());
    return { size, offset: 0 };
  }

  /**
   * The upload's durable offset; for a complete upload, its length and its file.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND (no such upload, or none started with `create`)
   */
  async state(id: string, token: string | undefined): Promise<ResumableState> {
    const f = this.#d.uploads.file(id, token);
    const size = Number(f.size);
    if (f.state !== 'pending' && f.sha256 !== null) return { size, offset: size, file: { fileId: f.id, size, sha256: f.sha256 } };
    // A PATCH whose connection just dropped is still making what it brought durable: the offset waits for it
    // (a little), or a client resuming at once would be told less than the agent keeps and send it again.
    await this.#d.uploads.settled(id, SETTLE_WAIT_MS);
    const s = await this.#d.blobs.partials.state(id);
    if (!s) throw new AgentError('NOT_FOUND', 'no resumable upload was started for this upload (POST /v1/tus)');
    return { size, offset: s.offset };
  }

  /**
   * Appends `body` at `offset`, which must be the durable offset. Bytes that arrive before the body breaks off
   * are kept. The request that brings the last byte completes the upload as a PUT would.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, PAYMENT_REQUIRED, UPLOAD_OFFSET_MISMATCH,
   * UPLOAD_SIZE_MISMATCH (more bytes than the length: none of them kept), UPLOAD_IN_PROGRESS, INSUFFICIENT_STORAGE,
   * DEGRADED, STORAGE_FULL
   */
  async append(id: string, token: string | undefined, offset: number, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: { contentLength?: number; signal?: AbortSignal } = {}): Promise<ResumableState> {
    const { uploads, blobs } = this.#d;
    const { f, size } = uploads.admit(id, token);
    if (uploads.busy(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    const s = await blobs.partials.state(id);
    if (!s) throw new AgentError('NOT_FOUND', 'no resumable upload was started for this upload (POST /v1/tus)');
    if (offset !== s.offset) throw new AgentError('UPLOAD_OFFSET_MISMATCH', `Upload-Offset is ${offset} but the agent holds ${s.offset} bytes of this upload; resume from there`, { offset: s.offset });
    const left = size - offset;
    if (opts.contentLength !== undefined && opts.contentLength > left) {
      throw new AgentError('UPLOAD_SIZE_MISMATCH', `the body is ${opts.contentLength} bytes but only ${left} of the upload's ${size} are missing; nothing was kept`, { size, offset });
    }
    return uploads.receiving(id, left, async (progress) => {
      const now = () => this.#d.now().getTime();
      const end = await blobs.partials.append(id, body, { offset, size, at: now, onProgress: progress, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (end < size) return { size, offset: end };
      const blob = await blobs.partials.commit(id, size, uploads.completion(f.id));
      tell(this.#d.events, (e) => e.ingress(blob.size));
      return { size, offset: size, file: { fileId: f.id, size: blob.size, sha256: blob.sha256 } };
    });
  }

  /**
   * Ends a resumable upload and removes its bytes; the quote stays paid, so it can start again.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, UPLOAD_IN_PROGRESS
   */
  async terminate(id: string, token: string | undefined): Promise<void> {
    const { uploads } = this.#d;
    const f = uploads.file(id, token);
    if (f.state !== 'pending') throw new AgentError('UPLOAD_COMPLETE', 'this upload already has its file', { fileId: f.id });
    if (uploads.busy(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    if (!(await this.#d.blobs.partials.remove(id))) throw new AgentError('NOT_FOUND', 'no resumable upload was started for this upload');
  }

  /**
   * Removes partial uploads that can never complete (their upload is complete, or gone) or that nobody has
   * added to for PARTIAL_IDLE_MS; part of the host's deletion job. Idempotent.
   */
  async expire(): Promise<number> {
    const { blobs, uploads } = this.#d;
    const cutoff = this.#d.now().getTime() - PARTIAL_IDLE_MS;
    let removed = 0;
    for (const p of await blobs.partials.list()) {
      if (uploads.busy(p.key)) continue;
      if (this.#d.pending(p.key) && p.updatedAt >= cutoff) continue;
      if (await blobs.partials.remove(p.key)) removed++;
    }
    return removed;
  }
}
