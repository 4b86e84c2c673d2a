/**
 * What `GET /healthz` reports, and what keeps the agent from quoting while it could not keep a promise: a disk
 * below its reserve, a database that cannot be written, a chain backend that does not answer. Each reason is a
 * stable string (README "Health"). Recomputed from statfs and a real write at most once per `cacheMs`, so
 * a probe or a burst of quotes costs one statfs and one small write, not one each.
 *
 * A full disk at start is survived with a ballast: a small file of the agent's own in the data dir, removed
 * when the disk is full so that SQLite can open (it needs room for its WAL index) and write what start-up
 * must, and put back once there is room again.
 */
import { open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeProbe, type Db } from '../db/index.ts';

const HEALTH_REASONS = {
  /** Free space on the data dir's filesystem is below diskReserveBytes. */
  diskLow: 'disk_low',
  /** A real write to the database failed (SQLITE_FULL, an I/O error). */
  database: 'database_not_writable',
  /** The chain backend did not answer. */
  chain: 'chain_unavailable',
} as const;

export type HealthReason = (typeof HEALTH_REASONS)[keyof typeof HEALTH_REASONS];

export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: HealthReason[];
}

export interface HealthDeps {
  db: Db;
  dataDir: string;
  reserveBytes: bigint;
  /** Resolves when the chain backend answers. */
  chainAlive: () => Promise<unknown>;
  /** Bytes of the ballast file kept in the data dir (0: none). */
  ballastBytes: number;
  cacheMs?: number;
  log?: (line: string) => void;
}

const BALLAST_NAME = 'disk-ballast';

/** Free bytes for an unprivileged writer on the filesystem that holds `dir`. */
export async function freeBytes(dir: string): Promise<bigint> {
  const s = await statfs(dir, { bigint: true });
  return s.bavail * s.bsize;
}

/**
 * Removes the ballast when the disk has less free than the ballast's size: called before the database is
 * opened, so a full disk still leaves SQLite room to start. Returns whether it removed it.
 */
export async function releaseBallastIfFull(dataDir: string, ballastBytes: number): Promise<boolean> {
  if (ballastBytes <= 0) return false;
  if ((await freeBytes(dataDir)) >= BigInt(ballastBytes)) return false;
  try {
    await unlink(join(dataDir, BALLAST_NAME));
    return true;
  } catch {
    return false;
  }
}

export class Health {
  readonly #d: HealthDeps;
  readonly #cacheMs: number;
  #storage: { at: number; reasons: HealthReason[] } | undefined;
  #storageRun: Promise<HealthReason[]> | undefined;
  #chain: { at: number; ok: boolean } | undefined;
  #chainRun: Promise<boolean> | undefined;
  readonly #probe: () => void;

  constructor(deps: HealthDeps) {
    this.#d = deps;
    this.#cacheMs = deps.cacheMs ?? 1000;
    this.#probe = writeProbe(deps.db);
  }

  /** Disk and database: the reasons the agent takes no new uploads. Never rejects. */
  storage(): Promise<HealthReason[]> {
    if (this.#storage && performance.now() - this.#storage.at < this.#cacheMs) return Promise.resolve(this.#storage.reasons);
    this.#storageRun ??= this.#checkStorage().finally(() => {
      this.#storageRun = undefined;
    });
    return this.#storageRun;
  }

  /** Everything `/healthz` reports. Never rejects. */
  async report(): Promise<HealthReport> {
    const [storage, chainOk] = await Promise.all([this.storage(), this.#chainOk()]);
    const reasons: HealthReason[] = [...storage];
    if (!chainOk) reasons.push(HEALTH_REASONS.chain);
    return { status: reasons.length === 0 ? 'ok' : 'degraded', reasons };
  }

  async #checkStorage(): Promise<HealthReason[]> {
    const reasons: HealthReason[] = [];
    let free: bigint | undefined;
    try {
      free = await freeBytes(this.#d.dataDir);
      if (free < this.#d.reserveBytes) reasons.push(HEALTH_REASONS.diskLow);
    } catch {
      reasons.push(HEALTH_REASONS.diskLow);
    }
    try {
      // A real write, committed (src/db/probe.ts says why a read would not do).
      this.#probe();
    } catch {
      reasons.push(HEALTH_REASONS.database);
    }
    if (free !== undefined && reasons.length === 0) await this.#restoreBallast(free);
    this.#storage = { at: performance.now(), reasons };
    return reasons;
  }

  /** Puts the ballast back once the disk has room for it beyond the reserve. */
  async #restoreBallast(free: bigint): Promise<void> {
    const bytes = this.#d.ballastBytes;
    if (bytes <= 0 || free < this.#d.reserveBytes + BigInt(bytes)) return;
    const path = join(this.#d.dataDir, BALLAST_NAME);
    let fh;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch {
      return; // already there
    }
    try {
      // Written, not just sized: a sparse file would hold no blocks to give back.
      await fh.write(Buffer.alloc(bytes), 0, bytes, 0);
      await fh.sync();
    } catch (e) {
      this.#d.log?.(`could not write the disk ballast: ${e instanceof Error ? e.message : String(e)}`);
      await fh.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      return;
    }
    await fh.close().catch(() => undefined);
  }

  #chainOk(): Promise<boolean> {
    if (this.#chain && performance.now() - this.#chain.at < this.#cacheMs) return Promise.resolve(this.#chain.ok);
    this.#chainRun ??= this.#d
      .chainAlive()
      .then(
        () => true,
        () => false,
      )
      .then((ok) => {
        this.#chain = { at: performance.now(), ok };
        this.#chainRun = undefined;
        return ok;
      });
    return this.#chainRun;
  }
}
