/** A stored blob: its content address and length. */
export interface BlobInfo {
  /** sha256 of the content, 64 lowercase hex digits; also the blob's id. */
  sha256: string;
  /** Length in bytes. */
  size: number;
}

export interface PutOptions {
  /** The exact number of bytes the body must have (the quoted size). */
  expectedSize: number;
  /** Aborting it stops the upload; nothing is kept and `put` rejects with the signal's AbortError. */
  signal?: AbortSignal;
  /** Called with the running total of bytes received so far (cumulative, not a delta). */
  onProgress?: (bytes: number) => void;
  /**
   * Called once the blob is durable (or was found already stored), while it is still locked against
   * `delete`: the place for the caller to record that something references it, so a concurrent
   * `delete(sha256, { unless })` sees that reference instead of removing the bytes under it. Synchronous; a
   * throw rejects `put` with that error, and a blob this put brought in (none was stored before) is removed
   * again, still under the lock, unless `isReferenced` says otherwise, so it leaves no orphan.
   */
  onStored?: (blob: BlobInfo) => void;
  /** Asked under the lock after `onStored` threw: true keeps the blob this put brought in. A throw counts as true. */
  isReferenced?: (sha256: string) => boolean;
}

export interface DeleteOptions {
  /**
   * Checked while the blob is locked against puts' `onStored`: true keeps the blob. Lets a caller re-check,
   * at the last moment, that nothing has come to reference it since it decided to delete.
   */
  unless?: () => boolean;
}

/** An inclusive byte range `[start, end]`, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * One open blob, read from a start offset to an end offset in order. It holds the file open, so the bytes stay
 * readable even if the blob is deleted meanwhile, until `close()`.
 */
export interface BlobReader {
  /** How many bytes this reader yields in all (the range's length). */
  readonly length: number;
  /**
   * Reads the next bytes into `buf` from its start; resolves with how many were read, 0 once all `length` have
   * been.
   * @throws AgentError BLOB_TRUNCATED when the blob on disk ends before `length` bytes (it was damaged)
   */
  read(buf: Uint8Array): Promise<number>;
  /** Releases the file. Idempotent; reads after it reject. */
  close(): Promise<void>;
}

export interface BlobUsage {
  /** Bytes held by complete blobs (not temp files). */
  usedBytes: bigint;
  /** Bytes the agent can still write on the filesystem that holds the store. */
  freeBytes: bigint;
  /** Size of that filesystem. */
  totalBytes: bigint;
}

/**
 * Content-addressed blob storage. Nothing is visible until it is complete: a blob either exists
 * whole, under the sha256 of its bytes, or not at all.
 */
export interface BlobStore {
  /**
   * Streams `source` into the store while hashing it. The body must be exactly
   * `opts.expectedSize` bytes; a body that runs past it is cut off as soon as it goes over (the
   * rest is never read). The blob is durable (fsynced) before this resolves. Identical content
   * already present is reused, so putting the same bytes twice leaves one blob.
   * @throws AgentError UPLOAD_SIZE_MISMATCH when the body is shorter or longer; nothing is kept.
   * @throws AgentError STORAGE_FULL when the disk fills up; nothing is kept.
   * @throws AgentError BAD_REQUEST when `expectedSize` is not a non-negative safe integer.
   * @throws the signal's AbortError when `opts.signal` aborts; nothing is kept.
   * @throws the source's own error when the source fails (e.g. the client disconnects); nothing is kept.
   */
  put(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: PutOptions): Promise<BlobInfo>;

  /**
   * The blob's size, or null when it is not stored.
   * @throws AgentError BLOB_ID_INVALID when `sha256` is not 64 lowercase hex digits.
   */
  stat(sha256: string): Promise<BlobInfo | null>;

  /**
   * A reader of the blob's bytes `[range.start, range.end]` (inclusive), the whole blob without
   * a range. The caller reads into buffers it owns (see `copyBlob`) and must close it.
   * @throws AgentError BLOB_ID_INVALID when `sha256` is not 64 lowercase hex digits.
   * @throws AgentError BLOB_NOT_FOUND when no such blob is stored.
   * @throws AgentError BLOB_RANGE_INVALID unless `0 <= start <= end < size` (integers).
   */
  open(sha256: string, range?: ByteRange): Promise<BlobReader>;

  /**
   * Removes the blob. True when it existed and was removed. Readers that already opened it finish normally.
   * Callers decide when nothing references it any more (the store does not count references), and can
   * confirm it through `opts.unless`.
   * @throws AgentError BLOB_ID_INVALID when `sha256` is not 64 lowercase hex digits.
   */
  delete(sha256: string, opts?: DeleteOptions): Promise<boolean>;

  /**
   * Removes what uploads interrupted by a crash left behind; meant to be called at start. Uploads
   * running in this process are left alone. Returns how many leftovers were removed.
   */
  recover(): Promise<number>;

  /** Bytes used by blobs (a fuller disk raises the price) and the filesystem's free and total bytes. */
  usage(): Promise<BlobUsage>;

  /** Uploads that arrive in several requests (tus), kept across restarts until whole (docs/uploads.md). */
  readonly partials: PartialUploadStore;
}

/** A partial upload's durable progress. */
export interface PartialState {
  /** Bytes received and fsynced: the upload resumes here. */
  offset: number;
  /** When bytes last arrived (or it was created), in ms since the epoch, by the caller's clock. */
  updatedAt: number;
}

export interface AppendOptions {
  /** Where the body starts: must be the recorded offset. */
  offset: number;
  /** The upload's whole length: a body running past it keeps none of its bytes. */
  size: number;
  /** The caller's clock, for `updatedAt`. */
  at: () => number;
  signal?: AbortSignal;
  /** Bytes of this body received so far (cumulative). */
  onProgress?: (bytes: number) => void;
}

/**
 * Partial uploads, each under a key (an upload id). Nothing in them is visible as a blob until `commit`. The
 * caller makes sure one request at a time works on a key; a second one meanwhile fails.
 */
export interface PartialUploadStore {
  /** Starts the upload `key` empty (dropping whatever it held). */
  create(key: string, at: number): Promise<void>;
  /**
   * Its durable offset, or null when there is no such upload. Bytes past the offset (from before a crash) are
   * cut off here.
   */
  state(key: string): Promise<PartialState | null>;
  /**
   * Appends `body` at `opts.offset` and resolves with the new offset once it is fsynced and recorded. A body
   * that breaks off keeps (fsynced, recorded) what arrived, then rejects with its error.
   * @throws AgentError UPLOAD_SIZE_MISMATCH when the body runs past `opts.size`: none of its bytes are kept.
   * @throws AgentError STORAGE_FULL when the disk fills up; NOT_FOUND when there is no such upload.
   */
  append(key: string, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: AppendOptions): Promise<number>;
  /**
   * Makes the whole upload (its offset is `size`) a blob, as `put` does (`onStored`, `isReferenced`), and
   * removes the partial upload.
   */
  commit(key: string, size: number, opts: Pick<PutOptions, 'onStored' | 'isReferenced'>): Promise<BlobInfo>;
  /** Removes the upload's bytes; true when there was one. */
  remove(key: string): Promise<boolean>;
  /** Every partial upload with its state (for expiry). */
  list(): Promise<Array<PartialState & { key: string }>>;
}
