/**
 * The payment watcher's tables: the blocks it processed and the payments to our addresses.
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER
 * satoshis/millisatoshis (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const CHAIN_SCHEMA: ModuleSchema = {
  module: 'chain',
  migrations: [
    {
      version: 1,
      name: 'processed blocks and payments to our addresses',
      legacy: 3,
      sql: `
      -- The blocks the watcher has processed, recent ones only (it prunes), to find the fork point of a reorg.
      CREATE TABLE chain_blocks (
        height INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        processed_at INTEGER NOT NULL
      );

      -- Every output paying one of our addresses, keyed by outpoint so it is recorded (and credited) once.
      -- state: mempool (seen unconfirmed), confirmed (in a block of the best chain), reversed (left the chain
      -- and the mempool: a double spend). counted: the confirmation policy accepted it and the sink credited it.
      CREATE TABLE payments (
        txid TEXT NOT NULL,
        vout INTEGER NOT NULL CHECK (vout >= 0),
        address TEXT NOT NULL REFERENCES wallet_addresses (address),
        value_sat INTEGER NOT NULL CHECK (value_sat >= 0),
        state TEXT NOT NULL CHECK (state IN ('mempool', 'confirmed', 'reversed')),
        block_height INTEGER,
        block_hash TEXT,
        counted INTEGER NOT NULL DEFAULT 0 CHECK (counted IN (0, 1)),
        spent_by TEXT,
        first_seen_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (txid, vout)
      ) WITHOUT ROWID;
      CREATE INDEX payments_address ON payments (address);
      CREATE INDEX payments_block ON payments (block_height) WHERE block_height IS NOT NULL;
      CREATE INDEX payments_pending ON payments (state, counted) WHERE counted = 0 OR state = 'mempool';
    `,
    },
    {
      version: 2,
      name: 'whether a payment seen unconfirmed may count before its confirmations',
      legacy: 6,
      sql: `
      -- 1 when the payment's transaction was seen in the mempool neither signalling replacement (BIP125) nor
      -- spending an unconfirmed parent, so it may count at 0-conf within the caps (src/chain/watcher.ts).
      -- 0 otherwise, and for every payment recorded before this column: those wait for their confirmations.
      ALTER TABLE payments ADD COLUMN zero_conf INTEGER NOT NULL DEFAULT 0 CHECK (zero_conf IN (0, 1));
    `,
    },
    {
      version: 3,
      name: 'unspent coins, found by index',
      legacy: 7,
      sql: `      -- Unspent payments only, with their values: the wallet's sums read these entries and nothing else, so they
      -- cost what the coins held cost, not what a million paid-out or spent payments would.
      CREATE INDEX payments_unspent ON payments (state, value_sat, spent_by) WHERE spent_by IS NULL;
    `,
    },
  ],
};
