/**
 * The family's tables: investors' proposals, the history of their states, their refunds, and their spawns (the
 * server bought for a proposal, its child, and every payment made for it).
 * Never edit a migration that has shipped: add a new one (src/db/migrations.ts). Amounts are INTEGER satoshis
 * (read back as bigint); times are INTEGER unix milliseconds.
 */
import type { ModuleSchema } from '../db/index.ts';

export const FAMILY_SCHEMA: ModuleSchema = {
  module: 'family',
  migrations: [
    {
      version: 1,
      name: 'proposals, their history and refunds',
      sql: `
      -- A signed proposal as it came, and where it stands. The deposit address is one of the wallet's (purpose
      -- 'proposal'); the money paid there is the proposal's ledger account ('proposal:<id>'), never a file's.
      -- credentials_sealed is what wallet/ sealed (wallet/sealer.ts): useless without the wallet's seed.
      CREATE TABLE proposals (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        provider TEXT NOT NULL,
        script TEXT NOT NULL,
        hosts TEXT NOT NULL,
        transcript TEXT NOT NULL,
        credentials_sealed TEXT,
        spawn_sat INTEGER NOT NULL CHECK (spawn_sat >= 0),
        monthly_sat INTEGER NOT NULL CHECK (monthly_sat >= 0),
        investment_sat INTEGER NOT NULL CHECK (investment_sat > 0),
        interest_bps INTEGER NOT NULL CHECK (interest_bps >= 0),
        payout_address TEXT NOT NULL,
        variant TEXT NOT NULL,
        proposer_key TEXT NOT NULL,
        signature TEXT NOT NULL,
        deposit_address TEXT NOT NULL UNIQUE REFERENCES wallet_addresses (address),
        deposit_sat INTEGER NOT NULL CHECK (deposit_sat > 0),
        evaluation TEXT,
        created_at INTEGER NOT NULL,
        funded_at INTEGER,
        -- 1 when money reached the account after its refund (a late deposit): it is paid back too.
        refund_due INTEGER NOT NULL DEFAULT 0 CHECK (refund_due IN (0, 1)),
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX proposals_refund_due ON proposals (id) WHERE refund_due = 1;
      CREATE INDEX proposals_state ON proposals (state, funded_at);
      CREATE INDEX proposals_created ON proposals (created_at, id);

      -- Every transition, written in the same transaction as the change of state.
      CREATE TABLE proposal_history (
        id INTEGER PRIMARY KEY,
        proposal_id TEXT NOT NULL REFERENCES proposals (id),
        state TEXT NOT NULL,
        at INTEGER NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE INDEX proposal_history_of ON proposal_history (proposal_id, id);

      -- A refund's transaction, recorded BEFORE it is broadcast, so a restart broadcasts the same one again
      -- instead of paying twice. 'pending' until the chain has it, then 'sent'. A proposal has one, and another
      -- for each deposit that arrives after it; inputs (JSON outpoints) keeps a later one off the coins an
      -- earlier one spent.
      CREATE TABLE proposal_refunds (
        txid TEXT PRIMARY KEY,
        proposal_id TEXT NOT NULL REFERENCES proposals (id),
        hex TEXT NOT NULL,
        inputs TEXT NOT NULL,
        amount_sat INTEGER NOT NULL CHECK (amount_sat > 0),
        fee_sat INTEGER NOT NULL CHECK (fee_sat >= 0),
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX proposal_refunds_of ON proposal_refunds (proposal_id, created_at);
      CREATE UNIQUE INDEX proposal_refunds_one_pending ON proposal_refunds (proposal_id) WHERE state = 'pending';
    `,
    },
    {
      version: 2,
      name: 'spawns and their payments',
      sql: `
      -- One spawn per selected proposal. The ticket is in the child's user data; only its sha256 is kept, and it is
      -- replaced while no server is recorded (a create interrupted before its answer was written is made again with
      -- a new ticket). ticket_used is set once, by the registration that spends it.
      CREATE TABLE spawns (
        proposal_id TEXT PRIMARY KEY REFERENCES proposals (id),
        ticket_sha256 TEXT NOT NULL UNIQUE,
        ticket_used INTEGER NOT NULL DEFAULT 0 CHECK (ticket_used IN (0, 1)),
        plan TEXT NOT NULL,
        term_days INTEGER NOT NULL CHECK (term_days > 0),
        quote_sat INTEGER NOT NULL CHECK (quote_sat >= 0),
        server_id TEXT,
        url TEXT,
        created_at INTEGER NOT NULL,
        server_created_at INTEGER,
        register_deadline INTEGER,
        child_node_id TEXT,
        child_url TEXT,
        child_code_hash TEXT,
        child_account_xpub TEXT,
        registered_at INTEGER,
        battery TEXT,
        destroyed_at INTEGER,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX spawns_registered ON spawns (registered_at) WHERE registered_at IS NOT NULL;

      -- Every payment request of a spawn's script that the agent accepted, keyed by proposal, call and the script's
      -- own payment id, so that it is paid at most once. 'intent' is written before the transaction is built,
      -- 'signed' (with txid, hex and the coins it spends) before it is broadcast, 'sent' once the chain has it.
      CREATE TABLE spawn_payments (
        key TEXT PRIMARY KEY,
        proposal_id TEXT NOT NULL REFERENCES proposals (id),
        call TEXT NOT NULL,
        payment_id TEXT NOT NULL,
        address TEXT NOT NULL,
        amount_sat INTEGER NOT NULL CHECK (amount_sat > 0),
        txid TEXT UNIQUE,
        hex TEXT,
        inputs TEXT,
        fee_sat INTEGER CHECK (fee_sat >= 0),
        state TEXT NOT NULL CHECK (state IN ('intent', 'signed', 'sent')),
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        UNIQUE (proposal_id, payment_id)
      ) WITHOUT ROWID;
      CREATE INDEX spawn_payments_open ON spawn_payments (proposal_id, created_at) WHERE state <> 'sent';
    `,
    },
  ],
};
