/**
 * Quotes and their payment state: a quote is a fresh address, the amount covering the service asked for, and
 * a secret upload token; its state follows what the payment watcher has seen arrive at the address.
 */
import type { Config } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import type { Ledger } from '../ledger/index.ts';
import { quoteAmountSat } from './pricing.ts';
import type { PriceBook } from './prices.ts';
import type { FileRow, HostRepository, UploadRow } from './repository.ts';
import { ID_RE, newId, newToken, sha256, tokenMatches, type Random } from './ids.ts';
import { bip21 } from './uri.ts';
import { clientKey, QuoteSlots } from './quote-slots.ts';
import type { HostDeps, Quote, UploadRequest, UploadState, UploadStatus } from './types.ts';

interface QuotesDeps extends Pick<HostDeps, 'config' | 'now' | 'newAddress' | 'received' | 'storageProblems'> {
  repo: HostRepository;
  ledger: Ledger;
  prices: PriceBook;
  random: Random;
  /** Refuses a size the disk has no room for now. @throws AgentError INSUFFICIENT_STORAGE */
  checkRoom: (size: bigint) => Promise<void>;
}

/** An upload's row and its file's. */
interface UploadRows {
  u: UploadRow;
  f: FileRow;
}

export class Quotes {
  readonly #d: QuotesDeps;
  readonly #config: Config;
  readonly #slots: QuoteSlots;
  /** Where the last mempool poll stopped in the order quotes were made (see mempoolAddresses). */
  #pollAfter = { at: 0n, rowid: 0n };

  constructor(deps: QuotesDeps) {
    this.#d = deps;
    this.#config = deps.config;
    this.#slots = new QuoteSlots(deps.config.quotesPerClientMax, (uploadId) => deps.repo.uploadFileState(uploadId) === 'pending');
  }

  /**
   * A quote: a fresh address, the amount covering `days` of storage and `downloads` full downloads (and at
   * least the minimum deposit), and the secret upload token, shown once (only its hash is stored).
   * `ip` is the client's address (request.ip): it holds at most quotesPerClientMax open quotes (src/host/quote-slots.ts).
   * @throws AgentError BAD_REQUEST, PAYLOAD_TOO_LARGE, DEGRADED (low disk or a database it cannot write),
   * INSUFFICIENT_STORAGE (no room for `size` bytes), TOO_MANY_QUOTES (details.retryAfterSeconds)
   */
  async createUpload(req: UploadRequest, ip?: string): Promise<Quote> {
    const days = req.days ?? 1;
    const downloads = req.downloads ?? 1;
    if (!Number.isSafeInteger(req.size) || req.size <= 0) throw new AgentError('BAD_REQUEST', 'size must be a positive integer');
    if (req.size > this.#config.maxFileSize) throw new AgentError('PAYLOAD_TOO_LARGE', `size ${req.size} is above the limit of ${this.#config.maxFileSize} bytes`, { maxFileSize: this.#config.maxFileSize });
    // The essay's minimum: a day of hosting and one download.
    if (!Number.isSafeInteger(days) || days < 1) throw new AgentError('BAD_REQUEST', 'days must be an integer of at least 1');
    if (!Number.isSafeInteger(downloads) || downloads < 1) throw new AgentError('BAD_REQUEST', 'downloads must be an integer of at least 1');
    // The slot is taken before the first await, so concurrent quotes of one client cannot overshoot its limit.
    const slot = ip === undefined ? undefined : this.#slots.take(clientKey(ip), this.#d.now().getTime());
    try {
      const quote = await this.#make(req, days, downloads);
      slot?.made(quote.id, quote.expiresAt.getTime());
      return quote;
    } finally {
      slot?.release();
    }
  }

  async #make(req: UploadRequest, days: number, downloads: number): Promise<Quote> {
    const problems = (await this.#d.storageProblems?.()) ?? [];
    if (problems.length > 0) throw new AgentError('DEGRADED', `the agent takes no new uploads while degraded (${problems.join(', ')}); it recovers by itself`, { reasons: problems });
    await this.#d.checkRoom(BigInt(req.size));
    const prices = await this.#d.prices.prices();
    const amountSat = quoteAmountSat(BigInt(req.size), BigInt(days), BigInt(downloads), prices);
    const now = this.#d.now();
    const expiresAt = new Date(now.getTime() + this.#config.quoteTtlSeconds * 1000);
    const id = newId(this.#d.random);
    const fileId = newId(this.#d.random);
    const token = newToken(this.#d.random);
    const { address } = this.#d.repo.transaction(() => {
      const a = this.#d.newAddress();
      this.#d.repo.insertUpload({
        id,
        fileId,
        address: a.address,
        size: BigInt(req.size),
        filename: req.filename ?? null,
        contentType: req.contentType ?? null,
        tokenHash: sha256(token),
        days: BigInt(days),
        downloads: BigInt(downloads),
        amountSat,
        priceSetId: prices.id,
        createdAt: BigInt(now.getTime()),
        expiresAt: BigInt(expiresAt.getTime()),
      });
      // The file's account, so that a payment to its address has a balance to land in.
      this.#d.ledger.openAccount(fileId, BigInt(req.size));
      return a;
    });
    return { id, address, amountSat, bip21: bip21(address, amountSat, `storj upload ${id}`), expiresAt, uploadToken: token };
  }

  /** An upload and its file. @throws AgentError NOT_FOUND */
  find(id: string): UploadRows {
    if (!ID_RE.test(id)) throw new AgentError('NOT_FOUND', 'no such upload');
    const u = this.#d.repo.upload(id);
    if (!u) throw new AgentError('NOT_FOUND', 'no such upload');
    const f = this.#d.repo.file(u.file_id);
    if (!f) throw new AgentError('INTERNAL', `upload ${id} has no file row`);
    return { u, f };
  }

  /**
   * The upload's payment state. The fileId is the file's download link, and the upload id travels in the
   * payment URI's label, so the fileId goes only to the holder of the upload token.
   */
  uploadStatus(id: string, token?: string): UploadStatus {
    const { u, f } = this.find(id);
    const { fileId, ...rest } = this.status({ u, f });
    return fileId !== undefined && tokenMatches(token, u.token_hash) ? { ...rest, fileId } : rest;
  }

  /** The state of an upload, with its fileId once complete (the caller decides who may see it). */
  status({ u, f }: UploadRows): UploadStatus {
    const now = this.#d.now();
    const r = this.#d.received(f.address);
    const amountSat = this.#amountDue(u, f, now);
    let state: UploadState;
    if (f.state !== 'pending') state = 'complete';
    else if (r.countedSat >= amountSat) state = 'paid';
    else if (now.getTime() > Number(u.expires_at)) state = 'expired';
    else state = 'awaiting_payment';
    return { id: u.id, state, amountSat, receivedSat: r.receivedSat, confirmedSat: r.confirmedSat, ...(f.state !== 'pending' ? { fileId: f.id } : {}) };
  }

  /** What the upload needs now: the quoted amount until the quote expires, then the same service at today's prices. */
  #amountDue(u: UploadRow, f: FileRow, now: Date): bigint {
    if (now.getTime() <= Number(u.expires_at)) return u.amount_sat;
    const current = this.#d.prices.current() ?? this.#d.prices.byId(u.price_set_id);
    return quoteAmountSat(f.size, u.days, u.downloads, current);
  }

  /** Quotes waiting for their bytes and not expired (a metric). */
  openQuotes(): number {
    const now = this.#d.now().getTime();
    return Number(this.#d.repo.openQuoteCount(BigInt(now - this.#config.quoteTtlSeconds * 1000), BigInt(now)));
  }

  /**
   * The addresses worth polling for mempool payments: open quotes (waiting for their bytes, not expired), at most
   * mempoolPollMax of them per call, taken in turn in the order the quotes were made, from where the last call
   * stopped and round again, so each open quote is polled once every ceil(open / mempoolPollMax) passes
   * (docs/payments.md). A payment to an expired quote is still found when it is mined: every block is scanned whole.
   */
  mempoolAddresses(): string[] {
    const now = BigInt(this.#d.now().getTime());
    // Quotes expire quoteTtlSeconds after they were made: none made before `from` is open.
    const from = now - BigInt(this.#config.quoteTtlSeconds) * 1000n;
    const max = this.#config.mempoolPollMax;
    const page = this.#d.repo.openQuotePage(from, this.#pollAfter.at, this.#pollAfter.rowid, now, max);
    if (page.length < max) {
      // The end of the open quotes: round again from the first, up to where this call began.
      const taken = new Set(page.map((r) => r.address));
      for (const r of this.#d.repo.openQuotePage(from, 0n, 0n, now, max - page.length)) {
        if (taken.has(r.address)) break;
        page.push(r);
      }
    }
    const last = page.at(-1);
    this.#pollAfter = last ? { at: last.at, rowid: last.rowid } : { at: 0n, rowid: 0n };
    return page.map((r) => r.address);
  }
}
