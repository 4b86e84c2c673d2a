/**
 * The ledger's tables: its entries, storage sweeps and storage charges, and the accounts that are not files.
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER
 * satoshis/millisatoshis (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const LEDGER_SCHEMA: ModuleSchema = {
  module: 'ledger',
  migrations: [
    {
      version: 1,
      name: 'ledger entries and storage charges',
      legacy: 4,
      sql: `
      -- The append-only ledger. Payments credit, egress and reversals debit. (file_id, kind, ref) is unique,
      -- so an outpoint is credited once and a download settled once.
      CREATE TABLE ledger_entries (
        id INTEGER PRIMARY KEY,
        file_id TEXT NOT NULL REFERENCES files (id),
        kind TEXT NOT NULL CHECK (kind IN ('payment', 'reversal', 'egress')),
        ref TEXT NOT NULL,
        amount_msat INTEGER NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (file_id, kind, ref)
      );

      -- Storage charges, the ledger's largest part (one row per file per charge), kept narrow and keyed by
      -- (sweep, file) so a sweep appends its rows at the end, in order. There is deliberately no index by file:
      -- one would be rewritten across its whole length by every sweep (each file's new row lands beside its
      -- old ones), so the cost of a sweep would grow with the ledger's history. A file's storage history is an
      -- audit query that scans. Each row covers [from_at, sweep_at); files.charged_until moves to sweep_at in
      -- the same transaction, so a period is charged once.
      CREATE TABLE storage_charges (
        sweep_at INTEGER NOT NULL,
        -- No REFERENCES: a foreign-key check per row was 20% of the sweep, and the sweep is the only writer,
        -- taking each seq from files in the same statement (file rows are never deleted, only marked).
        file_seq INTEGER NOT NULL,
        from_at INTEGER NOT NULL,
        amount_msat INTEGER NOT NULL CHECK (amount_msat <= 0),
        -- 1 when this charge took an active file below zero: the sweep freezes exactly those files, found
        -- through the small partial index below instead of a scan of every file.
        freezes INTEGER NOT NULL DEFAULT 0 CHECK (freezes IN (0, 1)),
        PRIMARY KEY (sweep_at, file_seq)
      ) WITHOUT ROWID;
      CREATE INDEX storage_charges_freezing ON storage_charges (sweep_at) WHERE freezes = 1;
    `,
    },
    {
      version: 2,
      name: 'storage sweeps, narrow storage charges',
      legacy: 5,
      sql: `
      -- One row per sweep that charged anything: when it ran and at what price (NULL for sweeps recorded before
      -- this migration, whose price was not kept).
      CREATE TABLE storage_sweeps (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        storage_msat_per_gib_day INTEGER CHECK (storage_msat_per_gib_day >= 0)
      );

      -- Storage charges narrowed to what cannot be derived, so the million-row INSERT of a sweep writes ~10
      -- bytes a row instead of ~25: the sweep's time is storage_sweeps.at, and a charge's period starts where
      -- the file's previous charge ended (or at files.completed_at, where charged_until starts), so from_at
      -- is no longer stored. Still keyed by (sweep, file), so a sweep appends in order and charges a file
      -- once; still no index by file, for the reason the first migration gives.
      CREATE TABLE storage_charges_v5 (
        sweep_id INTEGER NOT NULL,
        file_seq INTEGER NOT NULL,
        amount_msat INTEGER NOT NULL CHECK (amount_msat <= 0),
        PRIMARY KEY (sweep_id, file_seq)
      ) WITHOUT ROWID;
      INSERT INTO storage_sweeps (at) SELECT DISTINCT sweep_at FROM storage_charges ORDER BY sweep_at;
      INSERT INTO storage_charges_v5 (sweep_id, file_seq, amount_msat)
        SELECT s.id, c.file_seq, c.amount_msat FROM storage_charges c JOIN storage_sweeps s ON s.at = c.sweep_at ORDER BY s.id, c.file_seq;
      DROP TABLE storage_charges;
      ALTER TABLE storage_charges_v5 RENAME TO storage_charges;
    `,
    },
    {
      version: 3,
      name: 'accounts that are not files',
      sql: `
      -- Money held for something other than a file (an investor's proposal), in satoshis: what came in on chain
      -- and what went back out. balance_sat is the running sum of the account's entries, changed only in the
      -- same transaction as an entry (Accounts.verify proves the two agree).
      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('proposal')),
        balance_sat INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      -- Append-only. (account, kind, ref) is unique, so an outpoint is credited once, its reversal undone once,
      -- and a refund and its fee debited once.
      CREATE TABLE account_entries (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts (id),
        kind TEXT NOT NULL CHECK (kind IN ('deposit', 'reversal', 'refund', 'fee')),
        ref TEXT NOT NULL,
        amount_sat INTEGER NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (account, kind, ref)
      );
    `,
    },
  ],
};
