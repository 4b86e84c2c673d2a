/**
 * The Family: investors' proposals from signature to refund. It checks and stores a proposal with a fresh deposit
 * address, credits deposits to the proposal's own ledger account (./payments.ts), moves it through its states
 * (./states.ts) with a history row for each step, has it evaluated (./jobs.ts) and pays it back when it is
 * rejected or never selected (./refunds.ts). When the agent is ready it selects one, spawns its child through the
 * script (./spawn.ts), takes the child's registration (./register.ts) and has it tested.
 */
import { randomBytes } from 'node:crypto';
import { AgentError } from '../errors/index.ts';
import { formatBtc } from '../money/index.ts';
import type { PaymentSink } from '../chain/index.ts';
import { MetaStore } from '../db/index.ts';
import { Accounts } from '../ledger/index.ts';
import type { Job } from '../scheduler/index.ts';
import { isAddressFor, verifySignedFields } from '../../wallet/index.ts';
import { isPlainHost } from '../sandbox/index.ts';
import type { Evaluation } from './evaluation.ts';
import { evaluateFunded } from './jobs.ts';
import { familySink, receivedSat } from './payments.ts';
import { refundDue } from './refunds.ts';
import { familyView, register, type FamilyView, type Registration } from './register.ts';
import { FamilyRepository, type ProposalRow } from './repository.ts';
import { SpawnRepository } from './repository-spawns.ts';
import { spawnJob, testJob, type SpawnCtx } from './spawn.ts';
import type { ProposalState } from './states.ts';
import { accountOf, type FamilyDeps } from './types.ts';

/** A proposal as it is posted (API: POST /v1/proposals); the numbers are JSON integers, as signed. */
export interface ProposalBody {
  provider: string;
  script: string;
  hosts: string[];
  transcript: Record<string, unknown>;
  credentials?: string | Record<string, unknown>;
  quote: { spawnSat: number; monthlySat: number };
  investmentSat: number;
  interestBps: number;
  payoutAddress: string;
  variant: 'clone';
  proposerKey: string;
  signature: string;
}

export interface Proposed {
  id: string;
  depositAddress: string;
  depositSat: bigint;
  bip21: string;
  state: 'awaiting_deposit';
}

/** A proposal as GET /v1/proposals/:id shows it; never its credentials. */
export interface ProposalView {
  id: string;
  state: ProposalState;
  provider: string;
  investmentSat: bigint;
  depositSat: bigint;
  receivedSat: bigint;
  evaluation?: Evaluation;
  child?: { nodeId: string; url: string };
  payments: Array<{ purpose: string; amountSat: bigint; txid: string }>;
  refund?: { amountSat: bigint; txid: string };
  payback: { owedSat: bigint; paidSat: bigint; txids: string[] };
  history: Array<{ state: ProposalState; at: Date; reason: string }>;
}

/** The most proposals GET /v1/proposals lists, newest first. */
const LIST_MAX = 500;

export class Family {
  readonly #deps: FamilyDeps;
  readonly #repo: FamilyRepository;
  readonly #accounts: Accounts;
  readonly #spawns: SpawnRepository;
  readonly #meta: MetaStore;
  /** Called by the payment watcher inside its transaction: see ./payments.ts. */
  readonly paymentSink: PaymentSink;

  constructor(deps: FamilyDeps) {
    this.#deps = deps;
    this.#repo = new FamilyRepository(deps.db);
    this.#accounts = new Accounts(deps.db);
    this.#spawns = new SpawnRepository(deps.db);
    this.#meta = new MetaStore(deps.db);
    this.paymentSink = familySink({ repo: this.#repo, spawns: this.#spawns, accounts: this.#accounts, now: deps.now });
  }

  /**
   * Checks a proposal and stores it with a fresh deposit address; the investor pays `depositSat` (the investment)
   * there. The credentials, if any, are sealed by wallet/ before they are stored, and never shown again.
   * @throws AgentError PROPOSAL_SCRIPT_TOO_LARGE, PROPOSAL_BAD_HOST, PROPOSAL_BAD_SIGNATURE, PROPOSAL_BAD_PAYOUT,
   *   PROPOSAL_INVESTMENT_TOO_LOW, BAD_REQUEST (an amount beyond what JSON carries exactly)
   */
  propose(body: ProposalBody): Proposed {
    const scriptBytes = Buffer.byteLength(body.script, 'utf8');
    if (scriptBytes > this.#deps.scriptMaxBytes) throw new AgentError('PROPOSAL_SCRIPT_TOO_LARGE', `the script is ${scriptBytes} bytes; the most accepted is ${this.#deps.scriptMaxBytes}`);
    const bad = body.hosts.find((h) => !isPlainHost(h));
    if (bad !== undefined) throw new AgentError('PROPOSAL_BAD_HOST', `host ${JSON.stringify(bad.slice(0, 100))} is not a plain lowercase host or host:port`);
    // Over the fields exactly as they came: the body is neither coerced nor given defaults (src/http/index.ts).
    if (!verifySignedFields(body as unknown as Record<string, unknown>, body.proposerKey)) throw new AgentError('PROPOSAL_BAD_SIGNATURE', 'the signature is not proposerKey\'s over the canonical JSON of the other fields');
    if (!isAddressFor(body.payoutAddress, this.#deps.network)) throw new AgentError('PROPOSAL_BAD_PAYOUT', `the payout address is not a valid ${this.#deps.network} address`);
    const spawn = exact(body.quote.spawnSat, 'quote.spawnSat');
    const monthly = exact(body.quote.monthlySat, 'quote.monthlySat');
    const investment = exact(body.investmentSat, 'investmentSat');
    if (investment < spawn + monthly) throw new AgentError('PROPOSAL_INVESTMENT_TOO_LOW', `the investment of ${investment} sat is below the spawn cost plus one month (${spawn + monthly} sat)`);
    const sealed = body.credentials === undefined ? null : this.#deps.seal(JSON.stringify(body.credentials));
    const id = this.#newProposalId();
    const now = this.#deps.now();
    const at = BigInt(now.getTime());
    const address = this.#deps.newAddress();
    this.#repo.transaction(() => {
      this.#repo.create(
        {
          id, provider: body.provider, script: body.script, hosts: JSON.stringify(body.hosts), transcript: JSON.stringify(body.transcript),
          credentials_sealed: sealed, spawn_sat: spawn, monthly_sat: monthly, investment_sat: investment, interest_bps: BigInt(body.interestBps),
          payout_address: body.payoutAddress, variant: body.variant, proposer_key: body.proposerKey, signature: body.signature,
          deposit_address: address, deposit_sat: investment, created_at: at,
        },
        `proposed by ${body.proposerKey.slice(0, 16)}: ${investment} sat for ${body.provider}`,
      );
      this.#accounts.open(accountOf(id), 'proposal', now);
    });
    const uri = `bitcoin:${address}?${new URLSearchParams({ amount: formatBtc(investment), label: `proposal ${id}` }).toString()}`;
    return { id, depositAddress: address, depositSat: investment, bip21: uri, state: 'awaiting_deposit' };
  }

  /** @throws AgentError PROPOSAL_NOT_FOUND */
  get(id: string): ProposalView {
    const row = this.#repo.byId(id);
    if (!row) throw new AgentError('PROPOSAL_NOT_FOUND', 'no such proposal');
    return { ...this.#view(row), history: this.#repo.history(id).map((h) => ({ state: h.state, at: new Date(Number(h.at)), reason: h.reason })) };
  }

  /** The newest proposals, without their history. */
  list(): Array<Omit<ProposalView, 'history'>> {
    return this.#repo.list(LIST_MAX).map((r) => this.#view(r));
  }

  /** True when `address` is a proposal's deposit address (such a payment never counts before its confirmations). */
  isDepositAddress(address: string): boolean {
    return this.#repo.byAddress(address) !== undefined;
  }

  /**
   * The proposal's credentials, opened: for the sandbox's parent-side HTTP client to attach to requests to the
   * script's declared hosts, and for nothing else. This is the only way out of their sealed column; no view,
   * log line or evaluator input carries them.
   * @throws AgentError PROPOSAL_NOT_FOUND
   */
  credentialsFor(id: string): string | Record<string, unknown> | undefined {
    const row = this.#repo.byId(id);
    if (!row) throw new AgentError('PROPOSAL_NOT_FOUND', 'no such proposal');
    if (row.credentials_sealed === null) return undefined;
    return JSON.parse(this.#deps.open(row.credentials_sealed)) as string | Record<string, unknown>;
  }

  /**
   * A child's registration with its one-time ticket: the proposal moves from spawning to testing.
   * @throws AgentError FAMILY_BAD_TICKET, FAMILY_BAD_SIGNATURE
   */
  register(body: Registration): { proposalId: string } {
    return register({ repo: this.#repo, spawns: this.#spawns, now: this.#deps.now }, body);
  }

  /** This agent, its parent if it has one, and its registered children (GET /v1/family). */
  view(): FamilyView {
    const d = this.#deps;
    return familyView({ repo: this.#repo, spawns: this.#spawns, meta: this.#meta, nodeId: d.nodeId ?? '', url: d.publicUrl?.() ?? '', codeHash: d.codeHash?.() });
  }

  /**
   * The family's scheduled work: evaluating funded proposals, refunds, and, when reproduction is wired, the spawn
   * and the battery. Each is idempotent and restart-safe.
   */
  jobs(): Job[] {
    const jobs: Job[] = [
      { name: 'proposals.evaluate', cron: '*/10 * * * * *', everySeconds: 10, run: () => evaluateFunded({ repo: this.#repo, now: this.#deps.now, evaluate: this.#deps.evaluate }) },
      { name: 'proposals.refund', cron: '*/30 * * * * *', everySeconds: 30, run: () => refundDue({ repo: this.#repo, accounts: this.#accounts, deps: this.#deps }) },
    ];
    const spawn = this.#deps.spawn;
    if (spawn) {
      const ctx: SpawnCtx = { repo: this.#repo, spawns: this.#spawns, accounts: this.#accounts, deps: this.#deps, spawn, credentialsFor: (id) => this.credentialsFor(id) };
      jobs.push(
        { name: 'family.spawn', cron: '*/10 * * * * *', everySeconds: 10, run: () => spawnJob(ctx) },
        { name: 'family.test', cron: '*/10 * * * * *', everySeconds: 10, run: () => testJob(ctx) },
      );
    }
    return jobs;
  }

  /**
   * 16 random bytes in base64url, never starting with '-' (1 in 64 would), which `storj proposal <id>` would read as
   * an option; the host's ids follow the same rule (src/host/ids.ts).
   */
  #newProposalId(): string {
    for (;;) {
      const id = Buffer.from((this.#deps.random ?? randomBytes)(16)).toString('base64url');
      if (!id.startsWith('-')) return id;
    }
  }

  #child(id: string): { child?: { nodeId: string; url: string } } {
    const s = this.#spawns.byProposal(id);
    return s !== undefined && s.child_node_id !== null && s.child_url !== null ? { child: { nodeId: s.child_node_id, url: s.child_url } } : {};
  }

  #view(row: ProposalRow): Omit<ProposalView, 'history'> {
    const refund = this.#repo.refundOf(row.id);
    return {
      id: row.id,
      state: row.state,
      provider: row.provider,
      investmentSat: row.investment_sat,
      depositSat: row.deposit_sat,
      receivedSat: receivedSat(this.#accounts, accountOf(row.id)),
      ...(row.evaluation !== null ? { evaluation: JSON.parse(row.evaluation) as Evaluation } : {}),
      ...this.#child(row.id),
      // Paying the investor back comes with the child's release; none yet.
      payments: this.#spawns.paymentsOf(row.id).flatMap((p) => (p.txid !== null && p.state !== 'intent' ? [{ purpose: `${p.call} ${p.payment_id}`, amountSat: p.amount_sat, txid: p.txid }] : [])),
      ...(refund ? { refund: { amountSat: refund.amount_sat, txid: refund.txid } } : {}),
      payback: { owedSat: 0n, paidSat: 0n, txids: [] },
    };
  }
}

/** A JSON integer amount as bigint. @throws AgentError BAD_REQUEST beyond 2^53 (where JSON numbers stop being exact) */
function exact(n: number, field: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new AgentError('BAD_REQUEST', `${field} must be a non-negative integer below 2^53`);
  return BigInt(n);
}
