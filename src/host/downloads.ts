/**
 * Metered downloads: the cost of the requested bytes is reserved against the file's balance before they go, in
 * memory and in the same synchronous step as the balance check, so concurrent downloads cannot spend the same
 * msat (src/host/meter.ts); a download that ends is charged the bytes actually sent, written to the ledger with
 * the next group commit. Every byte sent is charged at most once. Holds an earlier version of the agent wrote
 * to the database for its downloads in flight are released at start, uncharged.
 */
import { AgentError } from '../errors/index.ts';
import { egressMsat, type Ledger } from '../ledger/index.ts';
import type { BlobReader } from '../storage/index.ts';
import type { PriceBook } from './prices.ts';
import type { HostRepository } from './repository.ts';
import type { Meter } from './meter.ts';
import { describe } from './pending-writes.ts';
import { notDeleted, storedFile, topUpSat } from './files.ts';
import { bip21, parseRange } from './uri.ts';
import type { Download, HostDeps } from './types.ts';

interface DownloadsDeps extends Pick<HostDeps, 'blobs' | 'now' | 'log'> {
  repo: HostRepository;
  ledger: Ledger;
  prices: PriceBook;
  /** A new download's id (its row's and its ledger entry's ref). */
  downloadId: () => string;
  meter: Meter;
}

export class Downloads {
  readonly #d: DownloadsDeps;
  /** The last download row when this was made: an open one up to it was left by an earlier process. */
  readonly #lastDownloadAtBoot: bigint;
  /** Whether those holds are released yet (a full disk at start puts it off). */
  #staleReleased = false;

  constructor(deps: DownloadsDeps) {
    this.#d = deps;
    // By rowid, which only grows (download rows are never deleted), not by time: a clock stepped back must not
    // hide an earlier process's download, nor make one of this process look stale.
    this.#lastDownloadAtBoot = deps.repo.lastDownloadRowid();
  }

  /**
   * Starts a metered download: reserves the cost of the requested bytes, opens the blob, and returns a settle
   * function that charges the bytes actually sent and gives the reservation back. Writes nothing. Call settle
   * exactly once, and close the blob reader.
   * @throws AgentError NOT_FOUND, FILE_DELETED, FILE_FROZEN, INSUFFICIENT_BALANCE, RANGE_NOT_SATISFIABLE, BLOB_TRUNCATED, DEGRADED
   */
  async start(fileId: string, rangeHeader: string | undefined): Promise<Download> {
    const { repo, ledger } = this.#d;
    const f = storedFile(repo, fileId);
    notDeleted(f);
    const size = Number(f.size);
    const range = parseRange(rangeHeader, size);
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const bytes = BigInt(end - start + 1);
    const prices = await this.#d.prices.prices();
    const cost = egressMsat(bytes, prices.egressMsatPerGib);
    const at = this.#d.now();
    const { meter } = this.#d;
    if (meter.backlogged) throw new AgentError('DEGRADED', 'the agent cannot write its database (the disk is full); downloads wait until it can: GET /healthz says when it is back');
    // The check and the reservation in one synchronous step (nothing awaited between them), so two concurrent
    // downloads cannot both spend the same msat. The file's money in one read, with the storage used since the
    // last charge: that is owed too, even if the sweep has not written it down yet; a frozen file's top-up
    // covers it as well as the debt, or the next sweep would freeze the file again.
    const a = ledger.account(f.id, { now: at, priceMsatPerGibDay: prices.storageMsatPerGibDay });
    if (!a) throw new AgentError('INTERNAL', `file ${f.id} has no account in the ledger`);
    const owed = meter.owed(f.id);
    const refused = a.overdrawnAt ? 'FILE_FROZEN' : a.balanceMsat - a.heldMsat - owed - a.accruedMsat < cost ? 'INSUFFICIENT_BALANCE' : undefined;
    if (refused) {
      const topUp = topUpSat(a, owed, cost + a.accruedMsat, prices.minimumDepositSat);
      const message =
        refused === 'FILE_FROZEN'
          ? `the file's balance is negative (${a.balanceMsat} msat); pay ${topUp} sat to ${f.address} to download it`
          : `the file's balance cannot cover ${bytes} bytes; pay ${topUp} sat to ${f.address}`;
      throw new AgentError(refused, message, { address: f.address, bip21: bip21(f.address, topUp, `storj file ${f.id}`), amountSat: topUp });
    }
    const settle = this.reserve(f.id, bytes, cost, prices.egressMsatPerGib);
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
   * Reserves `cost` of the file's balance for a download of `bytes` (the caller checked the balance in the same
   * synchronous step: here, and in the fast path, src/host/hot-files.ts) and returns the download's settle function.
   */
  reserve(fileId: string, bytes: bigint, cost: bigint, egressMsatPerGib: bigint): (bytesSent: number) => void {
    this.#d.meter.reserve(fileId, cost);
    return this.#settler(fileId, this.#d.downloadId(), { bytes, cost, startedAt: this.#d.now() }, egressMsatPerGib);
  }

  /**
   * The settle function of one download: charges the bytes sent (at most those reserved for), to be written with
   * the next group commit, and gives the reservation back. Never throws: it runs from a response's 'close'
   * listener, where an exception would end the process.
   */
  #settler(fileId: string, downloadId: string, asked: { bytes: bigint; cost: bigint; startedAt: Date }, egressMsatPerGib: bigint): (bytesSent: number) => void {
    let settled = false;
    return (bytesSent: number) => {
      if (settled) return;
      settled = true;
      const sent = Math.max(0, Math.min(bytesSent, Number(asked.bytes)));
      const msat = egressMsat(BigInt(sent), egressMsatPerGib);
      this.#d.meter.settle(fileId, downloadId, { reservedMsat: asked.cost, bytesRequested: asked.bytes, startedAt: asked.startedAt, bytes: sent, msat, at: this.#d.now() });
    };
  }

  /**
   * Holds an earlier version of the agent wrote for its downloads in flight, left by a crash, are released at
   * start without a charge: the bytes they sent are unknown, and the customer is not made to pay for the
   * agent's crash. (This version holds in memory, which a crash takes away with the downloads it held for.)
   */
  releaseStaleHolds(): number {
    const { repo, ledger } = this.#d;
    // Only downloads recorded before this was made: a retry later (the disk was full at start) must not
    // release the hold of a download of this process that is still running.
    const released = repo.transaction(() => {
      const now = BigInt(this.#d.now().getTime());
      const open = repo.openDownloadsUpTo(this.#lastDownloadAtBoot);
      for (const d of open) {
        repo.markReleased(d.id, now);
        ledger.releaseStale(d.file_id, d.held_msat);
      }
      return open.length;
    });
    this.#staleReleased = true;
    return released;
  }

  /** Download charges not yet written (waiting for their group commit, or kept back by a full disk). */
  get pendingSettlements(): number {
    return this.#d.meter.pending;
  }

  /**
   * Writes what is waiting: the download charges (a group commit), and the release of stale holds if a full
   * disk put it off. Called on a timer, before the sweep and before shutdown; never throws (what still fails
   * stays pending, and is logged).
   */
  retryPendingWrites(): { written: number; pending: number } {
    let written = 0;
    if (!this.#staleReleased) {
      try {
        written += this.releaseStaleHolds();
      } catch (e) {
        this.#log(`releasing the holds of interrupted downloads failed again (${describe(e)}); retried later`);
      }
    }
    written += this.#d.meter.flush();
    return { written, pending: this.#d.meter.pending + (this.#staleReleased ? 0 : 1) };
  }

  #log(line: string): void {
    try {
      this.#d.log?.(line);
    } catch {
      /* a broken log sink must not undo the work it reports */
    }
  }
}
