/**
 * The download fast path (docs/metering.md, "The fast path"): `GET` and `HEAD /f/:fileId` of a small stored file,
 * answered from memory before the HTTP framework parses the request. Popular files are mostly small, and for them
 * the framework's per-request work, two log lines, the three reads of the file, its account and its prices, and four
 * thread-pool round trips to open, stat, read and close the blob cost ten times what the answer does.
 *
 * What is kept, per file asked for lately (at most MAX_ENTRIES files and MAX_BYTES of bytes, each at most
 * MAX_FILE_BYTES): the file's bytes (content-addressed and never changed while the file is stored), its headers,
 * the cost of the whole file at the price read, and what its balance had to spend on downloads when read. That
 * last is the only fact that moves, and it is read again whenever it may have: when the ledger has written to any
 * account (`Ledger.epoch`: payments, reversals, the sweep, the group commits of download charges), when a file
 * was deleted or a price set added (`HostRepository.epoch`), and at least every TTL_MS. The storage a file accrues
 * is counted up to the end of that TTL, so the figure kept is never more than the slow path would read.
 *
 * The money rules are the slow path's (src/host/downloads.ts): the check against the balance less what the meter
 * owes and the reservation happen in one synchronous step; the download is charged, through the same meter and
 * group commit, the bytes the socket took (all of them once the response has finished, none if the connection
 * closed first). Everything else goes to the slow path untouched: a Range or If-None-Match, a body, a file not
 * yet in memory (its bytes are loaded in the background meanwhile), too large, frozen, deleted or short of
 * balance (which the slow path answers with its 402 and the amount to pay), a meter that cannot write.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { egressMsat, type Ledger } from '../ledger/index.ts';
import type { BlobStore } from '../storage/index.ts';
import type { Downloads } from './downloads.ts';
import type { Meter } from './meter.ts';
import type { PriceBook } from './prices.ts';
import type { HostRepository } from './repository.ts';
import { fileHeaders } from './file-headers.ts';
import { ID_RE } from './ids.ts';

/** Largest file answered from memory. */
const MAX_FILE_BYTES = 64 * 1024;
/** Bytes of files kept in memory, all files together. */
const MAX_BYTES = 8 * 1024 * 1024;
/** Files kept; the least recently refreshed go first. */
const MAX_ENTRIES = 4096;
/** Longest a file's balance is trusted without reading it again (ms). */
const TTL_MS = 1000;
/** `/f/` and a 22-character id. */
const URL_LENGTH = 3 + 22;
/** The route the answers are counted under (the metrics), as the slow path's. */
const FILE_ROUTE = '/f/:fileId';

interface HotFile {
  sha256: string;
  size: number;
  /** The bytes, once loaded. */
  body: Buffer | undefined;
  /** Loading the bytes failed (a missing or damaged blob): not tried again before the entry is read again. */
  failed?: boolean;
  /** The 200's headers (with the length). */
  headers: OutgoingHttpHeaders;
  // What the money facts below were read under: stale once either epoch moves or the clock passes `until`.
  ledgerEpoch: number;
  repoEpoch: number;
  until: number;
  /** The whole file's egress cost at `egressMsatPerGib`. */
  cost: bigint;
  egressMsatPerGib: bigint;
  /** The balance less old holds and the storage accrued up to `until`; undefined when the file is frozen. */
  spendable: bigint | undefined;
}

export interface HotFilesDeps {
  repo: HostRepository;
  ledger: Ledger;
  prices: PriceBook;
  blobs: BlobStore;
  meter: Meter;
  downloads: Downloads;
  now: () => Date;
  log?: ((line: string) => void) | undefined;
}

export class HotFiles {
  readonly #d: HotFilesDeps;
  /** By file id, in the order each was last read (Map order): the first is the next to go. */
  readonly #files = new Map<string, HotFile>();
  #bytes = 0;

  constructor(deps: HotFilesDeps) {
    this.#d = deps;
  }

  /** Files kept in memory with their bytes loaded, and those bytes. */
  get size(): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const f of this.#files.values()) {
      if (f.body === undefined) continue;
      files++;
      bytes += f.size;
    }
    return { files, bytes };
  }

  /**
   * Answers the request if it is a plain GET or HEAD of a file kept in memory that may be downloaded now, and
   * returns the route it answered; else returns undefined having written nothing, for the slow path. Never throws.
   */
  serve(req: IncomingMessage, res: ServerResponse): string | undefined {
    const { url, method, headers } = req;
    if (url?.length !== URL_LENGTH || !url.startsWith('/f/') || (method !== 'GET' && method !== 'HEAD')) return undefined;
    if (headers.range !== undefined || headers['if-none-match'] !== undefined || headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return undefined;
    const id = url.slice(3);
    if (!ID_RE.test(id)) return undefined;
    let f: HotFile | undefined;
    try {
      f = this.#current(id);
    } catch (e) {
      // A database that cannot be read now: the slow path meets the same error and answers it.
      this.#log(`the download fast path could not read a file (${e instanceof Error ? e.message : String(e)}); the slow path answers`);
      return undefined;
    }
    if (f?.body === undefined) return undefined;
    if (method === 'HEAD') {
      res.writeHead(200, f.headers);
      res.end();
      return FILE_ROUTE;
    }
    const { meter } = this.#d;
    // The check and the reservation in one synchronous step, as in Downloads.start.
    if (f.spendable === undefined || meter.backlogged || f.spendable - meter.owed(id) < f.cost) return undefined;
    const settle = this.#d.downloads.reserve(id, BigInt(f.size), f.cost, f.egressMsatPerGib);
    const size = f.size;
    res.once('close', () => settle(res.writableFinished ? size : 0));
    res.writeHead(200, f.headers);
    res.end(f.body);
    return FILE_ROUTE;
  }

  /** The file as kept, its money facts read again if they may have moved; undefined when it is not kept (and cannot be). */
  #current(id: string): HotFile | undefined {
    const { ledger, repo } = this.#d;
    const f = this.#files.get(id);
    const now = this.#d.now().getTime();
    if (f && f.ledgerEpoch === ledger.epoch && f.repoEpoch === repo.epoch && now < f.until) return f;
    return this.#read(id, f, now);
  }

  /** Reads the file, its account and the prices (all synchronous, so no write comes between them). */
  #read(id: string, kept: HotFile | undefined, now: number): HotFile | undefined {
    const { ledger, repo, prices } = this.#d;
    const ledgerEpoch = ledger.epoch;
    const repoEpoch = repo.epoch;
    const row = repo.file(id);
    const p = prices.current();
    if (!row || row.state !== 'active' || row.sha256 === null || row.size > BigInt(MAX_FILE_BYTES) || !p) {
      if (kept) this.#drop(id, kept);
      return undefined;
    }
    const until = now + TTL_MS;
    const a = ledger.account(id, { now: new Date(until), priceMsatPerGibDay: p.storageMsatPerGibDay });
    if (!a) {
      if (kept) this.#drop(id, kept);
      return undefined;
    }
    const size = Number(row.size);
    // The bytes and the headers belong to the blob and the file's name and type, which never change while it is
    // stored: only the money facts are new.
    const same = kept?.sha256 === row.sha256 ? kept : undefined;
    const f: HotFile = {
      sha256: row.sha256,
      size,
      body: same?.body,
      headers: same?.headers ?? { ...fileHeaders({ sha256: row.sha256, contentType: row.content_type, filename: row.filename }), 'content-length': size },
      ledgerEpoch,
      repoEpoch,
      until,
      cost: egressMsat(row.size, p.egressMsatPerGib),
      egressMsatPerGib: p.egressMsatPerGib,
      spendable: a.overdrawnAt ? undefined : a.balanceMsat - a.heldMsat - a.accruedMsat,
    };
    // Bytes still loading for the same blob land in this entry (see #load). A load that failed is tried again
    // only now, once the entry is read again: at most once a second for a file whose blob is missing.
    const loading = same !== undefined && same.body === undefined && same.failed !== true;
    if (kept) this.#drop(id, kept);
    this.#keep(id, f);
    if (f.body === undefined && !loading) void this.#load(id, f);
    return f;
  }

  #keep(id: string, f: HotFile): void {
    this.#files.set(id, f);
    this.#bytes += f.size;
    for (const [oldest, o] of this.#files) {
      if (this.#bytes <= MAX_BYTES && this.#files.size <= MAX_ENTRIES) break;
      this.#drop(oldest, o);
    }
  }

  #drop(id: string, f: HotFile): void {
    if (this.#files.get(id) !== f) return;
    this.#files.delete(id);
    this.#bytes -= f.size;
  }

  /**
   * Reads the file's bytes from the blob store into the entry kept for it now (`f`, or the one that replaced it
   * for the same blob), unless it has gone meanwhile; a failure marks that entry instead. Never rejects.
   */
  async #load(id: string, f: HotFile): Promise<void> {
    const body = Buffer.allocUnsafe(f.size);
    const current = () => {
      const now = this.#files.get(id);
      return now?.sha256 === f.sha256 ? now : undefined;
    };
    try {
      const reader = await this.#d.blobs.open(f.sha256);
      try {
        let at = 0;
        while (at < f.size) {
          const n = await reader.read(body.subarray(at));
          if (n === 0) break;
          at += n;
        }
        if (at !== f.size) throw new Error(`the blob has ${at} bytes, not ${f.size}`);
      } finally {
        await reader.close();
      }
    } catch (e) {
      // The slow path serves the file (and reports a damaged blob) until the entry is read again.
      const now = current();
      if (now) now.failed = true;
      this.#log(`the download fast path could not load a file's bytes (${e instanceof Error ? e.message : String(e)}); the slow path serves it`);
      return;
    }
    // The bytes are the blob's whatever the money facts kept beside them are now.
    const now = current();
    if (now) now.body = body;
  }

  #log(line: string): void {
    try {
      this.#d.log?.(line);
    } catch {
      /* a broken log sink must not break a download */
    }
  }
}
