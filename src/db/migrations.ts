/**
 * Migrations per module. Each module owns a schema: its name and its numbered list of migrations, which create
 * and change only its own tables (`src/<module>/schema.ts`). The composition root lists the schemas in a stable
 * order (src/agent/modules.ts); they are applied in that order, each module's migrations in turn, each migration
 * in one transaction with its version, so a crash leaves every module at a whole version. `schema_versions`
 * holds each module's version. Never edit a migration that has shipped: add a new one.
 *
 * Before migrations were per module, one numbered list covered every table and `user_version` was the number
 * of its last migration applied (1 to 7). Each migration of that list now lives, split by table, in its
 * modules' lists, and says which of the old numbers it came from (`legacy`). A database left by an older agent
 * is read once: each module's version becomes its last migration whose old number had been applied.
 */
import type Database from 'better-sqlite3';
import { META_SQL } from './meta.ts';

interface Migration {
  /** 1, 2, 3... within its module. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** The number this migration had in the one list that came before migrations were per module. */
  readonly legacy?: number;
  /**
   * A migration of a module listed later that must run first: this one and the rest of its module's list wait
   * until that module is at `version`. For a table that moves from one module to another, the new owner's
   * migration copies the data before the old owner's drops it (the host's migration 3 after the ledger's 4).
   */
  readonly after?: { readonly module: string; readonly version: number };
}

/** A module's tables: its name and its numbered migrations. */
export interface ModuleSchema {
  readonly module: string;
  readonly migrations: readonly Migration[];
}

/** The last number of the one list that came before migrations were per module. */
const LEGACY_LAST = 7;
/**
 * `user_version` of a database whose versions are per module (in `schema_versions`). Above LEGACY_LAST, so an
 * older agent, which knows only the one list, refuses the database as newer than itself instead of using it.
 */
const PER_MODULE = LEGACY_LAST + 1;

/** src/db's own schema: `meta`, the key-value table every module may keep a setting in (./meta.ts). */
const DB_SCHEMA: ModuleSchema = {
  module: 'db',
  migrations: [{ version: 1, name: 'meta: settings kept by key', sql: META_SQL, legacy: 1 }],
};

export interface MigrateOptions {
  /** Tests of upgrades: apply each module's migrations up to this version only (a module left out: all). */
  upTo?: Readonly<Record<string, number>>;
  /**
   * Tests of upgrades: build the database an agent of the one old list would have left at this number: every
   * migration that came from a number up to it, `user_version` that number, and no `schema_versions`.
   */
  legacy?: number;
}

/** Each module's version (absent: none of its migrations applied). */
export function moduleVersions(db: Database.Database): Record<string, number> {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").get();
  if (!exists) return {};
  const rows = db.prepare('SELECT module, version FROM schema_versions').all() as Array<{ module: string; version: bigint | number }>;
  return Object.fromEntries(rows.map((r) => [r.module, Number(r.version)]));
}

/**
 * Applies every migration each module's version lacks, in the order of `schemas` (src/db's own first). A
 * migration that waits for another module's (`after`) stops its module's list there; the lists are walked
 * again, in the same order, until nothing more can run.
 * @returns each module's version afterwards
 * @throws Error when a migration fails (it is rolled back; earlier ones stay), or the database is newer than
 * this code: a module at a version above its list, a module this agent does not have, or a `user_version` above
 * the one this code writes.
 */
export function migrate(db: Database.Database, schemas: readonly ModuleSchema[], opts: MigrateOptions = {}): Record<string, number> {
  const all = [DB_SCHEMA, ...schemas];
  checkSchemas(all);
  if (opts.legacy !== undefined) {
    buildLegacy(db, all, opts.legacy);
    return moduleVersions(db);
  }
  const userVersion = Number(db.pragma('user_version', { simple: true }));
  if (userVersion > PER_MODULE) {
    throw new Error(`database schema version ${userVersion} is newer than this agent (${PER_MODULE}); upgrade the agent`);
  }
  if (userVersion < PER_MODULE) {
    db.transaction(() => {
      db.exec('CREATE TABLE schema_versions (module TEXT PRIMARY KEY, version INTEGER NOT NULL CHECK (version > 0)) WITHOUT ROWID');
      if (userVersion > 0) {
        const insert = db.prepare('INSERT INTO schema_versions (module, version) VALUES (?, ?)');
        for (const s of all) {
          const applied = s.migrations.filter((m) => m.legacy !== undefined && m.legacy <= userVersion);
          const version = Math.max(0, ...applied.map((m) => m.version));
          if (version > 0) insert.run(s.module, version);
        }
      }
      db.pragma(`user_version = ${PER_MODULE}`);
    })();
  }
  const versions = moduleVersions(db);
  for (const [module, version] of Object.entries(versions)) {
    const schema = all.find((s) => s.module === module);
    if (!schema) throw new Error(`the database has tables of a module "${module}" that this agent does not have; upgrade the agent`);
    if (version > schema.migrations.length) {
      throw new Error(`the database's "${module}" schema is at version ${version}, newer than this agent (${schema.migrations.length}); upgrade the agent`);
    }
  }
  const record = db.prepare('INSERT INTO schema_versions (module, version) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET version = excluded.version');
  const upTo = (module: string, length: number): number => Math.min(opts.upTo?.[module] ?? length, length);
  const waiting = (m: Migration): boolean => m.after !== undefined && (versions[m.after.module] ?? 0) < m.after.version;
  for (let applied = true; applied; ) {
    applied = false;
    for (const s of all) {
      const last = upTo(s.module, s.migrations.length);
      for (const m of s.migrations) {
        if (m.version <= (versions[s.module] ?? 0)) continue;
        if (m.version > last || waiting(m)) break;
        db.transaction(() => {
          db.exec(m.sql);
          record.run(s.module, m.version);
        })();
        versions[s.module] = m.version;
        applied = true;
      }
    }
  }
  // What still waits does so only because a test stopped the module it waits for short of that migration.
  for (const s of all) {
    const next = s.migrations.find((m) => m.version > (versions[s.module] ?? 0));
    if (!next || next.version > upTo(s.module, s.migrations.length) || !next.after) continue;
    const other = all.find((o) => o.module === next.after?.module);
    if (other && next.after.version <= upTo(other.module, other.migrations.length)) {
      throw new Error(`migration "${next.name}" of ${s.module} waits for ${next.after.module} ${next.after.version}, which cannot run before it (migrations that wait for each other)`);
    }
  }
  return versions;
}

/** Module names are unique and each module's migrations are numbered 1..n without gaps. */
function checkSchemas(all: readonly ModuleSchema[]): void {
  const seen = new Set<string>();
  for (const s of all) {
    if (seen.has(s.module)) throw new Error(`two schemas are named "${s.module}"`);
    seen.add(s.module);
    s.migrations.forEach((m, i) => {
      if (m.version !== i + 1) throw new Error(`migration "${m.name}" of ${s.module} is numbered ${m.version}, not ${i + 1}`);
    });
  }
  for (const s of all) {
    for (const m of s.migrations) {
      if (!m.after) continue;
      const other = all.find((o) => o.module === m.after?.module);
      if (!other || other === s || m.after.version < 1 || m.after.version > other.migrations.length) {
        throw new Error(`migration "${m.name}" of ${s.module} waits for ${m.after.module} ${m.after.version}, which is not another module's migration`);
      }
    }
  }
}

/** What an agent of the one old list left at number `upTo` (see MigrateOptions.legacy). */
function buildLegacy(db: Database.Database, all: readonly ModuleSchema[], upTo: number): void {
  if (!Number.isInteger(upTo) || upTo < 1 || upTo > LEGACY_LAST) throw new Error(`legacy numbers run from 1 to ${LEGACY_LAST}, not ${upTo}`);
  for (let n = 1; n <= upTo; n++) {
    db.transaction(() => {
      for (const s of all) for (const m of s.migrations) if (m.legacy === n) db.exec(m.sql);
      db.pragma(`user_version = ${n}`);
    })();
  }
}
