/**
 * The treasury's tables: the wallet's address book and its spend log.
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER
 * satoshis/millisatoshis (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const TREASURY_SCHEMA: ModuleSchema = {
  module: 'treasury',
  migrations: [
    {
      version: 1,
      name: 'wallet address book, spend log',
      legacy: 1,
      sql: `
      -- Every address the wallet has handed out. The script index lets the payment watcher match each
      -- output of a block against all our addresses with one indexed lookup, whatever their number.
      CREATE TABLE wallet_addresses (
        chain INTEGER NOT NULL CHECK (chain IN (0, 1)),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        address TEXT NOT NULL UNIQUE,
        script BLOB NOT NULL UNIQUE,
        purpose TEXT NOT NULL CHECK (purpose IN ('receive', 'change', 'upload', 'proposal')),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (chain, idx)
      ) WITHOUT ROWID;

      -- What the wallet has paid out, for the rolling per-day spend cap.
      CREATE TABLE wallet_spends (
        txid TEXT PRIMARY KEY,
        amount_sat INTEGER NOT NULL CHECK (amount_sat >= 0),
        at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX wallet_spends_at ON wallet_spends (at);
    `,
    },
    {
      version: 2,
      name: "the wallet's own addresses, found by index",
      legacy: 7,
      sql: `
      -- The treasury's own receive and change addresses (a handful), without walking one address per file.
      CREATE INDEX wallet_addresses_own ON wallet_addresses (purpose, chain, idx, address) WHERE purpose IN ('receive', 'change');
    `,
    },
  ],
};
