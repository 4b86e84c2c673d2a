/**
 * The write probe: proof that the database still takes writes. It lives here, beside the schema, because the
 * row it writes is the database's own (a `meta` key no module reads), not any module's data.
 */
import type Database from 'better-sqlite3';
import { MetaStore } from './meta.ts';

/** The meta key the probe overwrites: one row, however often it runs. */
const PROBE_KEY = 'health_probe';

/**
 * Prepares the probe once and returns it. Each call commits one small row: a read, or a write rolled back,
 * would not notice that the WAL cannot grow.
 * @throws the database's error (SQLITE_FULL, an I/O error) from the returned function when the write fails.
 */
export function writeProbe(db: Database.Database): () => void {
  const meta = new MetaStore(db);
  return () => {
    meta.set(PROBE_KEY, String(Date.now()));
  };
}
