/**
 * The database: better-sqlite3 (synchronous, so a ledger write is one transaction with no await inside,
 * and a kill -9 leaves all of it or none), WAL with synchronous=FULL because money is involved, foreign keys on, and
 * safe integers so every INTEGER comes back as a bigint and no amount is ever a float.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate, type MigrateOptions, type ModuleSchema } from './migrations.ts';

export { writeProbe } from './probe.ts';
export { MetaStore } from './meta.ts';
export { migrate, moduleVersions, type ModuleSchema } from './migrations.ts';

export type Db = Database.Database;

export interface OpenOptions extends MigrateOptions {
  readonly?: boolean;
}

/**
 * Opens (creating if needed) the database at `path` (':memory:' for a throwaway one) and migrates it to the
 * modules' `schemas`, in their order (./migrations.ts).
 * @throws Error when a migration fails (that migration is rolled back; earlier ones stay) or the file is
 * newer than this code knows.
 */
export function openDb(path: string, schemas: readonly ModuleSchema[], opts: OpenOptions = {}): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (!opts.readonly) makePrivate(path);
  }
  const db = new Database(path, { readonly: opts.readonly ?? false });
  db.defaultSafeIntegers(true);
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // A second process (the CLI beside a running agent) waits for the writer instead of failing.
    db.pragma('busy_timeout = 5000');
  }
  db.pragma('foreign_keys = ON');
  // Up to 32 MiB of page cache (SQLite's default is 2 MiB). It is only used as pages are read, so a small
  // database costs nothing; a sweep over a million files (~200 MB of rows) keeps its dirty pages in memory
  // until commit instead of spilling them to the WAL half-way, which cost it 0.3 s (`npm run bench -- sweep`).
  db.pragma('cache_size = -32768');
  if (!opts.readonly) migrate(db, schemas, opts);
  return db;
}

/** The database file and the files SQLite keeps beside it. */
const COMPANIONS = ['', '-wal', '-shm', '-journal'];

/**
 * Makes the database's files readable by their owner only: they hold every fileId, and a fileId is a file's
 * download link. The database file is created here with mode 0600 when it does not exist, because SQLite
 * creates it with 0644 less the umask, and creates its -wal, -shm and -journal later with the database
 * file's own mode (os_unix.c, findCreateFileMode and unixOpenSharedMemory): a 0600 database keeps all
 * of them 0600 whatever the process's umask. Files left 0644 by an older version are fixed on every open.
 */
function makePrivate(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const suffix of COMPANIONS) {
    const file = `${path}${suffix}`;
    try {
      chmodSync(file, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
