/**
 * The metered downloads' money between the ledger and the wire (docs/metering.md). The one process that owns
 * the database keeps, per file, what its downloads in flight have reserved and what the downloads that ended
 * have been charged but not yet written: a download is checked against the ledger's balance less both, in
 * memory, with no transaction. The charges are written to the ledger in groups (a group commit): one
 * transaction once they charge `batchBytes` bytes, or `batchMs` after the first of them, whichever comes first.
 *
 * What a kill -9 loses is the group not yet committed, at most `batchBytes` bytes of egress (and the downloads
 * still in flight, never charged, as before): lost to the agent, never charged twice, since each charge is an
 * entry keyed by its download's id (src/ledger/index.ts, `recordAll`).
 */
import type { Ledger } from '../ledger/index.ts';
import type { HostRepository } from './repository.ts';
import { describe } from './pending-writes.ts';
import { tell, type HostEvents } from './types.ts';

/** A download that ended, as it is settled: what it reserved, and what it sent and is charged. */
export interface Settlement {
  reservedMsat: bigint;
  bytesRequested: bigint;
  startedAt: Date;
  /** Bytes sent, and their cost. */
  bytes: number;
  msat: bigint;
  at: Date;
}

/** A download's charge, settled and waiting for its group commit. */
interface Charge extends Settlement {
  fileId: string;
  /** The download's id: its row's and its ledger entry's ref, so the charge is written once whatever the attempts. */
  downloadId: string;
}

export interface MeterDeps {
  repo: HostRepository;
  ledger: Ledger;
  /** Most time a charge waits for its group commit (ms). */
  batchMs: number;
  /** Bytes charged that make a group commit at once (0: every charge is written as it comes). */
  batchBytes: number;
  log?: (line: string) => void;
  events?: HostEvents;
}

export class Meter {
  readonly #d: MeterDeps;
  /** msat reserved by downloads in flight, by file. */
  readonly #reserved = new Map<string, bigint>();
  /** msat charged and not yet in the ledger, by file. */
  readonly #unwritten = new Map<string, bigint>();
  #batch: Charge[] = [];
  #batchBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The last group commit failed (a full disk): said once, and once more when it goes through. */
  #failing = false;
  /** The database is closing: no more timers. */
  #stopped = false;

  constructor(deps: MeterDeps) {
    this.#d = deps;
  }

  /** What the file's balance in the ledger owes beyond its entries: reserved by downloads in flight, and charged but unwritten. */
  owed(fileId: string): bigint {
    return (this.#reserved.get(fileId) ?? 0n) + (this.#unwritten.get(fileId) ?? 0n);
  }

  /** msat charged to the file's downloads and not yet written to the ledger. */
  unwritten(fileId: string): bigint {
    return this.#unwritten.get(fileId) ?? 0n;
  }

  /** Reserves `msat` of the file's balance for a download; the caller checked it in the same synchronous step. */
  reserve(fileId: string, msat: bigint): void {
    add(this.#reserved, fileId, msat);
  }

  /**
   * Ends a download: gives back its reservation and charges what it sent, to be written with the next group
   * commit, or at once when the group has reached `batchBytes`. A download that sent nothing writes nothing.
   * Never throws.
   */
  settle(fileId: string, downloadId: string, s: Settlement): void {
    add(this.#reserved, fileId, -s.reservedMsat);
    if (s.bytes <= 0) return;
    add(this.#unwritten, fileId, s.msat);
    this.#batch.push({ fileId, downloadId, ...s });
    this.#batchBytes += s.bytes;
    if (this.#batchBytes >= this.#d.batchBytes) this.flush();
    else this.#arm();
  }

  /**
   * Whether new downloads must wait: a group commit failed (a full disk) and the bytes waiting have reached
   * `batchBytes`, so that what a kill -9 could lose stays within the bound (docs/metering.md).
   */
  get backlogged(): boolean {
    return this.#failing && this.#batchBytes >= this.#d.batchBytes;
  }

  /** Charges settled and not yet written. */
  get pending(): number {
    return this.#batch.length;
  }

  /**
   * Writes every charge waiting, in one transaction (a group commit). Never throws: a write the database refuses
   * (a full disk) stays waiting, still counted against its file's balance, and is tried again on the timer.
   * @returns how many charges were written now
   */
  flush(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batch;
    if (batch.length === 0) return 0;
    const { repo, ledger } = this.#d;
    let applied: boolean[];
    try {
      // The downloads' rows and their charges in one transaction: a retry after a failure, or after a commit
      // whose outcome was not seen, writes each once.
      applied = repo.transaction(() => {
        for (const c of batch) {
          repo.recordSettled({ id: c.downloadId, fileId: c.fileId, reservedMsat: c.reservedMsat, bytesRequested: c.bytesRequested, bytesSent: BigInt(c.bytes), startedAt: BigInt(c.startedAt.getTime()), settledAt: BigInt(c.at.getTime()) });
        }
        return ledger.recordAll(batch.filter((c) => c.msat > 0n).map((c) => ({ fileId: c.fileId, kind: 'egress' as const, ref: c.downloadId, amountMsat: -c.msat, at: c.at })));
      });
    } catch (e) {
      // Logged without file ids: a file id is its download link.
      if (!this.#failing) this.#log(`${batch.length} download charge(s) not yet written (${describe(e)}); kept, retried until written`);
      this.#failing = true;
      this.#arm();
      return 0;
    }
    if (this.#failing) this.#log(`${batch.length} download charge(s) kept back are written`);
    this.#failing = false;
    this.#batch = [];
    this.#batchBytes = 0;
    let bytes = 0;
    let i = 0;
    for (const c of batch) {
      add(this.#unwritten, c.fileId, -c.msat);
      if (c.msat > 0n && applied[i++]) bytes += c.bytes;
    }
    if (bytes > 0) tell(this.#d.events, (e) => e.egress(bytes));
    return batch.length;
  }

  /**
   * Stops the timer for good, once the last group commit has been tried (shutdown): what is still waiting is
   * lost to the agent. @returns how many charges that is
   */
  stop(): number {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#batch.length;
  }

  #arm(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => this.flush(), this.#d.batchMs);
    // The timer must not keep a process alive: shutdown flushes (Host.retryPendingWrites).
    this.#timer.unref();
  }

  #log(line: string): void {
    try {
      this.#d.log?.(line);
    } catch {
      /* a broken log sink must not undo the work it reports */
    }
  }
}

function add(m: Map<string, bigint>, key: string, msat: bigint): void {
  const v = (m.get(key) ?? 0n) + msat;
  if (v === 0n) m.delete(key);
  else m.set(key, v);
}
