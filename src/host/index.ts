/**
 * The customer's path (DESIGN "Files", API.md "Customers"): quotes with a fresh address each, uploads that
 * become visible only when whole and paid, metered downloads, the storage sweep, freezing and deletion, and
 * prices that follow operating cost. Money moves only through the ledger; bytes only through the BlobStore.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/index.ts';
import type { Config } from '../config/index.ts';
import { AgentError, diskFullError } from '../errors/index.ts';
import { formatBtc, MSAT_PER_SAT, ceilDiv } from '../money/index.ts';
import { Ledger, egressMsat, storageMsatPerDay, DAY_MS } from '../ledger/index.ts';
import type { BlobInfo, BlobReader, BlobStore } from '../storage/index.ts';
import type { PaymentSink, WatchedPayment } from '../chain/index.ts';
import { computePrices, quoteAmountSat, type PriceDerivation, type Prices } from './pricing.ts';
import { describe, PendingWrites } from './pending-writes.ts';

export { computePrices, quoteAmountSat, serviceCostMsat, P2WPKH_DUST_SAT, type Prices, type PricingInputs } from './pricing.ts';

export type UploadState = 'awaiting_payment' | 'paid' | 'complete' | 'expired';
export type FileState = 'active' | 'frozen' | 'deleted';

export interface HostDeps {
  db: Db;
  config: Config;
  blobs: BlobStore;
  now: () => Date;
  /** A fresh address of the agent's wallet for a new upload (recorded in wallet_addresses). */
  newAddress: () => { address: string };
  /** Current fee rate in sat per 1000 vbytes (for the minimum deposit). */
  feeRate: () => Promise<bigint>;
  /** What has arrived at an address under the confirmation policy (from the payment watcher). */
  received: (address: string) => { receivedSat: bigint; confirmedSat: bigint; countedSat: bigint };
  random?: (bytes: number) => Buffer;
  /**
   * Why the agent cannot take new uploads now (a disk below its reserve, a database it cannot write); empty
   * when it can. A quote is refused with DEGRADED while this is not empty.
   */
  storageProblems?: () => Promise<string[]>;
  /**
   * Free bytes on the filesystem that holds the blobs (statfs); default the store's usage(), whose first call
   * walks every blob.
   */
  freeBytes?: () => Promise<bigint>;
  /** Where a write that failed and will be retried is reported (never silently lost). */
  log?: (line: string) => void;
  /** Told as bytes and payments move (the metrics); optional, and never able to fail the work it reports. */
  events?: HostEvents;
}

/** What the host tells an observer (src/metrics): bytes stored and sent, payments credited and reversed. */
export interface HostEvents {
  ingress(bytes: number): void;
  egress(bytes: number): void;
  credited(sat: bigint): void;
  reversed(sat: bigint): void;
}

export interface Quote {
  id: string;
  address: string;
  amountSat: bigint;
  bip21: string;
  expiresAt: Date;
  uploadToken: string;
}

export interface UploadStatus {
  id: string;
  state: UploadState;
  amountSat: bigint;
  receivedSat: bigint;
  confirmedSat: bigint;
  fileId?: string;
}

export interface FileView {
  fileId: string;
  size: number;
  sha256: string;
  filename: string | null;
  contentType: string | null;
  state: FileState;
  balanceMsat: bigint;
  address: string;
  bip21: string;
  fundedUntil: Date;
  deleteAt?: Date;
}

interface FileRow {
  id: string;
  address: string;
  state: 'pending' | FileState;
  size: bigint;
  sha256: string | null;
  filename: string | null;
  content_type: string | null;
  balance_msat: bigint;
  held_msat: bigint;
  charged_until: bigint | null;
  frozen_at: bigint | null;
  deleted_at: bigint | null;
}

/** A row of price_sets: the prices and how they were derived. */
export interface PriceSet extends Prices {
  id: bigint;
  computedAt: Date;
  derivation: Record<string, string>;
}

interface PriceSetRow {
  id: bigint;
  computed_at: bigint;
  storage_msat_per_gib_day: bigint;
  egress_msat_per_gib: bigint;
  minimum_deposit_sat: bigint;
  fee_rate_sat_per_kvb: bigint;
  inputs: string;
}

interface UploadRow {
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

const ID_BYTES = 16;
const TOKEN_BYTES = 32;
const ID_RE = /^[A-Za-z0-9_-]{22}$/;

function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** `bitcoin:<address>?amount=<btc>&label=...` (BIP21). */
export function bip21(address: string, amountSat: bigint | undefined, label?: string): string {
  const q = new URLSearchParams();
  if (amountSat !== undefined && amountSat > 0n) q.set('amount', formatBtc(amountSat));
  if (label) q.set('label', label);
  const qs = q.toString();
  return `bitcoin:${address}${qs ? `?${qs}` : ''}`;
}

/** A parsed `Range: bytes=a-b` header against a file of `size` bytes (single ranges only, per RFC 9110 14.2). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    // A syntactically invalid Range header is ignored (RFC 9110 14.2): the whole file is sent.
    return undefined;
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new AgentError('RANGE_NOT_SATISFIABLE', `range ${header} is empty`, { size });
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= size || start > end) {
    throw new AgentError('RANGE_NOT_SATISFIABLE', `range ${header} is outside the file's ${size} bytes`, { size });
  }
  return { start, end };
}

export class Host {
  readonly ledger: Ledger;
  readonly #d: HostDeps;
  readonly #random: (n: number) => Buffer;
  readonly #uploading = new Set<string>();
  /** Bytes the uploads streaming now have still to write: promised to them, so not free for a quote. */
  #inFlightBytes = 0n;
  /** Download settlements that could not be written (a full disk), by download id: retried until written. */
  readonly #unsettled: PendingWrites;
  /** The last download row when this Host was made: an open one up to it was left by an earlier process. */
  readonly #lastDownloadAtBoot: bigint;
  /** Whether those holds are released yet (a full disk at start puts it off). */
  #staleReleased = false;

  constructor(deps: HostDeps) {
    this.#d = deps;
    this.ledger = new Ledger(deps.db);
    this.#random = deps.random ?? randomBytes;
    this.#unsettled = new PendingWrites(deps.log);
    // By rowid, which only grows (download rows are never deleted), not by time: a clock stepped back must not
    // hide an earlier process's download, nor make one of this process look stale.
    this.#lastDownloadAtBoot = (deps.db.prepare('SELECT coalesce(max(rowid), 0) AS n FROM downloads').get() as { n: bigint }).n;
  }

  #id(): string {
    return this.#random(ID_BYTES).toString('base64url');
  }

  // ---- prices ----

  /** The latest price set, computing a first one if there is none. */
  async prices(): Promise<PriceSet> {
    const row = this.#latestPrices();
    if (row) return row;
    await this.recomputePrices();
    const again = this.#latestPrices();
    if (!again) throw new AgentError('INTERNAL', 'no price set');
    return again;
  }

  /** The latest price set without touching the network, if one exists (for /v1/info). */
  currentPrices(): PriceSet | undefined {
    return this.#latestPrices();
  }

  #latestPrices(): PriceSet | undefined {
    return this.#priceSet(this.#d.db.prepare('SELECT * FROM price_sets ORDER BY id DESC LIMIT 1').get() as PriceSetRow | undefined);
  }

  #pricesById(id: bigint): PriceSet {
    const set = this.#priceSet(this.#d.db.prepare('SELECT * FROM price_sets WHERE id = ?').get(id) as PriceSetRow | undefined);
    if (!set) throw new AgentError('INTERNAL', `price set ${id} is missing`);
    return set;
  }

  #priceSet(r: PriceSetRow | undefined): PriceSet | undefined {
    if (!r) return undefined;
    return {
      id: r.id,
      computedAt: new Date(Number(r.computed_at)),
      storageMsatPerGibDay: r.storage_msat_per_gib_day,
      egressMsatPerGib: r.egress_msat_per_gib,
      minimumDepositSat: r.minimum_deposit_sat,
      feeRateSatPerKvb: r.fee_rate_sat_per_kvb,
      derivation: JSON.parse(r.inputs) as Record<string, string>,
    };
  }

  /** Recomputes prices from the config's costs, the disk's fill level and the fee rate (the pricing job). */
  async recomputePrices(): Promise<PriceDerivation> {
    const c = this.#d.config;
    const [usage, feeRate] = await Promise.all([this.#d.blobs.usage(), this.#d.feeRate()]);
    const p = computePrices({
      hostingCostSatPerMonth: c.hostingCostSatPerMonth,
      capacityBytes: c.capacityBytes,
      targetUtilisationBps: c.targetUtilisationBps,
      marginBps: c.marginBps,
      bandwidthCostSatPerGib: c.bandwidthCostSatPerGib,
      usedBytes: usage.usedBytes,
      feeRateSatPerKvb: feeRate,
    });
    this.#d.db
      .prepare('INSERT INTO price_sets (computed_at, storage_msat_per_gib_day, egress_msat_per_gib, minimum_deposit_sat, fee_rate_sat_per_kvb, inputs) VALUES (?, ?, ?, ?, ?, ?)')
      .run(BigInt(this.#d.now().getTime()), p.storageMsatPerGibDay, p.egressMsatPerGib, p.minimumDepositSat, p.feeRateSatPerKvb, JSON.stringify({ ...p.explain, usedBytes: usage.usedBytes.toString() }));
    // Keep a bounded history: a quote only needs the set it was made with, and quotes live for hours.
    this.#d.db.prepare('DELETE FROM price_sets WHERE id < (SELECT max(id) - 1000 FROM price_sets) AND id NOT IN (SELECT price_set_id FROM uploads)').run();
    return p;
  }

  // ---- quotes and uploads ----

  /**
   * A quote: a fresh address, the amount covering `days` of storage and `downloads` full downloads (and at
   * least the minimum deposit), and the secret upload token, shown once (only its hash is stored).
   * @throws AgentError BAD_REQUEST, PAYLOAD_TOO_LARGE, DEGRADED (low disk or a database it cannot write),
   * INSUFFICIENT_STORAGE (no room for `size` bytes)
   */
  async createUpload(req: { size: number; days?: number; downloads?: number; filename?: string; contentType?: string }): Promise<Quote> {
    const days = req.days ?? 1;
    const downloads = req.downloads ?? 1;
    if (!Number.isSafeInteger(req.size) || req.size <= 0) throw new AgentError('BAD_REQUEST', 'size must be a positive integer');
    if (req.size > this.#d.config.maxFileSize) throw new AgentError('PAYLOAD_TOO_LARGE', `size ${req.size} is above the limit of ${this.#d.config.maxFileSize} bytes`, { maxFileSize: this.#d.config.maxFileSize });
    // The essay's minimum: a day of hosting and one download.
    if (!Number.isSafeInteger(days) || days < 1) throw new AgentError('BAD_REQUEST', 'days must be an integer of at least 1');
    if (!Number.isSafeInteger(downloads) || downloads < 1) throw new AgentError('BAD_REQUEST', 'downloads must be an integer of at least 1');
    const problems = (await this.#d.storageProblems?.()) ?? [];
    if (problems.length > 0) throw new AgentError('DEGRADED', `the agent takes no new uploads while degraded (${problems.join(', ')}); it recovers by itself`, { reasons: problems });
    await this.#checkRoom(BigInt(req.size));
    const prices = await this.prices();
    const amountSat = quoteAmountSat(BigInt(req.size), BigInt(days), BigInt(downloads), prices);
    const now = this.#d.now();
    const expiresAt = new Date(now.getTime() + this.#d.config.quoteTtlSeconds * 1000);
    const id = this.#id();
    const fileId = this.#id();
    const token = this.#random(TOKEN_BYTES).toString('base64url');
    const { address } = this.#d.db.transaction(() => {
      const a = this.#d.newAddress();
      this.#d.db
        .prepare("INSERT INTO files (id, address, state, size, filename, content_type, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)")
        .run(fileId, a.address, BigInt(req.size), req.filename ?? null, req.contentType ?? null, BigInt(now.getTime()));
      this.#d.db
        .prepare('INSERT INTO uploads (id, file_id, token_hash, days, downloads, amount_sat, price_set_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, fileId, sha256(token), BigInt(days), BigInt(downloads), amountSat, prices.id, BigInt(now.getTime()), BigInt(expiresAt.getTime()));
      return a;
    })();
    return { id, address, amountSat, bip21: bip21(address, amountSat, `storj upload ${id}`), expiresAt, uploadToken: token };
  }

  /**
   * Refuses `size` bytes the disk cannot take: free space, less what uploads in flight have still to write,
   * less the reserve kept for SQLite and its WAL (config diskReserveBytes).
   * @throws AgentError INSUFFICIENT_STORAGE
   */
  async #checkRoom(size: bigint): Promise<void> {
    const freeBytes = this.#d.freeBytes ? await this.#d.freeBytes() : (await this.#d.blobs.usage()).freeBytes;
    const room = freeBytes - this.#inFlightBytes - BigInt(this.#d.config.diskReserveBytes);
    if (size > room) {
      throw new AgentError('INSUFFICIENT_STORAGE', `the agent has room for ${room > 0n ? room : 0n} more bytes now, not ${size}; a paid quote stays usable once space is back`, { size: Number(size), availableBytes: Number(room > 0n ? room : 0n) });
    }
  }

  #upload(id: string): { u: UploadRow; f: FileRow } {
    if (!ID_RE.test(id)) throw new AgentError('NOT_FOUND', 'no such upload');
    const u = this.#d.db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined;
    if (!u) throw new AgentError('NOT_FOUND', 'no such upload');
    const f = this.#d.db.prepare('SELECT * FROM files WHERE id = ?').get(u.file_id) as FileRow;
    return { u, f };
  }

  /** What the upload needs now: the quoted amount until the quote expires, then the same service at today's prices. */
  #amountDue(u: UploadRow, f: FileRow, now: Date): bigint {
    if (now.getTime() <= Number(u.expires_at)) return u.amount_sat;
    const current = this.#latestPrices() ?? this.#pricesById(u.price_set_id);
    return quoteAmountSat(f.size, u.days, u.downloads, current);
  }

  /**
   * The upload's payment state. The fileId is the file's download link, and the upload id travels in the
   * payment URI's label, so the fileId goes only to the holder of the upload token.
   */
  uploadStatus(id: string, token?: string): UploadStatus {
    const { u, f } = this.#upload(id);
    const { fileId, ...rest } = this.#status(u, f);
    return fileId !== undefined && this.#tokenOk(u, token) ? { ...rest, fileId } : rest;
  }

  /** The upload token against its stored hash, in constant time. */
  #tokenOk(u: UploadRow, token: string | undefined): boolean {
    return token !== undefined && token !== '' && timingSafeEqual(sha256(token), u.token_hash);
  }

  #status(u: UploadRow, f: FileRow): UploadStatus {
    const id = u.id;
    const now = this.#d.now();
    const r = this.#d.received(f.address);
    const amountSat = this.#amountDue(u, f, now);
    let state: UploadState;
    if (f.state !== 'pending') state = 'complete';
    else if (r.countedSat >= amountSat) state = 'paid';
    else if (now.getTime() > Number(u.expires_at)) state = 'expired';
    else state = 'awaiting_payment';
    return { id, state, amountSat, receivedSat: r.receivedSat, confirmedSat: r.confirmedSat, ...(f.state !== 'pending' ? { fileId: f.id } : {}) };
  }

  /**
   * Receives the file's bytes: checks the token, the payment and the length, streams into the blob store
   * (nothing visible until whole), then makes the file active with its payments as the opening balance.
   * @throws AgentError UNAUTHORIZED, NOT_FOUND, UPLOAD_COMPLETE, UPLOAD_IN_PROGRESS, PAYMENT_REQUIRED, UPLOAD_SIZE_MISMATCH,
   * INSUFFICIENT_STORAGE (no room now), DEGRADED (the database cannot be written), STORAGE_FULL (the disk filled meanwhile)
   */
  async putUpload(id: string, token: string | undefined, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: { contentLength?: number; signal?: AbortSignal } = {}): Promise<{ fileId: string; size: number; sha256: string }> {
    const { u, f } = this.#upload(id);
    const given = sha256(token ?? '');
    if (!token || !timingSafeEqual(given, u.token_hash)) throw new AgentError('UNAUTHORIZED', 'a valid upload token is required (Authorization: Bearer <uploadToken>)');
    if (f.state !== 'pending') throw new AgentError('UPLOAD_COMPLETE', 'this upload already has its file', { fileId: f.id });
    const status = this.#status(u, f);
    if (status.state !== 'paid') {
      throw new AgentError('PAYMENT_REQUIRED', `the payment has not arrived in full: ${status.receivedSat} of ${status.amountSat} sat received, ${status.confirmedSat} confirmed (what is unconfirmed counts only up to ${this.#d.config.zeroConfMaxSat} sat per file, and not at all from a replaceable transaction or one with unconfirmed parents: the rest waits for ${this.#d.config.confirmations} confirmation(s))`, {
        address: f.address,
        amountSat: status.amountSat,
        receivedSat: status.receivedSat,
        bip21: bip21(f.address, status.amountSat - status.receivedSat > 0n ? status.amountSat - status.receivedSat : status.amountSat),
      });
    }
    const size = Number(f.size);
    if (opts.contentLength !== undefined && opts.contentLength !== size) {
      throw new AgentError('UPLOAD_SIZE_MISMATCH', `the body is ${opts.contentLength} bytes but the upload is for ${size}; nothing was kept`, { size });
    }
    if (this.#uploading.has(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    // Checked again before the body is read: the disk may have filled since the quote. The check and the
    // reservation below run with no await between them, so two uploads cannot both count the same free bytes.
    await this.#checkRoom(BigInt(size));
    // A database that cannot be written could not record the file: refused before the body is read, not after.
    const problems = (await this.#d.storageProblems?.()) ?? [];
    if (problems.length > 0) throw new AgentError('DEGRADED', `the agent cannot take the upload now (${problems.join(', ')}); the quote stays paid, try again once it recovers`, { reasons: problems });
    await this.#checkRoom(BigInt(size));
    if (this.#uploading.has(id)) throw new AgentError('UPLOAD_IN_PROGRESS', 'another upload of this file is in progress');
    this.#uploading.add(id);
    // What this upload has still to write stays reserved; each byte written moves from the reservation to the
    // disk's own count of used space.
    let reserved = BigInt(size);
    this.#inFlightBytes += reserved;
    const onProgress = (received: number): void => {
      const left = BigInt(size - received);
      this.#inFlightBytes -= reserved - left;
      reserved = left;
    };
    try {
      // The file takes its reference to the blob while the store still holds the blob against deletion, so
      // the deletion job, re-checking references under the same lock, cannot remove identical bytes that an
      // older, deleted file left behind just as this upload reuses them.
      const complete = (blob: BlobInfo): void => {
        const now = BigInt(this.#d.now().getTime());
        const changed = this.#d.db
          .prepare("UPDATE files SET state = CASE WHEN balance_msat < 0 THEN 'frozen' ELSE 'active' END, frozen_at = CASE WHEN balance_msat < 0 THEN ? ELSE NULL END, sha256 = ?, charged_until = ?, completed_at = ? WHERE id = ? AND state = 'pending'")
          .run(now, blob.sha256, now, now, f.id);
        if (changed.changes === 0) throw new AgentError('UPLOAD_COMPLETE', 'this upload already has its file', { fileId: f.id });
      };
      const isReferenced = (sha: string): boolean => this.#d.db.prepare("SELECT 1 FROM files WHERE sha256 = ? AND state IN ('active', 'frozen') LIMIT 1").get(sha) !== undefined;
      const blob = await this.#d.blobs.put(body, { expectedSize: size, onStored: complete, isReferenced, onProgress, ...(opts.signal ? { signal: opts.signal } : {}) });
      this.#tell((e) => e.ingress(blob.size));
      return { fileId: f.id, size: blob.size, sha256: blob.sha256 };
    } catch (e) {
      // The file stays pending and its payment stays on its address, so the same upload can be retried.
      throw diskFullError(e) ?? e;
    } finally {
      this.#inFlightBytes -= reserved;
      this.#uploading.delete(id);
    }
  }

  // ---- files ----

  #file(fileId: string): FileRow {
    if (!ID_RE.test(fileId)) throw new AgentError('NOT_FOUND', 'no such file');
    const f = this.#d.db.prepare('SELECT * FROM files WHERE id = ?').get(fileId) as FileRow | undefined;
    if (!f || f.state === 'pending') throw new AgentError('NOT_FOUND', 'no such file');
    return f;
  }

  /** The daily storage charge of a file at current prices (msat). */
  #dailyMsat(f: FileRow): bigint {
    const p = this.#latestPrices();
    return p ? storageMsatPerDay(f.size, p.storageMsatPerGibDay) : 0n;
  }

  fileView(fileId: string): FileView {
    const f = this.#file(fileId);
    const now = this.#d.now().getTime();
    const daily = this.#dailyMsat(f);
    // Funded until: the time the balance (after what is already charged) runs out at today's price.
    const chargedUntil = Number(f.charged_until ?? BigInt(now));
    const fundedUntil = daily > 0n && f.balance_msat > 0n ? new Date(chargedUntil + Number((f.balance_msat * DAY_MS) / daily)) : new Date(chargedUntil);
    const view: FileView = {
      fileId: f.id,
      size: Number(f.size),
      sha256: f.sha256 ?? '',
      filename: f.filename,
      contentType: f.content_type,
      state: f.state as FileState,
      balanceMsat: f.balance_msat,
      address: f.address,
      bip21: bip21(f.address, undefined, `storj file ${f.id}`),
      fundedUntil,
    };
    if (f.state === 'frozen' && f.frozen_at !== null) view.deleteAt = new Date(Number(f.frozen_at) + this.#d.config.graceSeconds * 1000);
    if (f.state === 'deleted' && f.deleted_at !== null) view.deleteAt = new Date(Number(f.deleted_at));
    return view;
  }

  /** The top-up (sat) that lets a file pay `costMsat` more: the shortfall, at least the minimum deposit. */
  #topUp(f: FileRow, costMsat: bigint): bigint {
    const available = f.balance_msat - f.held_msat;
    const short = costMsat - available;
    const sat = short > 0n ? ceilDiv(short, MSAT_PER_SAT) : 0n;
    const min = this.#latestPrices()?.minimumDepositSat ?? 0n;
    return sat > min ? sat : min;
  }

  /** Metadata for HEAD and for a GET before streaming. @throws NOT_FOUND, FILE_DELETED */
  headFile(fileId: string): { size: number; sha256: string; contentType: string | null; filename: string | null; state: FileState } {
    const f = this.#file(fileId);
    if (f.state === 'deleted') throw new AgentError('FILE_DELETED', 'this file was deleted after its balance stayed negative past the grace period');
    return { size: Number(f.size), sha256: f.sha256 ?? '', contentType: f.content_type, filename: f.filename, state: f.state as FileState };
  }

  /**
   * Starts a metered download: holds the cost of the requested bytes, opens the blob, and returns a settle
   * function that charges the bytes actually sent and releases the hold. Call settle exactly once, and close the
   * blob reader.
   * @throws AgentError NOT_FOUND, FILE_DELETED, FILE_FROZEN, INSUFFICIENT_BALANCE, RANGE_NOT_SATISFIABLE
   */
  async startDownload(fileId: string, rangeHeader: string | undefined): Promise<{ blob: BlobReader; start: number; end: number; size: number; partial: boolean; sha256: string; contentType: string | null; filename: string | null; settle: (bytesSent: number) => void }> {
    const f = this.#file(fileId);
    if (f.state === 'deleted') throw new AgentError('FILE_DELETED', 'this file was deleted after its balance stayed negative past the grace period');
    const size = Number(f.size);
    const range = parseRange(rangeHeader, size);
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const bytes = BigInt(end - start + 1);
    const prices = await this.prices();
    const cost = egressMsat(bytes, prices.egressMsatPerGib);
    const downloadId = this.#id();
    const at = this.#d.now();
    const now = BigInt(at.getTime());
    // Hold in one transaction with the balance check, so two concurrent downloads cannot both spend the same msat.
    const held = this.#d.db.transaction(() => {
      const cur = this.#d.db.prepare('SELECT * FROM files WHERE id = ?').get(f.id) as FileRow;
      // Storage used since the last charge is owed too, even if the sweep has not written it down yet; a frozen
      // file's top-up covers it as well as the debt, or the next sweep would freeze the file again.
      const accrued = this.ledger.accruedMsat(f.id, at, prices.storageMsatPerGibDay);
      if (cur.state === 'frozen') return { ok: false as const, code: 'FILE_FROZEN' as const, cur, accrued };
      if (cur.balance_msat - cur.held_msat - accrued < cost) return { ok: false as const, code: 'INSUFFICIENT_BALANCE' as const, cur, accrued };
      this.#d.db.prepare('UPDATE files SET held_msat = held_msat + ? WHERE id = ?').run(cost, f.id);
      this.#d.db.prepare('INSERT INTO downloads (id, file_id, held_msat, bytes_requested, started_at) VALUES (?, ?, ?, ?, ?)').run(downloadId, f.id, cost, bytes, now);
      return { ok: true as const };
    })();
    if (!held.ok) {
      const topUp = this.#topUp(held.cur, cost + held.accrued);
      const message =
        held.code === 'FILE_FROZEN'
          ? `the file's balance is negative (${held.cur.balance_msat} msat); pay ${topUp} sat to ${f.address} to download it`
          : `the file's balance cannot cover ${bytes} bytes; pay ${topUp} sat to ${f.address}`;
      throw new AgentError(held.code, message, { address: f.address, bip21: bip21(f.address, topUp, `storj file ${f.id}`), amountSat: topUp });
    }
    let settled = false;
    // Never throws: it runs from a response's 'close' listener, where an exception would end the process.
    const settle = (bytesSent: number) => {
      if (settled) return;
      settled = true;
      const sent = BigInt(Math.max(0, Math.min(bytesSent, Number(bytes))));
      const charge = egressMsat(sent, prices.egressMsatPerGib);
      const at = this.#d.now();
      // Applied once whatever the number of attempts: only the attempt that closes the download row moves the
      // hold and the balance, in the same transaction.
      const write = (): void => {
        const applied = this.#d.db.transaction(() => {
          const closed = this.#d.db.prepare('UPDATE downloads SET bytes_sent = ?, settled_at = ? WHERE id = ? AND settled_at IS NULL').run(sent, BigInt(at.getTime()), downloadId);
          if (closed.changes === 0) return false;
          this.#d.db.prepare('UPDATE files SET held_msat = held_msat - ? WHERE id = ?').run(cost, f.id);
          if (charge > 0n) this.ledger.record({ fileId: f.id, kind: 'egress', ref: downloadId, amountMsat: -charge, at });
          return true;
        })();
        if (applied && sent > 0n) this.#tell((e) => e.egress(Number(sent)));
      };
      // Kept and retried if it fails (retryPendingWrites); if the process ends first, the next start releases
      // the hold uncharged (releaseStaleHolds), as for any download a crash interrupted. Logged with the
      // download's id, never the file's: a file id is its download link.
      this.#unsettled.attempt(downloadId, `the settlement of download ${downloadId} (${sent} byte(s), ${charge} msat)`, write);
    };
    let blob: BlobReader;
    try {
      blob = await this.#d.blobs.open(f.sha256 ?? '', { start, end });
    } catch (e) {
      settle(0);
      // The range was checked against the file's recorded size, so a blob that cannot serve it is damaged.
      if (e instanceof AgentError && e.code === 'BLOB_RANGE_INVALID') {
        throw new AgentError('BLOB_TRUNCATED', `file ${f.id}: its stored blob is shorter than the ${size} bytes recorded`, undefined, { cause: e });
      }
      throw e;
    }
    return { blob, start, end, size, partial: range !== undefined, sha256: f.sha256 ?? '', contentType: f.content_type, filename: f.filename, settle };
  }

  /**
   * Holds left by downloads that a crash interrupted are released at start without a charge: the bytes they
   * sent are unknown, and the customer is not made to pay for the agent's crash.
   */
  releaseStaleHolds(): number {
    // Only downloads recorded before this Host was made: a retry later (the disk was full at start) must not
    // release the hold of a download of this process that is still running.
    const released = this.#d.db.transaction(() => {
      const now = BigInt(this.#d.now().getTime());
      const open = this.#d.db.prepare('SELECT id, file_id, held_msat FROM downloads WHERE settled_at IS NULL AND rowid <= ?').all(this.#lastDownloadAtBoot) as Array<{ id: string; file_id: string; held_msat: bigint }>;
      for (const d of open) {
        this.#d.db.prepare('UPDATE files SET held_msat = max(0, held_msat - ?) WHERE id = ?').run(d.held_msat, d.file_id);
        this.#d.db.prepare('UPDATE downloads SET settled_at = ?, bytes_sent = NULL WHERE id = ?').run(now, d.id);
      }
      return open.length;
    })();
    this.#staleReleased = true;
    return released;
  }

  /** Download settlements not yet written (the disk was full when they ran). */
  get pendingSettlements(): number {
    return this.#unsettled.size;
  }

  /**
   * Writes what could not be written before: download settlements, and the release of stale holds. Called on
   * a timer and before shutdown; never throws (what still fails stays pending, and is logged).
   */
  retryPendingWrites(): { written: number; pending: number } {
    let written = 0;
    if (!this.#staleReleased) {
      try {
        written += this.releaseStaleHolds();
      } catch (e) {
        this.#unsettled.log(`releasing the holds of interrupted downloads failed again (${describe(e)}); retried later`);
      }
    }
    written += this.#unsettled.retry();
    return { written, pending: this.#unsettled.size + (this.#staleReleased ? 0 : 1) };
  }

  // ---- payments (called by the watcher inside its transaction) ----

  /**
   * Credits and reversals from the payment watcher, for files' addresses. A payment can be reversed and
   * later come back (a reorg that drops it, then its transaction mined after all), so the k-th credit and the
   * k-th reversal of an outpoint carry the ref `<txid>:<vout>/<k>`: each is recorded once, and a comeback is
   * credited again.
   */
  readonly paymentSink: PaymentSink = {
    onCounted: (p: WatchedPayment) => this.#paymentEntry(p, 'payment', p.valueSat * MSAT_PER_SAT),
    onReversed: (p: WatchedPayment) => this.#paymentEntry(p, 'reversal', -p.valueSat * MSAT_PER_SAT),
  };

  #paymentEntry(p: WatchedPayment, kind: 'payment' | 'reversal', amountMsat: bigint): void {
    const f = this.#d.db.prepare('SELECT id FROM files WHERE address = ?').get(p.address) as { id: string } | undefined;
    if (!f) return; // the agent's own receive or change address
    const outpoint = `${p.txid}:${p.vout}`;
    const reversals = this.#d.db
      .prepare("SELECT count(*) AS n FROM ledger_entries WHERE file_id = ? AND kind = 'reversal' AND ref >= ? AND ref < ?")
      .get(f.id, `${outpoint}/`, `${outpoint}0`) as { n: bigint };
    // A credit is the (reversals)-th; a reversal undoes the (reversals)-th credit.
    const recorded = this.ledger.record({ fileId: f.id, kind, ref: `${outpoint}/${reversals.n}`, amountMsat, at: this.#d.now() });
    // Told inside the watcher's transaction: a block whose transaction fails after this point is counted
    // again when it is applied again (a metric may overcount; the ledger never does).
    if (recorded) this.#tell((e) => (kind === 'payment' ? e.credited(p.valueSat) : e.reversed(p.valueSat)));
  }

  /** Calls the observer, if any; an observer's failure is not the customer's. */
  #tell(fn: (events: HostEvents) => void): void {
    if (!this.#d.events) return;
    try {
      fn(this.#d.events);
    } catch {
      /* a metric missed */
    }
  }

  /**
   * Quotes waiting for their bytes and not expired (a metric). Read through the index on created_at: a quote
   * expires quoteTtlSeconds after it was made.
   */
  openQuotes(): number {
    const now = this.#d.now().getTime();
    const r = this.#d.db
      .prepare("SELECT count(*) AS n FROM uploads u JOIN files f ON f.id = u.file_id WHERE u.created_at > ? AND u.expires_at > ? AND f.state = 'pending'")
      .get(BigInt(now - this.#d.config.quoteTtlSeconds * 1000), BigInt(now)) as { n: bigint };
    return Number(r.n);
  }

  /** Recently quoted files still waiting for their bytes: the only addresses worth polling for mempool payments. */
  mempoolAddresses(): string[] {
    const since = BigInt(this.#d.now().getTime() - 2 * this.#d.config.quoteTtlSeconds * 1000);
    const rows = this.#d.db.prepare("SELECT f.address FROM uploads u JOIN files f ON f.id = u.file_id WHERE u.created_at >= ? AND f.state = 'pending'").all(since) as Array<{ address: string }>;
    return rows.map((r) => r.address);
  }

  // ---- scheduled work ----

  /**
   * The storage sweep (an hourly job): charges each file once a day, or at once when the charge would take
   * it below zero (see Ledger.sweepStorage), so the ledger grows by a row per file per day while freezing
   * stays within the hour.
   */
  async sweep(): Promise<string> {
    const prices = await this.prices();
    const r = this.ledger.sweepStorage(this.#d.now(), prices.storageMsatPerGibDay, DAY_MS);
    return `charged ${r.files} file(s), froze ${r.frozen}`;
  }

  /**
   * Deletes files frozen longer than the grace period, then removes blobs nothing references any more.
   * The rows stay (state 'deleted') so links answer 410 and the ledger keeps its history. Blobs of files
   * deleted in the last day are looked at again each run, so a crash between marking a file deleted and
   * removing its blob leaves no orphan behind.
   */
  async deleteExpired(): Promise<string> {
    const now = BigInt(this.#d.now().getTime());
    const cutoff = now - BigInt(this.#d.config.graceSeconds) * 1000n;
    const doomed = this.#d.db.transaction(() => {
      const rows = this.#d.db.prepare("SELECT id FROM files WHERE state = 'frozen' AND frozen_at <= ?").all(cutoff) as Array<{ id: string }>;
      const mark = this.#d.db.prepare("UPDATE files SET state = 'deleted', deleted_at = ? WHERE id = ? AND state = 'frozen'");
      for (const r of rows) mark.run(now, r.id);
      return rows.length;
    })();
    const recent = this.#d.db
      .prepare(
        `SELECT DISTINCT sha256 FROM files d WHERE d.state = 'deleted' AND d.deleted_at >= ?
         AND NOT EXISTS (SELECT 1 FROM files l WHERE l.sha256 = d.sha256 AND l.state IN ('active', 'frozen'))`,
      )
      .all(now - DAY_MS) as Array<{ sha256: string }>;
    // An upload of the same bytes may have completed since that query: asked again under the blob's lock.
    const referenced = this.#d.db.prepare("SELECT 1 FROM files WHERE sha256 = ? AND state IN ('active', 'frozen') LIMIT 1");
    let removed = 0;
    for (const { sha256: sha } of recent) {
      if (await this.#d.blobs.delete(sha, { unless: () => referenced.get(sha) !== undefined })) removed += 1;
    }
    return `deleted ${doomed} file(s), removed ${removed} blob(s)`;
  }
}
