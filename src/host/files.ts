/** What a stored file looks like from outside: its page (GET /v1/files/:fileId) and its headers (HEAD /f/:fileId). */
import type { Config } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import { ceilDiv, MSAT_PER_SAT } from '../money/index.ts';
import { DAY_MS, egressMsat, storageMsatPerDay, type FileAccount, type Ledger } from '../ledger/index.ts';
import type { PriceBook } from './prices.ts';
import type { FileRow, HostRepository } from './repository.ts';
import { ID_RE } from './ids.ts';
import { bip21 } from './uri.ts';
import type { FileHead, FileState, FileView } from './types.ts';

/** A file that has its bytes (pending files do not exist to the outside). @throws AgentError NOT_FOUND */
export function storedFile(repo: HostRepository, fileId: string): FileRow {
  if (!ID_RE.test(fileId)) throw new AgentError('NOT_FOUND', 'no such file');
  const f = repo.file(fileId);
  if (!f || f.state === 'pending') throw new AgentError('NOT_FOUND', 'no such file');
  return f;
}

/**
 * What a stored file is to the outside: deleted, or stored and then frozen while its account in the ledger is
 * overdrawn (the ledger decides when the balance freezes it; the host decides the file's life), else active.
 */
function fileState(f: FileRow, account: FileAccount | undefined): FileState {
  if (f.state === 'deleted') return 'deleted';
  return account?.overdrawnAt ? 'frozen' : 'active';
}

/**
 * The top-up (sat) that lets a file pay `costMsat` more than it holds for downloads in flight and owes for those
 * that ended (`owedMsat`: reserved and not yet written, src/host/meter.ts): the shortfall, at least the minimum
 * deposit. What a refused download answers with (402 amountSat), and what the file's page shows.
 */
export function topUpSat(a: FileAccount, owedMsat: bigint, costMsat: bigint, minimumDepositSat: bigint): bigint {
  const short = costMsat - (a.balanceMsat - a.heldMsat - owedMsat);
  const sat = short > 0n ? ceilDiv(short, MSAT_PER_SAT) : 0n;
  return sat > minimumDepositSat ? sat : minimumDepositSat;
}

/** @throws AgentError FILE_DELETED for a file that was deleted. */
export function notDeleted(f: FileRow): void {
  if (f.state === 'deleted') throw new AgentError('FILE_DELETED', 'this file was deleted after its balance stayed negative past the grace period');
}

export class Files {
  readonly #repo: HostRepository;
  readonly #ledger: Ledger;
  readonly #prices: PriceBook;
  readonly #config: Config;
  readonly #now: () => Date;
  readonly #unwrittenMsat: (fileId: string) => bigint;
  readonly #owedMsat: (fileId: string) => bigint;

  /**
   * `unwrittenMsat`: download charges of the file waiting for their group commit; `owedMsat`: those and what its
   * downloads in flight reserve (src/host/meter.ts).
   */
  constructor(deps: { repo: HostRepository; ledger: Ledger; prices: PriceBook; config: Config; now: () => Date; unwrittenMsat: (fileId: string) => bigint; owedMsat: (fileId: string) => bigint }) {
    this.#repo = deps.repo;
    this.#ledger = deps.ledger;
    this.#prices = deps.prices;
    this.#config = deps.config;
    this.#now = deps.now;
    this.#unwrittenMsat = deps.unwrittenMsat;
    this.#owedMsat = deps.owedMsat;
  }

  /** Metadata for HEAD and for a GET before streaming. @throws AgentError NOT_FOUND, FILE_DELETED */
  headFile(fileId: string): FileHead {
    const f = storedFile(this.#repo, fileId);
    notDeleted(f);
    return { size: Number(f.size), sha256: f.sha256 ?? '', contentType: f.content_type, filename: f.filename, state: fileState(f, this.#ledger.account(f.id)) };
  }

  /** The file's state, balance, top-up address and how long it is funded for. @throws AgentError NOT_FOUND */
  fileView(fileId: string): FileView {
    const f = storedFile(this.#repo, fileId);
    const at = this.#now();
    const now = at.getTime();
    const p = this.#prices.current();
    // With the storage used since the last charge (accruedMsat), as a download reads it (./downloads.ts).
    const a = this.#ledger.account(f.id, p && { now: at, priceMsatPerGibDay: p.storageMsatPerGibDay });
    // The balance as it will be once the charges already made are written.
    const balance = (a?.balanceMsat ?? 0n) - this.#unwrittenMsat(f.id);
    const state = fileState(f, a);
    // The daily storage charge of the file at current prices (msat).
    const daily = p ? storageMsatPerDay(f.size, p.storageMsatPerGibDay) : 0n;
    // Funded until: the time the balance (after what is already charged) runs out at today's price.
    const chargedUntil = a?.chargedUntil?.getTime() ?? now;
    const fundedUntil = daily > 0n && balance > 0n ? new Date(chargedUntil + Number((balance * DAY_MS) / daily)) : new Date(chargedUntil);
    const view: FileView = {
      fileId: f.id,
      size: Number(f.size),
      sha256: f.sha256 ?? '',
      filename: f.filename,
      contentType: f.content_type,
      state,
      balanceMsat: balance,
      address: f.address,
      bip21: bip21(f.address, undefined, `storj file ${f.id}`),
      fundedUntil,
    };
    // What a GET /f/ of the whole file would ask now (its 402), shown only when that GET would be refused: the
    // same reckoning as Downloads.start, so the page tells the amount without anyone paying for a refused download.
    if (p && a && state !== 'deleted') {
      const cost = egressMsat(f.size, p.egressMsatPerGib);
      const owed = this.#owedMsat(f.id);
      if (a.overdrawnAt || a.balanceMsat - a.heldMsat - owed - a.accruedMsat < cost) view.downloadTopUpSat = topUpSat(a, owed, cost + a.accruedMsat, p.minimumDepositSat);
    }
    if (state === 'frozen' && a?.overdrawnAt) view.deleteAt = new Date(a.overdrawnAt.getTime() + this.#config.graceSeconds * 1000);
    if (f.state === 'deleted' && f.deleted_at !== null) view.deleteAt = new Date(Number(f.deleted_at));
    return view;
  }
}
