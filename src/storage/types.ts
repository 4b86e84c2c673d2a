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
}
