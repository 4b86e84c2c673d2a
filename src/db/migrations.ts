/**
 * Numbered migrations, applied in order, each inside one transaction, at start (src/db/index.ts).
 * The database's `user_version` is the number of the last one applied. Never edit a migration that has
 * shipped: add a new one. Amounts are INTEGER satoshis/millisatoshis (read back as bigint); times are
 * INTEGER unix milliseconds.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'foundation: meta, wallet address book, spend log',
    sql: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

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
    name: 'scheduler: job runs',
    sql: `
      CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
        detail TEXT
      );
      CREATE INDEX job_runs_job ON job_runs (job, id);
    `,
  },
  {
    version: 3,
    name: 'payment watcher: processed blocks and payments to our addresses',
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
    version: 4,
    name: 'hosting: prices, files with their balances, uploads, ledger, downloads',
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
    version: 5,
    name: 'ledger: storage sweeps, narrow storage charges, frozen files found by index',
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
      -- once; still no index by file, for the reason migration 4 gives.
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

      -- Active files below zero. Outside a sweep's transaction this is empty (every other write freezes at
      -- once); the sweep lowers balances and then freezes exactly the files this index holds, without a
      -- per-charge flag and without scanning every file.
      CREATE INDEX files_overdrawn ON files (seq) WHERE state = 'active' AND balance_msat < 0;
    `,
  },
  {
    version: 6,
    name: 'payment watcher: whether a payment seen unconfirmed may count before its confirmations',
    sql: `
      -- 1 when the payment's transaction was seen in the mempool neither signalling replacement (BIP125) nor
      -- spending an unconfirmed parent, so it may count at 0-conf within the caps (src/chain/watcher.ts).
      -- 0 otherwise, and for every payment recorded before this column: those wait for their confirmations.
      ALTER TABLE payments ADD COLUMN zero_conf INTEGER NOT NULL DEFAULT 0 CHECK (zero_conf IN (0, 1));
    `,
  },
  {
    version: 7,
    name: 'treasury and payment watcher: the wallet\'s own addresses and its unspent coins, found by index',
    sql: `
      -- The treasury's own receive and change addresses (a handful), without walking one address per file.
      CREATE INDEX wallet_addresses_own ON wallet_addresses (purpose, chain, idx, address) WHERE purpose IN ('receive', 'change');
      -- Unspent payments only, with their values: the wallet's sums read these entries and nothing else, so they
      -- cost what the coins held cost, not what a million paid-out or spent payments would.
      CREATE INDEX payments_unspent ON payments (state, value_sat, spent_by) WHERE spent_by IS NULL;
    `,
  },
];
