/**
 * Metered downloads, and all of their state in one place: the hold taken on a file's balance before the bytes
 * go (in the same transaction as the balance check, so concurrent downloads cannot spend the same msat), the
 * settlement on the bytes actually sent, settlements kept back by a full disk until they can be written, and
 * the holds an earlier process left open. Every byte sent is charged once, and a hold is released once.
 */
import { AgentError } from '../errors/index.ts';
import { egressMsat, type Ledger } from '../ledger/index.ts';
import type { BlobReader } from '../storage/index.ts';
import type { PriceBook } from './prices.ts';
import type { HostRepository } from './repository.ts';
import { describe, PendingWrites } from './pending-writes.ts';
import { notDeleted, storedFile, topUpSat } from './files.ts';
import { newId, type Random } from './ids.ts';
import { bip21, parseRange } from './uri.ts';
import { tell, type Download, type HostDeps } from './types.ts';

interface DownloadsDeps extends Pick<HostDeps, 'blobs' | 'now' | 'log' | 'events'> {
  repo: HostRepository;
  ledger: Ledger;
  prices: PriceBook;
  random: Random;
}

export class Downloads {
  readonly #d: DownloadsDeps;
  /** Download settlements that could not be written (a full disk), by download id: retried until written. */
  readonly #unsettled: PendingWrites;
  /** The last download row when this was made: an open one up to it was left by an earlier process. */
  readonly #lastDownloadAtBoot: bigint;
  /** Whether those holds are released yet (a full disk at start puts it off). */
  #staleReleased = false;

  constructor(deps: DownloadsDeps) {
    this.#d = deps;
    this.#unsettled = new PendingWrites(deps.log);
    // By rowid, which only grows (download rows are never deleted), not by time: a clock stepped back must not
    // hide an earlier process's download, nor make one of this process look stale.
    this.#lastDownloadAtBoot = deps.repo.lastDownloadRowid();
  }

  /**
   * Starts a metered download: holds the cost of the requested bytes, opens the blob, and returns a settle
   * function that charges the bytes actually sent and releases the hold. Call settle exactly once, and close the
   * blob reader.
   * @throws AgentError NOT_FOUND, FILE_DELETED, FILE_FROZEN, INSUFFICIENT_BALANCE, RANGE_NOT_SATISFIABLE, BLOB_TRUNCATED
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
    const downloadId = newId(this.#d.random);
    const at = this.#d.now();
    // Hold in one transaction with the balance check, so two concurrent downloads cannot both spend the same msat.
    const held = repo.transaction(() => {
      // The file's money in one read, with the storage used since the last charge: that is owed too, even if
      // the sweep has not written it down yet; a frozen file's top-up covers it as well as the debt, or the
      // next sweep would freeze the file again.
      const a = ledger.account(f.id, { now: at, priceMsatPerGibDay: prices.storageMsatPerGibDay });
      if (!a) throw new AgentError('INTERNAL', `file ${f.id} has no account in the ledger`);
      if (a.overdrawnAt) return { ok: false as const, code: 'FILE_FROZEN' as const, a };
      if (a.balanceMsat - a.heldMsat - a.accruedMsat < cost) return { ok: false as const, code: 'INSUFFICIENT_BALANCE' as const, a };
      ledger.hold(f.id, cost);
      repo.openDownload({ id: downloadId, fileId: f.id, heldMsat: cost, bytesRequested: bytes, startedAt: BigInt(at.getTime()) });
      return { ok: true as const };
    });
    if (!held.ok) {
      const topUp = topUpSat(held.a, cost + held.a.accruedMsat, prices.minimumDepositSat);
      const message =
        held.code === 'FILE_FROZEN'
          ? `the file's balance is negative (${held.a.balanceMsat} msat); pay ${topUp} sat to ${f.address} to download it`
          : `the file's balance cannot cover ${bytes} bytes; pay ${topUp} sat to ${f.address}`;
      throw new AgentError(held.code, message, { address: f.address, bip21: bip21(f.address, topUp, `storj file ${f.id}`), amountSat: topUp });
    }
    const settle = this.#settler(f.id, downloadId, bytes, cost, prices.egressMsatPerGib);
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
   * The settle function of one download: charges the bytes sent (at most those held for) and releases the
   * hold. Never throws: it runs from a response's 'close' listener, where an exception would end the process.
   */
  #settler(fileId: string, downloadId: string, bytes: bigint, cost: bigint, egressMsatPerGib: bigint): (bytesSent: number) => void {
    const { repo, ledger } = this.#d;
    let settled = false;
    return (bytesSent: number) => {
      if (settled) return;
      settled = true;
      const sent = BigInt(Math.max(0, Math.min(bytesSent, Number(bytes))));
      const charge = egressMsat(sent, egressMsatPerGib);
      const at = this.#d.now();
      // Applied once whatever the number of attempts: only the attempt that closes the download row moves the
      // hold and the balance, in the same transaction.
      const write = (): void => {
        const applied = repo.transaction(() => {
          if (!repo.closeDownload(downloadId, sent, BigInt(at.getTime()))) return false;
          ledger.release(fileId, cost);
          if (charge > 0n) ledger.record({ fileId, kind: 'egress', ref: downloadId, amountMsat: -charge, at });
          return true;
        });
        if (applied && sent > 0n) tell(this.#d.events, (e) => e.egress(Number(sent)));
      };
      // Kept and retried if it fails (retryPendingWrites); if the process ends first, the next start releases
      // the hold uncharged (releaseStaleHolds), as for any download a crash interrupted. Logged with the
      // download's id, never the file's: a file id is its download link.
      this.#unsettled.attempt(downloadId, `the settlement of download ${downloadId} (${sent} byte(s), ${charge} msat)`, write);
    };
  }

  /**
   * Holds left by downloads that a crash interrupted are released at start without a charge: the bytes they
   * sent are unknown, and the customer is not made to pay for the agent's crash.
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
        ledger.release(d.file_id, d.held_msat, true);
      }
      return open.length;
    });
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
}
