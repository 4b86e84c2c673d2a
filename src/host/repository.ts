/**
 * Every statement the host runs against its own tables (price_sets, files, uploads, downloads; created in
 * ./schema.ts), prepared once when the host is built, with the rows they return typed. The pieces of the host
 * call these methods and never write SQL of their own, so a request compiles nothing and the host's whole use
 * of the database can be read here. The ledger's tables, files' balances and holds among them, are the
 * ledger's (src/ledger): the host goes through its methods.
 */
import type { Db } from '../db/index.ts';
/**
 * A row of files: the file's life (pending until its bytes are whole, then stored, until deleted), not its
 * money, which is its account in the ledger. A stored file is frozen while that account is overdrawn.
 */
export interface FileRow {
  id: string;
  address: string;
  state: 'pending' | 'active' | 'deleted';
  size: bigint;
  sha256: string | null;
  filename: string | null;
  content_type: string | null;
  deleted_at: bigint | null;
}

/** A row of price_sets. */
export interface PriceSetRow {
  id: bigint;
  computed_at: bigint;
  storage_msat_per_gib_day: bigint;
  egress_msat_per_gib: bigint;
  minimum_deposit_sat: bigint;
  fee_rate_sat_per_kvb: bigint;
  inputs: string;
}

/** An open quote's address, and where it sits in the order quotes were made. */
export interface OpenQuoteRow {
  address: string;
  at: bigint;
  rowid: bigint;
}

/** A row of uploads. */
export interface UploadRow {
  id: string;
  file_id: string;
  token_hash: Buffer;
  days: bigint;
  downloads: bigint;
  amount_sat: bigint;
  price_set_id: bigint;
  created_at: bigint;
  expires_at: bigint;
}

/** A download whose settlement was never written (its process ended first). */
interface OpenDownloadRow {
  id: string;
  file_id: string;
  held_msat: bigint;
}

interface NewPriceSet {
  computedAt: bigint;
  storageMsatPerGibDay: bigint;
  egressMsatPerGib: bigint;
  minimumDepositSat: bigint;
  feeRateSatPerKvb: bigint;
  inputs: string;
}

interface NewUpload {
  id: string;
  fileId: string;
  address: string;
  size: bigint;
  filename: string | null;
  contentType: string | null;
  tokenHash: Buffer;
  days: bigint;
  downloads: bigint;
  amountSat: bigint;
  priceSetId: bigint;
  createdAt: bigint;
  expiresAt: bigint;
}

// Files that hold a blob (stored, frozen or not): a deleted file's bytes may go once no such file names them.
const REFERENCED_SQL = "SELECT 1 FROM files WHERE sha256 = ? AND state = 'active' LIMIT 1";

export class HostRepository {
  // One transaction function made once: better-sqlite3 runs it as a savepoint when a transaction is already
  // open (the payment watcher's), and its callback must not await (src/db/index.ts).
  readonly #tx;
  // price_sets
  readonly #latestPriceSet;
  readonly #priceSetById;
  readonly #insertPriceSet;
  readonly #prunePriceSets;
  // files and uploads
  readonly #fileById;
  readonly #fileIdByAddress;
  readonly #insertFile;
  readonly #insertUpload;
  readonly #uploadById;
  readonly #completeFile;
  readonly #referenced;
  readonly #openQuotes;
  readonly #openQuotePage;
  readonly #uploadFileState;
  // downloads
  readonly #lastDownloadRowid;
  readonly #insertSettled;
  readonly #openDownloadsUpTo;
  readonly #markReleased;
  // retention
  readonly #markDeleted;
  readonly #orphanedBlobs;

  #epoch = 0;

  constructor(db: Db) {
    this.#tx = db.transaction((fn: () => unknown) => fn());
    this.#latestPriceSet = db.prepare<[], PriceSetRow>('SELECT * FROM price_sets ORDER BY id DESC LIMIT 1');
    this.#priceSetById = db.prepare<[bigint], PriceSetRow>('SELECT * FROM price_sets WHERE id = ?');
    this.#insertPriceSet = db.prepare<[bigint, bigint, bigint, bigint, bigint, string]>(
      'INSERT INTO price_sets (computed_at, storage_msat_per_gib_day, egress_msat_per_gib, minimum_deposit_sat, fee_rate_sat_per_kvb, inputs) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // A bounded history: a quote only needs the set it was made with, and quotes live for hours.
    this.#prunePriceSets = db.prepare('DELETE FROM price_sets WHERE id < (SELECT max(id) - 1000 FROM price_sets) AND id NOT IN (SELECT price_set_id FROM uploads)');

    this.#fileById = db.prepare<[string], FileRow>('SELECT * FROM files WHERE id = ?');
    this.#fileIdByAddress = db.prepare<[string], string>('SELECT id FROM files WHERE address = ?').pluck();
    this.#insertFile = db.prepare<[string, string, bigint, string | null, string | null, bigint]>(
      "INSERT INTO files (id, address, state, size, filename, content_type, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
    );
    this.#insertUpload = db.prepare<[string, string, Buffer, bigint, bigint, bigint, bigint, bigint, bigint]>(
      'INSERT INTO uploads (id, file_id, token_hash, days, downloads, amount_sat, price_set_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#uploadById = db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE id = ?');
    this.#completeFile = db.prepare<{ now: bigint; sha256: string; id: string }>("UPDATE files SET state = 'active', sha256 = :sha256, completed_at = :now WHERE id = :id AND state = 'pending'");
    this.#referenced = db.prepare<[string], 1>(REFERENCED_SQL).pluck();
    // Through the index on created_at: a quote expires quoteTtlSeconds after it was made.
    this.#openQuotes = db
      .prepare<[bigint, bigint], bigint>("SELECT count(*) FROM uploads u JOIN files f ON f.id = u.file_id WHERE u.created_at > ? AND u.expires_at > ? AND f.state = 'pending'")
      .pluck();
    // A page of open quotes in the order they were made, after a cursor (created_at, rowid): a range of the index
    // uploads_recent (whose entries end with the rowid), read no further than the page (src/host/quotes.ts).
    this.#openQuotePage = db.prepare<{ from: bigint; at: bigint; rowid: bigint; now: bigint; limit: number }, OpenQuoteRow>(
      `SELECT f.address, u.created_at AS at, u.rowid AS rowid FROM uploads u JOIN files f ON f.id = u.file_id
       WHERE u.created_at >= :from AND (u.created_at > :at OR u.rowid > :rowid) AND u.expires_at > :now AND f.state = 'pending'
       ORDER BY u.created_at, u.rowid LIMIT :limit`,
    );
    this.#uploadFileState = db.prepare<[string], FileRow['state']>('SELECT f.state FROM uploads u JOIN files f ON f.id = u.file_id WHERE u.id = ?').pluck();

    this.#lastDownloadRowid = db.prepare<[], bigint>('SELECT coalesce(max(rowid), 0) FROM downloads').pluck();
    this.#insertSettled = db.prepare<[string, string, bigint, bigint, bigint, bigint, bigint]>(
      'INSERT OR IGNORE INTO downloads (id, file_id, held_msat, bytes_requested, bytes_sent, started_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#openDownloadsUpTo = db.prepare<[bigint], OpenDownloadRow>('SELECT id, file_id, held_msat FROM downloads WHERE settled_at IS NULL AND rowid <= ?');
    this.#markReleased = db.prepare<[bigint, string]>('UPDATE downloads SET settled_at = ?, bytes_sent = NULL WHERE id = ?');

    this.#markDeleted = db.prepare<[bigint, string]>("UPDATE files SET state = 'deleted', deleted_at = ? WHERE id = ? AND state = 'active'");
    this.#orphanedBlobs = db
      .prepare<[bigint], string>(
        `SELECT DISTINCT sha256 FROM files d WHERE d.state = 'deleted' AND d.deleted_at >= ?
         AND NOT EXISTS (SELECT 1 FROM files l WHERE l.sha256 = d.sha256 AND l.state = 'active')`,
      )
      .pluck();
  }

  /** Runs `fn` in one transaction (a savepoint inside an open one). `fn` must not await. */
  /**
   * A number that moves when a stored file is deleted or a price set is added (before the write): what the
   * download fast path keeps of a file and its price in memory is stale once it has moved (src/host/hot-files.ts).
   */
  get epoch(): number {
    return this.#epoch;
  }

  transaction<T>(fn: () => T): T {
    return this.#tx(fn) as T;
  }

  // ---- price sets ----

  latestPriceSet(): PriceSetRow | undefined {
    return this.#latestPriceSet.get();
  }

  priceSetById(id: bigint): PriceSetRow | undefined {
    return this.#priceSetById.get(id);
  }

  /** Adds a price set and drops old ones no upload refers to. */
  addPriceSet(p: NewPriceSet): void {
    this.#epoch++;
    this.#insertPriceSet.run(p.computedAt, p.storageMsatPerGibDay, p.egressMsatPerGib, p.minimumDepositSat, p.feeRateSatPerKvb, p.inputs);
    this.#prunePriceSets.run();
  }

  // ---- files and uploads ----

  /** A file's row in any state. */
  file(id: string): FileRow | undefined {
    return this.#fileById.get(id);
  }

  /** The file paid through `address`, if it is a file's (not the agent's own receive or change address). */
  fileIdByAddress(address: string): string | undefined {
    return this.#fileIdByAddress.get(address);
  }

  /**
   * The pending file and its upload, as one quote; the caller runs it in a transaction with the address and
   * the file's account in the ledger.
   */
  insertUpload(u: NewUpload): void {
    this.#insertFile.run(u.fileId, u.address, u.size, u.filename, u.contentType, u.createdAt);
    this.#insertUpload.run(u.id, u.fileId, u.tokenHash, u.days, u.downloads, u.amountSat, u.priceSetId, u.createdAt, u.expiresAt);
  }

  upload(id: string): UploadRow | undefined {
    return this.#uploadById.get(id);
  }

  /**
   * Makes a pending file stored ('active') with its blob; the caller starts its storage charge in the ledger in
   * the same transaction. Returns false when the file was not pending any more.
   */
  completeFile(id: string, sha256: string, now: bigint): boolean {
    return this.#completeFile.run({ now, sha256, id }).changes > 0;
  }

  /** Whether a file that is not deleted holds the blob `sha256`. */
  isBlobReferenced(sha256: string): boolean {
    return this.#referenced.get(sha256) !== undefined;
  }

  /** Pending uploads made after `createdAfter` whose quote has not expired at `now`. */
  openQuoteCount(createdAfter: bigint, now: bigint): bigint {
    return this.#openQuotes.get(createdAfter, now) ?? 0n;
  }

  /**
   * Up to `limit` open quotes (pending, not expired at `now`) made at or after `from`, in the order they were made,
   * after the one made at `at` with `rowid` (0n, 0n: from the first).
   */
  openQuotePage(from: bigint, at: bigint, rowid: bigint, now: bigint, limit: number): OpenQuoteRow[] {
    return this.#openQuotePage.all({ from: from > at ? from : at, at, rowid, now, limit });
  }

  /** The state of the upload's file (pending until its bytes arrive), if the upload exists. */
  uploadFileState(uploadId: string): FileRow['state'] | undefined {
    return this.#uploadFileState.get(uploadId);
  }

  // ---- downloads ----

  /** The highest download rowid (rowids only grow: download rows are never deleted). */
  lastDownloadRowid(): bigint {
    return this.#lastDownloadRowid.get() ?? 0n;
  }

  /**
   * Records a download that ended, with the bytes it sent (a group commit's, src/host/meter.ts); a second call
   * with the same id does nothing. False then.
   */
  recordSettled(d: { id: string; fileId: string; reservedMsat: bigint; bytesRequested: bigint; bytesSent: bigint; startedAt: bigint; settledAt: bigint }): boolean {
    return this.#insertSettled.run(d.id, d.fileId, d.reservedMsat, d.bytesRequested, d.bytesSent, d.startedAt, d.settledAt).changes > 0;
  }

  /** Downloads never settled, up to `rowid` (an earlier version wrote a row when a download started). */
  openDownloadsUpTo(rowid: bigint): OpenDownloadRow[] {
    return this.#openDownloadsUpTo.all(rowid);
  }

  /** Closes an interrupted download uncharged (bytes sent unknown); the caller gives its hold back in the ledger. */
  markReleased(id: string, at: bigint): void {
    this.#markReleased.run(at, id);
  }

  // ---- retention ----

  /** Marks a stored file deleted; false when it is not stored (deleted already). */
  markDeleted(id: string, at: bigint): boolean {
    this.#epoch++;
    return this.#markDeleted.run(at, id).changes > 0;
  }

  /** Blobs of files deleted at or after `since` that no active or frozen file holds. */
  orphanedBlobsSince(since: bigint): string[] {
    return this.#orphanedBlobs.all(since);
  }
}
