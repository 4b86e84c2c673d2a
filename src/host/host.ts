/**
 * `Host`, the facade of the customer's path: it builds the pieces, each in its own file over one repository of
 * prepared statements (repository.ts), and hands each call to the piece that owns it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Ledger } from '../ledger/index.ts';
import type { PaymentSink } from '../chain/index.ts';
import type { PriceDerivation } from './pricing.ts';
import { HostRepository } from './repository.ts';
import { PriceBook } from './prices.ts';
import { Quotes } from './quotes.ts';
import { Room, Uploads } from './uploads.ts';
import { Files } from './files.ts';
import { Downloads } from './downloads.ts';
import { HotFiles } from './hot-files.ts';
import { sortableIds } from './ids.ts';
import { Meter } from './meter.ts';
import { paymentSink } from './payments.ts';
import { Retention } from './retention.ts';
import { Resumable } from './resumable.ts';
import type { Download, FileHead, FileView, HostDeps, PriceSet, Quote, UploadRequest, UploadStatus } from './types.ts';
import type { Job } from '../scheduler/index.ts';

export class Host {
  readonly ledger: Ledger;
  /** Credits and reversals from the payment watcher, called inside its transaction (src/host/payments.ts). */
  readonly paymentSink: PaymentSink;
  readonly #prices: PriceBook;
  readonly #quotes: Quotes;
  readonly #uploads: Uploads;
  readonly #files: Files;
  readonly #downloads: Downloads;
  readonly #retention: Retention;
  readonly #meter: Meter;
  readonly #hot: HotFiles;
  /** Resumable (tus) uploads: src/host/resumable.ts. */
  readonly resumable: Resumable;

  constructor(deps: HostDeps) {
    const { db, config, blobs, now } = deps;
    const repo = new HostRepository(db);
    const random = deps.random ?? randomBytes;
    this.ledger = new Ledger(db);
    const ledger = this.ledger;
    const prices = new PriceBook({ repo, config, blobs, now, feeRate: deps.feeRate });
    const room = new Room({ blobs, freeBytes: deps.freeBytes, config });
    const { log, events, storageProblems } = deps;
    const quotes = new Quotes({ repo, ledger, prices, random, config, now, newAddress: deps.newAddress, received: deps.received, storageProblems, checkRoom: (size) => room.check(size) });
    this.#prices = prices;
    this.#quotes = quotes;
    this.#uploads = new Uploads({ repo, ledger, quotes, room, config, blobs, now, storageProblems, events });
    const meter = new Meter({ repo, ledger, batchMs: config.meterBatchMs, batchBytes: config.meterBatchBytes, ...(log ? { log } : {}), ...(events ? { events } : {}) });
    this.#meter = meter;
    const pending = (id: string): boolean => {
      const u = repo.upload(id);
      return u !== undefined && repo.file(u.file_id)?.state === 'pending';
    };
    this.resumable = new Resumable({ blobs, uploads: this.#uploads, now, events, config, pending });
    this.#files = new Files({ repo, ledger, prices, config, now, unwrittenMsat: (id) => meter.unwritten(id), owedMsat: (id) => meter.owed(id) });
    // Download ids are refs in the downloads table and the ledger, not secrets: they sort by time (./ids.ts).
    this.#downloads = new Downloads({ repo, ledger, prices, downloadId: sortableIds(random, () => now().getTime()), blobs, now, log, meter });
    this.#hot = new HotFiles({ repo, ledger, prices, blobs, meter, downloads: this.#downloads, now, log });
    this.#retention = new Retention({ repo, ledger, prices, blobs, config, now });
    this.paymentSink = paymentSink({ repo, ledger, now, events });
  }

  // ---- prices ----

  /** The latest price set, computing a first one if there is none. */
  prices(): Promise<PriceSet> {
    return this.#prices.prices();
  }

  /** The latest price set without touching the network, if one exists (for /v1/info). */
  currentPrices(): PriceSet | undefined {
    return this.#prices.current();
  }

  /** Recomputes prices from the config's costs, the disk's fill level and the fee rate (the pricing job). */
  recomputePrices(): Promise<PriceDerivation> {
    return this.#prices.recompute();
  }

  // ---- quotes and uploads ----

  /** @see Quotes.createUpload */
  createUpload(req: UploadRequest, ip?: string): Promise<Quote> {
    return this.#quotes.createUpload(req, ip);
  }

  /** @see Quotes.uploadStatus */
  uploadStatus(id: string, token?: string): UploadStatus {
    return this.#quotes.uploadStatus(id, token);
  }

  /** @see Uploads.putUpload */
  putUpload(id: string, token: string | undefined, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: { contentLength?: number; signal?: AbortSignal } = {}): Promise<{ fileId: string; size: number; sha256: string }> {
    return this.#uploads.putUpload(id, token, body, opts);
  }

  /** Quotes waiting for their bytes and not expired (a metric). */
  openQuotes(): number {
    return this.#quotes.openQuotes();
  }

  /** Recently quoted files still waiting for their bytes: the only addresses worth polling for mempool payments. */
  mempoolAddresses(): string[] {
    return this.#quotes.mempoolAddresses();
  }

  // ---- files and metered downloads ----

  /** Metadata for HEAD and for a GET before streaming. @throws AgentError NOT_FOUND, FILE_DELETED */
  headFile(fileId: string): FileHead {
    return this.#files.headFile(fileId);
  }

  /** @see Files.fileView */
  fileView(fileId: string): FileView {
    return this.#files.fileView(fileId);
  }

  /** @see Downloads.start */
  startDownload(fileId: string, rangeHeader: string | undefined): Promise<Download> {
    return this.#downloads.start(fileId, rangeHeader);
  }

  /**
   * The download fast path, for the server to try before its routes: answers a plain GET or HEAD of a small
   * file from memory and returns its route, or returns undefined having written nothing (src/host/hot-files.ts).
   */
  readonly serveFast = (req: IncomingMessage, res: ServerResponse): string | undefined => this.#hot.serve(req, res);

  /** Files the fast path holds in memory with their bytes, and those bytes (src/host/hot-files.ts). */
  get hotFiles(): { files: number; bytes: number } {
    return this.#hot.size;
  }

  /** @see Downloads.releaseStaleHolds */
  releaseStaleHolds(): number {
    return this.#downloads.releaseStaleHolds();
  }

  /**
   * What a file's downloads owe beyond its balance in the ledger (msat): reserved by those in flight, and charged
   * but waiting for the group commit (src/host/meter.ts).
   */
  owedMsat(fileId: string): bigint {
    return this.#meter.owed(fileId);
  }

  /** Download charges not yet written (waiting for their group commit, or kept back by a full disk). */
  get pendingSettlements(): number {
    return this.#downloads.pendingSettlements;
  }

  /** @see Downloads.retryPendingWrites */
  retryPendingWrites(): { written: number; pending: number } {
    return this.#downloads.retryPendingWrites();
  }

  /**
   * At shutdown, after the last retryPendingWrites: stops the group commit's timer. @returns the download charges
   * still not written, lost to the agent (docs/metering.md)
   */
  stopMetering(): number {
    return this.#meter.stop();
  }

  // ---- scheduled work ----

  /** @see Retention.sweep */
  /**
   * The host's scheduled work, for the scheduler (cron expressions are UTC): the storage sweep, hourly; the
   * deletion of files frozen past the grace period, hourly; prices, daily. Each is idempotent, so a catch-up
   * or a manual run is harmless.
   */
  jobs(): Job[] {
    return [
      { name: 'sweep', cron: '0 * * * *', everySeconds: 3600, run: () => this.sweep() },
      { name: 'deletion', cron: '5 * * * *', everySeconds: 3600, run: () => this.deleteExpired() },
      {
        name: 'pricing',
        cron: '0 0 * * *',
        everySeconds: 86_400,
        run: async () => {
          const p = await this.recomputePrices();
          return `storage ${p.storageMsatPerGibDay} msat/GiB-day, egress ${p.egressMsatPerGib} msat/GiB, minimum deposit ${p.minimumDepositSat} sat`;
        },
      },
    ];
  }

  /** The download charges waiting are written first, so that the sweep charges and freezes on whole balances. */
  sweep(): Promise<string> {
    this.#meter.flush();
    return this.#retention.sweep();
  }

  /** @see Retention.deleteExpired (the download charges waiting are written first), and the partial uploads that can no longer complete (Resumable.expire) */
  async deleteExpired(): Promise<string> {
    this.#meter.flush();
    const files = await this.#retention.deleteExpired();
    const partials = await this.resumable.expire();
    return partials > 0 ? `${files}, ${partials} partial upload(s)` : files;
  }
}

