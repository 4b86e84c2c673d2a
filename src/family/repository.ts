/**
 * Every statement the family runs over its tables (./schema.ts), prepared once when it is built. Changes of
 * state and their history rows are written together by `move`, a transaction (a savepoint inside an open one,
 * such as the payment watcher's). None of them awaits.
 */
import type { Db } from '../db/index.ts';
import type { ProposalState } from './states.ts';

export interface ProposalRow {
  id: string;
  state: ProposalState;
  provider: string;
  script: string;
  hosts: string;
  transcript: string;
  credentials_sealed: string | null;
  spawn_sat: bigint;
  monthly_sat: bigint;
  investment_sat: bigint;
  interest_bps: bigint;
  payout_address: string;
  variant: string;
  proposer_key: string;
  signature: string;
  deposit_address: string;
  deposit_sat: bigint;
  evaluation: string | null;
  created_at: bigint;
  funded_at: bigint | null;
  refund_due: bigint;
  updated_at: bigint;
}

export interface HistoryRow {
  state: ProposalState;
  at: bigint;
  reason: string;
}

export interface RefundRow {
  proposal_id: string;
  txid: string;
  hex: string;
  /** JSON array of the outpoints (`<txid>:<vout>`) it spends. */
  inputs: string;
  amount_sat: bigint;
  fee_sat: bigint;
  state: 'pending' | 'sent';
  reason: string;
}

export type NewProposal = Omit<ProposalRow, 'state' | 'evaluation' | 'funded_at' | 'refund_due' | 'updated_at'>;

export class FamilyRepository {
  readonly #insert;
  readonly #history;
  readonly #byId;
  readonly #byAddress;
  readonly #list;
  readonly #historyOf;
  readonly #setState;
  readonly #setFunded;
  readonly #setEvaluation;
  readonly #inStates;
  readonly #dueForSelection;
  readonly #createdBefore;
  readonly #setRefundDue;
  readonly #refundDue;
  readonly #refundsOf;
  readonly #addHistory;
  readonly #insertRefund;
  readonly #refundOf;
  readonly #pendingRefunds;
  readonly #refundSent;
  readonly #create;
  readonly #move;

  constructor(private readonly db: Db) {
    this.#insert = db.prepare<NewProposal>(
      `INSERT INTO proposals (id, state, provider, script, hosts, transcript, credentials_sealed, spawn_sat, monthly_sat, investment_sat,
         interest_bps, payout_address, variant, proposer_key, signature, deposit_address, deposit_sat, created_at, updated_at)
       VALUES (:id, 'awaiting_deposit', :provider, :script, :hosts, :transcript, :credentials_sealed, :spawn_sat, :monthly_sat, :investment_sat,
         :interest_bps, :payout_address, :variant, :proposer_key, :signature, :deposit_address, :deposit_sat, :created_at, :created_at)`,
    );
    this.#history = db.prepare<[string, string, bigint, string]>('INSERT INTO proposal_history (proposal_id, state, at, reason) VALUES (?, ?, ?, ?)');
    this.#byId = db.prepare<[string], ProposalRow>('SELECT * FROM proposals WHERE id = ?');
    this.#byAddress = db.prepare<[string], ProposalRow>('SELECT * FROM proposals WHERE deposit_address = ?');
    this.#list = db.prepare<[number], ProposalRow>('SELECT * FROM proposals ORDER BY created_at DESC, id LIMIT ?');
    this.#historyOf = db.prepare<[string], HistoryRow>('SELECT state, at, reason FROM proposal_history WHERE proposal_id = ? ORDER BY id');
    this.#setState = db.prepare<[string, bigint, string, string]>('UPDATE proposals SET state = ?, updated_at = ? WHERE id = ? AND state = ?');
    this.#setFunded = db.prepare<[bigint, string]>('UPDATE proposals SET funded_at = ? WHERE id = ?');
    this.#setEvaluation = db.prepare<[string, string]>('UPDATE proposals SET evaluation = ? WHERE id = ?');
    this.#inStates = db.prepare<[string], ProposalRow>('SELECT * FROM proposals WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, id');
    this.#dueForSelection = db.prepare<[string, bigint], ProposalRow>(
      'SELECT * FROM proposals WHERE state IN (SELECT value FROM json_each(?)) AND funded_at IS NOT NULL AND funded_at <= ? ORDER BY funded_at, id',
    );
    this.#setRefundDue = db.prepare<[number, string]>('UPDATE proposals SET refund_due = ? WHERE id = ?');
    this.#refundDue = db.prepare<[], ProposalRow>('SELECT * FROM proposals INDEXED BY proposals_refund_due WHERE refund_due = 1 ORDER BY id');
    this.#refundsOf = db.prepare<[string], RefundRow>('SELECT proposal_id, txid, hex, inputs, amount_sat, fee_sat, state, reason FROM proposal_refunds WHERE proposal_id = ? ORDER BY created_at, txid');
    this.#addHistory = db.prepare<[string, string, bigint, string]>('INSERT INTO proposal_history (proposal_id, state, at, reason) VALUES (?, ?, ?, ?)');
    this.#createdBefore = db.prepare<[string, bigint], ProposalRow>('SELECT * FROM proposals WHERE state = ? AND created_at <= ? ORDER BY created_at, id');
    this.#insertRefund = db.prepare<RefundRow & { created_at: bigint }>(
      `INSERT INTO proposal_refunds (proposal_id, txid, hex, inputs, amount_sat, fee_sat, state, reason, created_at)
       VALUES (:proposal_id, :txid, :hex, :inputs, :amount_sat, :fee_sat, :state, :reason, :created_at)`,
    );
    this.#refundOf = db.prepare<[string], RefundRow>('SELECT proposal_id, txid, hex, inputs, amount_sat, fee_sat, state, reason FROM proposal_refunds WHERE proposal_id = ? ORDER BY created_at, txid LIMIT 1');
    this.#pendingRefunds = db.prepare<[], RefundRow>("SELECT proposal_id, txid, hex, inputs, amount_sat, fee_sat, state, reason FROM proposal_refunds WHERE state = 'pending' ORDER BY created_at");
    this.#refundSent = db.prepare<[bigint, string]>("UPDATE proposal_refunds SET state = 'sent', sent_at = ? WHERE txid = ? AND state = 'pending'");
    this.#create = db.transaction((p: NewProposal, reason: string) => {
      this.#insert.run(p);
      this.#history.run(p.id, 'awaiting_deposit', p.created_at, reason);
    });
    this.#move = db.transaction((id: string, from: ProposalState, to: ProposalState, at: bigint, reason: string): boolean => {
      if (this.#setState.run(to, at, id, from).changes === 0) return false;
      this.#history.run(id, to, at, reason);
      return true;
    });
  }

  /** Runs `fn` in one transaction (a savepoint inside an open one). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Inserts a proposal in awaiting_deposit with its first history row. */
  create(p: NewProposal, reason: string): void {
    this.#create(p, reason);
  }

  /** Moves a proposal from `from` to `to` with its history row; false (nothing written) when it is no longer in `from`. */
  move(id: string, from: ProposalState, to: ProposalState, at: bigint, reason: string): boolean {
    return this.#move(id, from, to, at, reason);
  }

  byId(id: string): ProposalRow | undefined {
    return this.#byId.get(id);
  }

  byAddress(address: string): ProposalRow | undefined {
    return this.#byAddress.get(address);
  }

  list(limit: number): ProposalRow[] {
    return this.#list.all(limit);
  }

  history(id: string): HistoryRow[] {
    return this.#historyOf.all(id);
  }

  setFunded(id: string, at: bigint): void {
    this.#setFunded.run(at, id);
  }

  setEvaluation(id: string, json: string): void {
    this.#setEvaluation.run(json, id);
  }

  inStates(states: readonly ProposalState[]): ProposalRow[] {
    return this.#inStates.all(JSON.stringify(states));
  }

  /** Proposals in `states` funded at or before `fundedBefore`. */
  fundedBefore(states: readonly ProposalState[], fundedBefore: bigint): ProposalRow[] {
    return this.#dueForSelection.all(JSON.stringify(states), fundedBefore);
  }

  /** Proposals in `state` made at or before `createdBefore`. */
  createdBefore(state: ProposalState, createdBefore: bigint): ProposalRow[] {
    return this.#createdBefore.all(state, createdBefore);
  }

  insertRefund(r: RefundRow, at: bigint): void {
    this.#insertRefund.run({ ...r, created_at: at });
  }

  /** The proposal's first refund. */
  refundOf(id: string): RefundRow | undefined {
    return this.#refundOf.get(id);
  }

  /** Every refund of the proposal, oldest first. */
  refundsOf(id: string): RefundRow[] {
    return this.#refundsOf.all(id);
  }

  setRefundDue(id: string, due: boolean): void {
    this.#setRefundDue.run(due ? 1 : 0, id);
  }

  /** Proposals that money reached after their refund. */
  refundDue(): ProposalRow[] {
    return this.#refundDue.all();
  }

  /** A history row that is not a change of state (a later refund of a refunded proposal). */
  addHistory(id: string, state: ProposalState, at: bigint, reason: string): void {
    this.#addHistory.run(id, state, at, reason);
  }

  pendingRefunds(): RefundRow[] {
    return this.#pendingRefunds.all();
  }

  /** Marks a pending refund (by txid) sent; false when it was not pending. */
  refundSent(txid: string, at: bigint): boolean {
    return this.#refundSent.run(at, txid).changes > 0;
  }
}
