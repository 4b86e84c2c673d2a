/**
 * The host's scheduled work on stored files: the storage sweep that charges them for the time they are kept,
 * and the deletion of files frozen past the grace period, with the blobs nothing references any more.
 */
import type { Config } from '../config/index.ts';
import { DAY_MS, type Ledger } from '../ledger/index.ts';
import type { BlobStore } from '../storage/index.ts';
import type { PriceBook } from './prices.ts';
import type { HostRepository } from './repository.ts';

interface RetentionDeps {
  repo: HostRepository;
  ledger: Ledger;
  prices: PriceBook;
  blobs: BlobStore;
  config: Config;
  now: () => Date;
}

export class Retention {
  readonly #d: RetentionDeps;

  constructor(deps: RetentionDeps) {
    this.#d = deps;
  }

  /**
   * The storage sweep (an hourly job): charges each file once a day, or at once when the charge would take
   * it below zero (see Ledger.sweepStorage), so the ledger grows by a row per file per day while freezing
   * stays within the hour.
   */
  async sweep(): Promise<string> {
    const prices = await this.#d.prices.prices();
    const r = this.#d.ledger.sweepStorage(this.#d.now(), prices.storageMsatPerGibDay, DAY_MS);
    return `charged ${r.files} file(s), froze ${r.frozen}`;
  }

  /**
   * Deletes files frozen longer than the grace period, then removes blobs nothing references any more.
   * The rows stay (state 'deleted') so links answer 410 and the ledger keeps its history. Blobs of files
   * deleted in the last day are looked at again each run, so a crash between marking a file deleted and
   * removing its blob leaves no orphan behind.
   */
  async deleteExpired(): Promise<string> {
    const { repo } = this.#d;
    const { ledger } = this.#d;
    const at = this.#d.now();
    const now = BigInt(at.getTime());
    const cutoff = new Date(at.getTime() - this.#d.config.graceSeconds * 1000);
    // The ledger says which files have been overdrawn (frozen) since before the cutoff; the host deletes them
    // and the ledger closes their accounts in the same transaction, so a deleted file is charged no more.
    const doomed = repo.transaction(() => {
      let n = 0;
      for (const id of ledger.overdrawnSince(cutoff)) {
        if (!repo.markDeleted(id, now)) continue;
        ledger.closeAccount(id, at);
        n += 1;
      }
      return n;
    });
    const recent = repo.orphanedBlobsSince(now - DAY_MS);
    let removed = 0;
    for (const sha of recent) {
      // An upload of the same bytes may have completed since that query: asked again under the blob's lock.
      if (await this.#d.blobs.delete(sha, { unless: () => repo.isBlobReferenced(sha) })) removed += 1;
    }
    return `deleted ${doomed} file(s), removed ${removed} blob(s)`;
  }
}
