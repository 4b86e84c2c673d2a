/**
 * The ledger's tables: files' accounts (their balances), their entries, storage sweeps and storage charges, and
 * the accounts that are not files.
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
    {
      version: 4,
      name: "files' money in the ledger's own table",
      sql: `
      -- A file's money: what the columns of the same names held in the host's files table until this migration
      -- (the host drops them in its migration 3, which waits for this one), so the ledger writes only its own
      -- tables. One row per file, made with the file's quote (payments may come before its bytes).
      --   seq: the order the sweep walks accounts in and appends their storage charges in (storage_charges.file_seq);
      --     copied from files.seq, so the charges already written still name their account.
      --   size: the file's size in bytes, the base of its storage charge (a file's size never changes).
      --   balance_msat: the running sum of the file's entries and storage charges, changed only in the same
      --     transaction as one of them (Ledger.verifyBalances proves the two agree).
      --   held_msat: egress reserved for downloads in flight.
      --   charged_from: when storage started being charged (the file's completion): where its first storage
      --     charge's period starts. charged_until: where its next one starts. Both NULL until the file is stored.
      --   overdrawn_at: since when the balance is below zero; NULL whenever it is zero or more. A stored file
      --     overdrawn is frozen (docs/ARCHITECTURE.md, "The ledger and files").
      --   closed_at: when the file was deleted; a closed account is charged no more.
      CREATE TABLE file_accounts (
        seq INTEGER PRIMARY KEY,
        file_id TEXT NOT NULL UNIQUE REFERENCES files (id),
        size INTEGER NOT NULL CHECK (size > 0),
        balance_msat INTEGER NOT NULL DEFAULT 0,
        held_msat INTEGER NOT NULL DEFAULT 0 CHECK (held_msat >= 0),
        charged_from INTEGER,
        charged_until INTEGER,
        overdrawn_at INTEGER,
        closed_at INTEGER
      );
      INSERT INTO file_accounts (seq, file_id, size, balance_msat, held_msat, charged_from, charged_until, overdrawn_at, closed_at)
        SELECT seq, id, size, balance_msat, held_msat, completed_at, charged_until,
               CASE WHEN balance_msat < 0 THEN coalesce(frozen_at, completed_at, created_at) END,
               CASE WHEN state = 'deleted' THEN deleted_at END
        FROM files ORDER BY seq;

      -- Accounts below zero not yet marked overdrawn. Outside a sweep's transaction this is empty (every other
      -- write marks them at once); the sweep lowers balances, then marks exactly the accounts this index holds,
      -- without a scan of every account. The sweep rewrites balance_msat in every row it charges, so SQLite
      -- tests this index's condition for each of them, but writes only the few rows it holds.
      CREATE INDEX file_accounts_overdrawing ON file_accounts (seq) WHERE balance_msat < 0 AND overdrawn_at IS NULL;
      -- Open accounts overdrawn, by since when: the files to delete once past the grace period. The sweep's
      -- million-row UPDATE changes neither column, so it never touches this index.
      CREATE INDEX file_accounts_overdrawn ON file_accounts (overdrawn_at) WHERE overdrawn_at IS NOT NULL AND closed_at IS NULL;
    `,
    },
  ],
};
