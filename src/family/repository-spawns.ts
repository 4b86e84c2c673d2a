/**
 * Every statement the spawn runs over its tables (`spawns`, `spawn_payments`: ./schema.ts, migration 2), prepared
 * once when it is built. None of them awaits; the spawn's steps that must go together run in one transaction
 * (FamilyRepository.transaction, the same database).
 */
import type { Db } from '../db/index.ts';

export interface SpawnRow {
  proposal_id: string;
  ticket_sha256: string;
  ticket_used: bigint;
  plan: string;
  term_days: bigint;
  quote_sat: bigint;
  server_id: string | null;
  url: string | null;
  created_at: bigint;
  server_created_at: bigint | null;
  register_deadline: bigint | null;
  child_node_id: string | null;
  child_url: string | null;
  child_code_hash: string | null;
  child_account_xpub: string | null;
  registered_at: bigint | null;
  battery: string | null;
  destroyed_at: bigint | null;
  updated_at: bigint;
}

export interface SpawnPaymentRow {
  key: string;
  proposal_id: string;
  call: string;
  payment_id: string;
  address: string;
  amount_sat: bigint;
  txid: string | null;
  hex: string | null;
  /** JSON array of the outpoints (`<txid>:<vout>`) it spends, once signed. */
  inputs: string | null;
  fee_sat: bigint | null;
  state: 'intent' | 'signed' | 'sent';
}

export interface NewChild {
  nodeId: string;
  url: string;
  codeHash: string;
  accountXpub: string;
}

export class SpawnRepository {
  readonly #insert;
  readonly #byProposal;
  readonly #byTicket;
  readonly #newTicket;
  readonly #setServer;
  readonly #setUrl;
  readonly #useTicket;
  readonly #setBattery;
  readonly #setDestroyed;
  readonly #registered;
  readonly #insertPayment;
  readonly #paymentsOf;
  readonly #openPayments;
  readonly #paymentSigned;
  readonly #paymentSent;
  readonly #paymentByTxid;
  readonly #statesOf;

  constructor(db: Db) {
    this.#insert = db.prepare<{ proposal_id: string; ticket_sha256: string; plan: string; term_days: bigint; quote_sat: bigint; at: bigint }>(
      `INSERT INTO spawns (proposal_id, ticket_sha256, plan, term_days, quote_sat, created_at, updated_at)
       VALUES (:proposal_id, :ticket_sha256, :plan, :term_days, :quote_sat, :at, :at)`,
    );
    this.#byProposal = db.prepare<[string], SpawnRow>('SELECT * FROM spawns WHERE proposal_id = ?');
    this.#byTicket = db.prepare<[string], SpawnRow>('SELECT * FROM spawns WHERE ticket_sha256 = ?');
    this.#newTicket = db.prepare<[string, string, bigint, bigint, bigint, string]>(
      'UPDATE spawns SET ticket_sha256 = ?, plan = ?, term_days = ?, quote_sat = ?, updated_at = ? WHERE proposal_id = ? AND server_id IS NULL',
    );
    this.#setServer = db.prepare<[string, bigint, bigint, bigint, string]>(
      'UPDATE spawns SET server_id = ?, server_created_at = ?, register_deadline = ?, updated_at = ? WHERE proposal_id = ? AND server_id IS NULL',
    );
    this.#setUrl = db.prepare<[string, bigint, string]>('UPDATE spawns SET url = ?, updated_at = ? WHERE proposal_id = ?');
    this.#useTicket = db.prepare<{ node_id: string; url: string; code_hash: string; xpub: string; at: bigint; ticket: string }>(
      `UPDATE spawns SET ticket_used = 1, child_node_id = :node_id, child_url = :url, child_code_hash = :code_hash,
         child_account_xpub = :xpub, registered_at = :at, updated_at = :at
       WHERE ticket_sha256 = :ticket AND ticket_used = 0`,
    );
    this.#setBattery = db.prepare<[string, bigint, string]>('UPDATE spawns SET battery = ?, updated_at = ? WHERE proposal_id = ?');
    this.#setDestroyed = db.prepare<[bigint, bigint, string]>('UPDATE spawns SET destroyed_at = ?, updated_at = ? WHERE proposal_id = ? AND destroyed_at IS NULL');
    this.#registered = db.prepare<[number], SpawnRow>('SELECT * FROM spawns INDEXED BY spawns_registered WHERE registered_at IS NOT NULL ORDER BY registered_at LIMIT ?');
    this.#insertPayment = db.prepare<Omit<SpawnPaymentRow, 'txid' | 'hex' | 'inputs' | 'fee_sat' | 'state'> & { at: bigint }>(
      `INSERT OR IGNORE INTO spawn_payments (key, proposal_id, call, payment_id, address, amount_sat, state, created_at)
       VALUES (:key, :proposal_id, :call, :payment_id, :address, :amount_sat, 'intent', :at)`,
    );
    const cols = 'key, proposal_id, call, payment_id, address, amount_sat, txid, hex, inputs, fee_sat, state';
    this.#paymentsOf = db.prepare<[string], SpawnPaymentRow>(`SELECT ${cols} FROM spawn_payments WHERE proposal_id = ? ORDER BY created_at, key`);
    this.#openPayments = db.prepare<[string], SpawnPaymentRow>(`SELECT ${cols} FROM spawn_payments WHERE proposal_id = ? AND state <> 'sent' ORDER BY created_at, key`);
    this.#paymentSigned = db.prepare<{ key: string; txid: string; hex: string; inputs: string; fee_sat: bigint }>(
      "UPDATE spawn_payments SET txid = :txid, hex = :hex, inputs = :inputs, fee_sat = :fee_sat, state = 'signed' WHERE key = :key AND state = 'intent'",
    );
    this.#paymentSent = db.prepare<[bigint, string]>("UPDATE spawn_payments SET state = 'sent', sent_at = ? WHERE key = ? AND state = 'signed'");
    this.#statesOf = db.prepare<[string], { state: string; n: bigint }>('SELECT state, COUNT(*) AS n FROM proposals WHERE proposer_key = ? GROUP BY state');
    this.#paymentByTxid = db.prepare<[string], { key: string }>('SELECT key FROM spawn_payments WHERE txid = ?');
  }

  insert(s: { proposal_id: string; ticket_sha256: string; plan: string; term_days: bigint; quote_sat: bigint; at: bigint }): void {
    this.#insert.run(s);
  }

  byProposal(id: string): SpawnRow | undefined {
    return this.#byProposal.get(id);
  }

  byTicket(sha256: string): SpawnRow | undefined {
    return this.#byTicket.get(sha256);
  }

  /** A fresh ticket (and the quote it goes with) for a spawn whose server is not yet recorded; false once it is. */
  newTicket(id: string, sha256: string, plan: string, termDays: bigint, quoteSat: bigint, at: bigint): boolean {
    return this.#newTicket.run(sha256, plan, termDays, quoteSat, at, id).changes > 0;
  }

  /** Records the server the script made; false if one was already recorded. */
  setServer(id: string, serverId: string, at: bigint, deadline: bigint): boolean {
    return this.#setServer.run(serverId, at, deadline, at, id).changes > 0;
  }

  setUrl(id: string, url: string, at: bigint): void {
    this.#setUrl.run(url, at, id);
  }

  /** Spends the ticket with the child's registration; false when it is unknown or already spent. */
  useTicket(sha256: string, child: NewChild, at: bigint): boolean {
    return this.#useTicket.run({ ticket: sha256, node_id: child.nodeId, url: child.url, code_hash: child.codeHash, xpub: child.accountXpub, at }).changes > 0;
  }

  setBattery(id: string, json: string, at: bigint): void {
    this.#setBattery.run(json, at, id);
  }

  setDestroyed(id: string, at: bigint): void {
    this.#setDestroyed.run(at, at, id);
  }

  /** Spawns whose child registered, oldest first. */
  registered(limit: number): SpawnRow[] {
    return this.#registered.all(limit);
  }

  /** Records a payment intent; false when the key was already recorded (it is never paid twice). */
  insertPayment(p: Omit<SpawnPaymentRow, 'txid' | 'hex' | 'inputs' | 'fee_sat' | 'state'>, at: bigint): boolean {
    return this.#insertPayment.run({ ...p, at }).changes > 0;
  }

  paymentsOf(id: string): SpawnPaymentRow[] {
    return this.#paymentsOf.all(id);
  }

  /** The proposal's payments not yet known to the chain: intents and signed transactions. */
  openPayments(id: string): SpawnPaymentRow[] {
    return this.#openPayments.all(id);
  }

  paymentSigned(p: { key: string; txid: string; hex: string; inputs: string; fee_sat: bigint }): boolean {
    return this.#paymentSigned.run(p).changes > 0;
  }

  paymentSent(key: string, at: bigint): boolean {
    return this.#paymentSent.run(at, key).changes > 0;
  }

  /** True when `txid` is a spawn payment's transaction (its change back to the deposit address is no deposit). */
  isPaymentTx(txid: string): boolean {
    return this.#paymentByTxid.get(txid) !== undefined;
  }

  /** How many of the proposer's proposals are in each state. */
  statesOf(proposerKey: string): Map<string, number> {
    return new Map(this.#statesOf.all(proposerKey).map((r) => [r.state, Number(r.n)]));
  }
}
