/**
 * The host's tables: prices, files (their balances are the ledger's, in file_accounts), uploads and downloads.
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER
 * satoshis/millisatoshis (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const HOST_SCHEMA: ModuleSchema = {
  module: 'host',
  migrations: [
    {
      version: 1,
      name: 'prices, files with their balances, uploads, downloads',
      legacy: 4,
      sql: `
      -- Price sets, recomputed by the pricing job; a quote keeps the one it was made with until it expires.
      CREATE TABLE price_sets (
        id INTEGER PRIMARY KEY,
        computed_at INTEGER NOT NULL,
        storage_msat_per_gib_day INTEGER NOT NULL CHECK (storage_msat_per_gib_day >= 0),
        egress_msat_per_gib INTEGER NOT NULL CHECK (egress_msat_per_gib >= 0),
        minimum_deposit_sat INTEGER NOT NULL CHECK (minimum_deposit_sat >= 0),
        fee_rate_sat_per_kvb INTEGER NOT NULL CHECK (fee_rate_sat_per_kvb >= 0),
        inputs TEXT NOT NULL
      );

      -- A file is born with its quote (state 'pending') so that payments to its address have an account to
      -- land in; it becomes visible ('active') only when its bytes are complete. balance_msat is the running
      -- sum of its ledger entries, updated in the same transaction as each entry (test/ledger checks the two
      -- agree); held_msat is egress reserved for downloads in flight.
      CREATE TABLE files (
        -- seq is the rowid: the sweep walks files in this order and appends its charges in the same order.
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        address TEXT NOT NULL UNIQUE REFERENCES wallet_addresses (address),
        state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'frozen', 'deleted')),
        size INTEGER NOT NULL CHECK (size > 0),
        sha256 TEXT,
        filename TEXT,
        content_type TEXT,
        balance_msat INTEGER NOT NULL DEFAULT 0,
        held_msat INTEGER NOT NULL DEFAULT 0 CHECK (held_msat >= 0),
        charged_until INTEGER,
        frozen_at INTEGER,
        deleted_at INTEGER,
        created_at INTEGER NOT NULL,
        completed_at INTEGER,
        CHECK ((state = 'pending') = (sha256 IS NULL))
      );
      CREATE INDEX files_sha256 ON files (sha256) WHERE sha256 IS NOT NULL;

      CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        file_id TEXT NOT NULL UNIQUE REFERENCES files (id),
        token_hash BLOB NOT NULL,
        days INTEGER NOT NULL CHECK (days > 0),
        downloads INTEGER NOT NULL CHECK (downloads >= 0),
        amount_sat INTEGER NOT NULL CHECK (amount_sat > 0),
        price_set_id INTEGER NOT NULL REFERENCES price_sets (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX uploads_recent ON uploads (created_at);

      -- Downloads in flight hold their cost; settling charges the bytes actually sent.
      CREATE TABLE downloads (
        id TEXT PRIMARY KEY,
        file_id TEXT NOT NULL REFERENCES files (id),
        held_msat INTEGER NOT NULL CHECK (held_msat >= 0),
        bytes_requested INTEGER NOT NULL,
        bytes_sent INTEGER,
        started_at INTEGER NOT NULL,
        settled_at INTEGER
      );
      CREATE INDEX downloads_open ON downloads (file_id) WHERE settled_at IS NULL;
    `,
    },
    {
      version: 2,
      name: 'active files below zero, found by index',
      legacy: 5,
      sql: `
      -- Active files below zero. Outside a sweep's transaction this is empty (every other write freezes at
      -- once); the sweep lowers balances and then freezes exactly the files this index holds, without a
      -- per-charge flag and without scanning every file.
      CREATE INDEX files_overdrawn ON files (seq) WHERE state = 'active' AND balance_msat < 0;
    `,
    },
    {
      version: 3,
      name: "files without their money (the ledger's file_accounts holds it)",
      // The ledger's migration 4 copies these columns into its file_accounts first.
      after: { module: 'ledger', version: 4 },
      sql: `
      -- A file's balance, holds, charged_until and frozen_at are the ledger's now (file_accounts), so that each
      -- table has one writer. 'frozen' is no longer a state of the row: a stored file is frozen while its
      -- account is overdrawn (docs/ARCHITECTURE.md, "The ledger and files"), so a frozen file is stored
      -- ('active') here. The CHECK on state still allows 'frozen' (it cannot change without rebuilding a table
      -- that others reference); nothing writes it.
      UPDATE files SET state = 'active' WHERE state = 'frozen';
      DROP INDEX files_overdrawn;
      ALTER TABLE files DROP COLUMN balance_msat;
      ALTER TABLE files DROP COLUMN held_msat;
      ALTER TABLE files DROP COLUMN charged_until;
      ALTER TABLE files DROP COLUMN frozen_at;
    `,
    },
  ],
};
