/**
 * Receiving a paid upload's bytes, and the room on disk they need: free space, less what uploads streaming
 * now have still to write (reserved to them), less the reserve kept for SQLite and its WAL.
 */
import type { Config } from '../config/index.ts';
import { AgentError, diskFullError } from '../errors/index.ts';
import type { Ledger } from '../ledger/index.ts';
import type { BlobInfo, BlobStore, PutOptions } from '../storage/index.ts';
import type { Quotes } from './quotes.ts';
import type { FileRow, HostRepository } from './repository.ts';
import { tokenMatches } from './ids.ts';
import { bip21 } from './uri.ts';
import { tell, type HostDeps } from './types.ts';

/** The disk's room for new bytes, and the bytes promised to uploads in flight. */
export class Room {
  readonly #blobs: BlobStore;
  readonly #freeBytes: (() => Promise<bigint>) | undefined;
  readonly #reserveBytes: bigint;
  /** Bytes the uploads streaming now have still to write: promised to them, so not free for a quote. */
  #inFlightBytes = 0n;

  constructor(deps: { blobs: BlobStore; freeBytes?: (() => Promise<bigint>) | undefined; config: Config }) {
    this.#blobs = deps.blobs;
    this.#freeBytes = deps.freeBytes;
    this.#reserveBytes = BigInt(deps.config.diskReserveBytes);
  }

  /**
   * Refuses `size` bytes the disk cannot take: free space, less what uploads in flight have still to write,
   * less the reserve kept for SQLite and its WAL (config diskReserveBytes).
   * @throws AgentError INSUFFICIENT_STORAGE
   */
  async check(size: bigint): Promise<void> {
    const freeBytes = this.#freeBytes ? await this.#freeBytes() : (await this.#blobs.usage()).freeBytes;
    const room = freeBytes - this.#inFlightBytes - this.#reserveBytes;
    if (size > room) {
      throw new AgentError('INSUFFICIENT_STORAGE', `the agent has room for ${room > 0n ? room : 0n} more bytes now, not ${size}; a paid quote stays usable once space is back`, { size: Number(size), availableBytes: Number(room > 0n ? room : 0n) });
    }
  }

  /**
   * Reserves `size` bytes for an upload about to stream. Each byte written moves from the reservation to the
   * disk's own count of used space (`progress`); `release` gives back what was not written.
   */
  reserve(size: number): { progress: (received: number) => void; release: () => void } {
    let reserved = BigInt(size);
    this.#inFlightBytes += reserved;
    return {
      progress: (received) => {
        const left = BigInt(size - received);
        this.#inFlightBytes -= reserved - left;
        reserved = left;
      },
      release: () => {
        this.#inFlightBytes -= reserved;
        reserved = 0n;
      },
    };
  }
}

interface UploadsDeps extends Pick<HostDeps, 'config' | 'blobs' | 'now' | 'storageProblems' | 'events'> {
  repo: HostRepository;
  ledger: Ledger;
  quotes: Quotes;
  room: Room;
}

export class Uploads {
  readonly #d: UploadsDeps;
  readonly #uploading = new Set<string>();
  /** For each upload being written, a promise that resolves when that write ends (kept or refused). */
  readonly #ended = new Map<string, Promise<void>>();

  constructor(deps: UploadsDeps) {
    this.#d = deps;
  }

  /**
   * Receives the file's bytes: checks the token, the payment and the length, streams into the blob store
   * (nothing visible until whole), then makes the file active with its payments as the opening balance.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, UPLOAD_IN_PROGRESS, PAYMENT_REQUIRED, UPLOAD_SIZE_MISMATCH,
   * INSUFFICIENT_STORAGE (no room now), DEGRADED (the database cannot be written), STORAGE_FULL (the disk filled meanwhile)
   */
  async putUpload(id: string, token: string | undefined, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: { contentLength?: number; signal?: AbortSignal } = {}): Promise<{ fileId: string; size: number; sha256: string }> {
    const { f, size } = this.admit(id, token);
    if (opts.contentLength !== undefined && opts.contentLength !== size) {
      throw new AgentError('UPLOAD_SIZE_MISMATCH', `the body is ${opts.contentLength} bytes but the upload is for ${size}; nothing was kept`, { size });
    }
    return this.receiving(id, size, async (progress) => {
      const blob = await this.#d.blobs.put(body, { expectedSize: size, ...this.completion(f.id), onProgress: progress, ...(opts.signal ? { signal: opts.signal } : {}) });
      tell(this.#d.events, (e) => e.ingress(blob.size));
      return { fileId: f.id, size: blob.size, sha256: blob.sha256 };
    });
  }

  /**
   * The checks before any of an upload's bytes are read, the same for a PUT and a tus request
   * (src/host/resumable.ts): the token, the file still waiting for its bytes, and the payment in full.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, PAYMENT_REQUIRED
   */
  admit(id: string, token: string | undefined): { f: FileRow; size: number } {
    const { config } = this.#d;
    const rows = this.#find(id, token);
    const { f } = rows;
    if (f.state !== 'pending') throw new AgentError('UPLOAD_COMPLETE', 'this upload already has its file', { fileId: f.id });
    const status = this.#d.quotes.status(rows);
    if (status.state !== 'paid') {
      throw new AgentError('PAYMENT_REQUIRED', `the payment has not arrived in full: ${status.receivedSat} of ${status.amountSat} sat received, ${status.confirmedSat} confirmed (what is unconfirmed counts only up to ${config.zeroConfMaxSat} sat per file, and not at all from a replaceable transaction or one with unconfirmed parents: the rest waits for ${config.confirmations} confirmation(s))`, {
        address: f.address,
        amountSat: status.amountSat,
        receivedSat: status.receivedSat,
        bip21: bip21(f.address, status.amountSat - status.receivedSat > 0n ? status.amountSat - status.receivedSat : status.amountSat),
      });
    }
    return { f, size: Number(f.size) };
  }

  /**
   * The upload's file, for the holder of its token, whatever its state.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND
   */
  file(id: string, token: string | undefined): FileRow {
    return this.#find(id, token).f;
  }

  #find(id: string, token: string | undefined): ReturnType<Quotes['find']> {
    const rows = this.#d.quotes.find(id);
    if (!tokenMatches(token, rows.u.token_hash)) throw new AgentError('UNAUTHORIZED', 'a valid upload token is required (Authorization: Bearer <uploadToken>)');
    return rows;
  }

  /** Whether a request is writing this upload's bytes now. */
  busy(id: string): boolean {
    return this.#uploading.has(id);
  }

  /**
   * Resolves once the request writing this upload's bytes, if any, has ended, or after `waitMs` (a live upload
   * can run for long). A body that has just broken off is being made durable: what it brought counts once this
   * resolves.
   */
  async settled(id: string, waitMs: number): Promise<void> {
    const ended = this.#ended.get(id);
    if (!ended) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  /**
   * Runs `receive`, which writes `bytes` more of upload `id`, alone: no other request writes this upload
   * meanwhile, the disk has room for them (reserved to it until it ends) and the database can be written.
   * @throws AgentError UPLOAD_IN_PROGRESS, INSUFFICIENT_STORAGE, DEGRADED, STORAGE_FULL, or what `receive` throws
   */
  async receiving<T>(id: string, bytes: number, receive: (progress: (received: number) => void) => Promise<T>): Promise<T> {
    const { room } = this.#d;
    if (this.#uploading.has(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    // Checked again before the body is read: the disk may have filled since the quote. The check and the
    // reservation below run with no await between them, so two uploads cannot both count the same free bytes.
    await room.check(BigInt(bytes));
    // A database that cannot be written could not record the file: refused before the body is read, not after.
    const problems = (await this.#d.storageProblems?.()) ?? [];
    if (problems.length > 0) throw new AgentError('DEGRADED', `the agent cannot take the upload now (${problems.join(', ')}); the quote stays paid, try again once it recovers`, { reasons: problems });
    await room.check(BigInt(bytes));
    if (this.#uploading.has(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    this.#uploading.add(id);
    let ended = (): void => undefined;
    this.#ended.set(id, new Promise<void>((resolve) => (ended = resolve)));
    const reservation = room.reserve(bytes);
    try {
      return await receive(reservation.progress);
    } catch (e) {
      // The file stays pending and its payment stays on its address, so the same upload can be retried.
      throw diskFullError(e) ?? e;
    } finally {
      reservation.release();
      this.#uploading.delete(id);
      this.#ended.delete(id);
      ended();
    }
  }

  /**
   * What the blob store calls once an upload's bytes are whole and durable, for a PUT and a tus upload alike:
   * the file takes its reference to the blob while the store still holds the blob against deletion, so the
   * deletion job, re-checking references under the same lock, cannot remove identical bytes that an older,
   * deleted file left behind just as this upload reuses them. Stored and charged for from the same moment, in
   * one transaction: a balance below zero by then (payments reversed) freezes the file at once (src/ledger's
   * startCharging).
   * @throws AgentError UPLOAD_COMPLETE (from onStored) when the file was completed meanwhile
   */
  completion(fileId: string): Pick<PutOptions, 'onStored' | 'isReferenced'> {
    const { repo } = this.#d;
    return {
      onStored: (blob: BlobInfo): void => {
        const at = this.#d.now();
        const stored = repo.transaction(() => {
          if (!repo.completeFile(fileId, blob.sha256, BigInt(at.getTime()))) return false;
          if (!this.#d.ledger.startCharging(fileId, at)) throw new AgentError('INTERNAL', `file ${fileId} was pending but its account is charged already`);
          return true;
        });
        if (!stored) throw new AgentError('UPLOAD_COMPLETE', 'this upload already has its file', { fileId });
      },
      isReferenced: (sha: string): boolean => repo.isBlobReferenced(sha),
    };
  }
}
