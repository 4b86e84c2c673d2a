/**
 * `meta`: the database's own key-value table, created by src/db itself before any module's migrations. A
 * module keeps a setting that is not worth a table there (the devnet clock's offset, the height the payment
 * watcher started at) under a key of its own, through this store; the health probe overwrites one key.
 */
import type Database from 'better-sqlite3';

/** The SQL of `meta`, the first migration of src/db's own schema. */
export const META_SQL = `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
`;

/** Reads and writes of `meta`, each statement prepared once. */
export class MetaStore {
  readonly #get;
  readonly #set;
  readonly #setIfAbsent;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
    this.#set = db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.#setIfAbsent = db.prepare<[string, string]>('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
  }

  /** The value stored under `key`, undefined when none was ever stored. */
  get(key: string): string | undefined {
    return this.#get.get(key);
  }

  set(key: string, value: string): void {
    this.#set.run(key, value);
  }

  /** Stores `value` unless `key` already has one (which is kept). */
  setIfAbsent(key: string, value: string): void {
    this.#setIfAbsent.run(key, value);
  }
}
