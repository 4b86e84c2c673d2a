/**
 * Reproduction, from an evaluated proposal to a child under test (docs/reproduction.md). The `family.spawn` job
 * runs every few seconds and takes each proposal one step further; every step is idempotent and resumable after a
 * kill -9 at any point, since what it did is in the database before what follows it:
 *
 * 1. Selection. When no spawn is under way and the agent is ready (./selection.ts: its reserve, deposits left
 *    out, and the demand on its disk), the best evaluated proposal is `selected`.
 * 2. `selected` -> `spawning`: the script's quote for the minimum term (meta.minTermDays) is recorded. A quote
 *    above the proposal's own is not spawned: the proposal is refunded.
 * 3. A server: a fresh one-time ticket (only its sha256 is kept), the user data around it, and the script's
 *    create. Its payment requests are checked (a valid address, the quote, the deposit left, each id once) and
 *    recorded as intents in the same transaction as the server. A create interrupted before its answer was
 *    recorded is made again with a new ticket; the provider's twin is never paid, and lapses.
 * 4. Payments (./spawn-payments.ts), then the script's status until the server runs.
 * 5. The child registers (./register.ts) before its deadline, or its server is destroyed through the script and
 *    the proposal ends `terminated`. From `terminated` nothing is refunded: what is left of the deposit is kept.
 *
 * The `family.test` job runs the battery over each registered child: `proxied` when it passes, else destroyed
 * and `terminated` with the failed checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Accounts } from '../ledger/index.ts';
import { checkPayments, SandboxSession, type CallResults } from '../sandbox/index.ts';
import { isAddressFor } from '../../wallet/index.ts';
import type { Evaluation } from './evaluation.ts';
import type { FamilyRepository, ProposalRow } from './repository.ts';
import type { SpawnRepository, SpawnRow } from './repository-spawns.ts';
import { rank, readiness, SUCCEEDED, type Candidate } from './selection.ts';
import { payOpen } from './spawn-payments.ts';
import { STATES, type ProposalState } from './states.ts';
import { accountOf, type FamilyDeps, type SpawnDeps } from './types.ts';

export interface SpawnCtx {
  repo: FamilyRepository;
  spawns: SpawnRepository;
  accounts: Accounts;
  deps: FamilyDeps;
  spawn: SpawnDeps;
  /** The proposal's credentials, opened (Family.credentialsFor). */
  credentialsFor: (id: string) => string | Record<string, unknown> | undefined;
}

/** A spawn under way: no other is selected meanwhile. */
const UNDER_WAY: readonly ProposalState[] = ['selected', 'spawning', 'testing'];
/** The most a battery run may take. */
const BATTERY_MS = 10 * 60_000;

export async function spawnJob(ctx: SpawnCtx): Promise<string> {
  const notes: string[] = [];
  const failures: string[] = [];
  const step = async (p: ProposalRow, fn: (p: ProposalRow) => Promise<void>): Promise<void> => {
    try {
      await fn(p);
    } catch (e) {
      failures.push(`${p.id.slice(0, 8)}: ${message(e)}`);
    }
  };
  await select(ctx, notes);
  for (const p of ctx.repo.inStates(['selected'])) await step(p, (q) => begin(ctx, q, notes));
  for (const p of ctx.repo.inStates(['spawning'])) await step(p, (q) => advance(ctx, q, notes));
  const detail = notes.length > 0 ? notes.join('; ') : 'nothing to do';
  if (failures.length > 0) throw new Error(`${detail}; ${failures.join('; ')}`.slice(0, 1000));
  return detail.slice(0, 1000);
}

async function select(ctx: SpawnCtx, notes: string[]): Promise<void> {
  const { repo, accounts } = ctx;
  if (repo.inStates(UNDER_WAY).length > 0) return;
  const evaluated = repo.inStates(['evaluated']);
  if (evaluated.length === 0) return;
  const i = await ctx.spawn.readinessInput();
  // Deposits are the investors' money, whatever the wallet's totals count.
  const held = repo.inStates(STATES.filter((s) => s !== 'refunded')).reduce((a, p) => a + accounts.balanceSat(accountOf(p.id)), 0n);
  const ready = readiness({ ...i, reserveSat: i.walletSat > held ? i.walletSat - held : 0n });
  if (!ready.ready) {
    notes.push(`not ready: ${ready.reason}`);
    return;
  }
  const ranked = rank(evaluated.map((p) => candidate(ctx, p)));
  const best = ranked[0];
  if (!best) return;
  const at = BigInt(ctx.deps.now().getTime());
  if (repo.move(best.id, 'evaluated', 'selected', at, `selected, first of ${ranked.length} evaluated: ${ready.reason}`)) notes.push(`selected ${best.id.slice(0, 8)}`);
}

function candidate(ctx: SpawnCtx, p: ProposalRow): Candidate {
  const evaluation = p.evaluation === null ? undefined : (JSON.parse(p.evaluation) as Evaluation);
  const states = ctx.spawns.statesOf(p.proposer_key);
  return {
    id: p.id,
    monthlySat: p.monthly_sat,
    interestBps: p.interest_bps,
    checks: evaluation?.checks.length ?? 0,
    checksPassed: evaluation?.checks.filter((c) => c.passed).length ?? 0,
    record: { terminated: states.get('terminated') ?? 0, succeeded: SUCCEEDED.reduce((a, s) => a + (states.get(s) ?? 0), 0) },
    fundedAt: p.funded_at ?? p.created_at,
  };
}

/** `selected` -> `spawning`, with the quote for the minimum term. */
async function begin(ctx: SpawnCtx, p: ProposalRow, notes: string[]): Promise<void> {
  const { repo, spawns } = ctx;
  const plan = planOf(p);
  const timeout = ctx.spawn.registerTimeoutSeconds;
  // Nothing was spent yet: a proposal that cannot be quoted, or is quoted above its own, goes back to its investor.
  const giveBack = (why: string): void => {
    const at = BigInt(ctx.deps.now().getTime());
    repo.transaction(() => {
      if (repo.move(p.id, 'selected', 'refunded', at, `not spawned: ${why}; its deposit goes back`)) repo.setRefundDue(p.id, true);
    });
    notes.push(`${p.id.slice(0, 8)} not spawned`);
  };
  let q: CallResults['quote'];
  try {
    q = await withScript(ctx, p, async (s) => {
      const out = await s.call('quote', { plan, days: s.meta.minTermDays });
      if (!out.ok) throw new Error(`the script's quote failed: ${out.code} ${out.reason}`);
      return out.value;
    });
  } catch (e) {
    if (ctx.deps.now().getTime() - Number(p.updated_at) <= timeout * 1000) throw e;
    giveBack(`no quote within ${timeout} s (${message(e)})`);
    return;
  }
  const at = BigInt(ctx.deps.now().getTime());
  if (q.spawnSat > p.spawn_sat) {
    giveBack(`the provider now quotes ${q.spawnSat} sat, above the proposal's ${p.spawn_sat} sat`);
    return;
  }
  repo.transaction(() => {
    // A placeholder ticket no one holds: the real one is made with the server (below).
    spawns.insert({ proposal_id: p.id, ticket_sha256: sha256(token()), plan, term_days: BigInt(q.termDays), quote_sat: q.spawnSat, at });
    repo.move(p.id, 'selected', 'spawning', at, `spawning: ${plan} for ${q.termDays} day(s), quoted ${q.spawnSat} sat`);
  });
  notes.push(`${p.id.slice(0, 8)} spawning`);
}

async function advance(ctx: SpawnCtx, p: ProposalRow, notes: string[]): Promise<void> {
  let s = ctx.spawns.byProposal(p.id);
  if (!s) throw new Error('spawning without a spawn record');
  const timeout = ctx.spawn.registerTimeoutSeconds;
  const now = BigInt(ctx.deps.now().getTime());
  if (s.server_id === null) {
    if (now > s.created_at + BigInt(timeout) * 1000n) return terminate(ctx, p, s, `no server could be made within ${timeout} s`, notes);
    const refused = await create(ctx, p, s);
    s = ctx.spawns.byProposal(p.id) ?? s;
    if (refused !== undefined) return terminate(ctx, p, s, refused, notes);
    notes.push(`${p.id.slice(0, 8)} server ${s.server_id ?? '?'}`);
  }
  const late = s.register_deadline !== null && now > s.register_deadline;
  // Past the deadline, only what may already have left is broadcast again; nothing new is paid.
  const paid = await payOpen(ctx, p, { intents: !late }).catch((e: unknown) => {
    notes.push(`${p.id.slice(0, 8)} payment waits: ${message(e)}`);
    return 0;
  });
  if (paid > 0) notes.push(`${p.id.slice(0, 8)} paid ${paid}`);
  if (late) return terminate(ctx, p, s, `the child did not register within ${timeout} s of its server's creation`, notes);
  const serverId = s.server_id;
  if (serverId === null) return;
  const st = await withScript(ctx, p, (sc) => sc.call('status', { serverId }));
  if (st.ok && st.value.state === 'running' && st.value.url !== undefined && st.value.url !== s.url) {
    // The child may have registered while the script was asked (the proposal is then testing): its history then
    // gets no spawning row after its testing one, and the row's time is when it is written.
    const at = BigInt(ctx.deps.now().getTime());
    ctx.spawns.setUrl(p.id, st.value.url, at);
    if (ctx.repo.byId(p.id)?.state === 'spawning') ctx.repo.addHistory(p.id, 'spawning', at, `server ${serverId} running at ${st.value.url}`);
  }
  notes.push(`${p.id.slice(0, 8)} ${st.ok ? st.value.state : `status failed (${st.code})`}`);
}

/**
 * Makes the server: a fresh ticket, the user data, the script's create, and its payment requests checked and
 * recorded as intents with the server in one transaction.
 * @returns why the payments were refused (the server is recorded, to be destroyed), or undefined
 * @throws when no server could be made now (tried again at the next run, until the deadline)
 */
async function create(ctx: SpawnCtx, p: ProposalRow, s: SpawnRow): Promise<string | undefined> {
  const { deps, spawn, spawns, repo } = ctx;
  const codeHash = deps.codeHash?.();
  if (codeHash === undefined || deps.nodeId === undefined || deps.publicUrl === undefined) throw new Error('no code bundle to spawn from yet');
  const ticket = token();
  const startedAt = BigInt(deps.now().getTime());
  if (!spawns.newTicket(p.id, sha256(ticket), s.plan, s.term_days, s.quote_sat, startedAt)) throw new Error('the server was recorded by another run');
  const userData = spawn.userData({ parentUrl: deps.publicUrl(), parentNodeId: deps.nodeId, ticket, codeHash, network: deps.network, esploraUrl: spawn.esploraUrl });
  const made = await withScript(ctx, p, async (sc) => {
    const out = await sc.call('create', { userData, plan: s.plan, days: sc.meta.minTermDays });
    if (!out.ok) throw new Error(`the script's create failed: ${out.code} ${out.reason}`);
    return { ...out.value, billing: sc.meta.billing };
  });
  const pay = made.pay ?? [];
  const budgetSat = ctx.accounts.balanceSat(accountOf(p.id));
  const check = checkPayments(pay, { quoteSat: s.quote_sat, budgetSat, alreadyPaidIds: spawns.paymentsOf(p.id).map((x) => x.payment_id) });
  let refused = check.ok ? undefined : check.reason;
  const foreign = pay.find((x) => !isAddressFor(x.address, deps.network));
  if (foreign) refused = `payment ${foreign.id} is to an address that is not on ${deps.network}`;
  if (made.billing === 'credentials' && pay.length > 0) refused = 'a script billed through credentials asked to be paid on chain';
  const at = BigInt(deps.now().getTime());
  repo.transaction(() => {
    if (!spawns.setServer(p.id, made.serverId, at, at + BigInt(spawn.registerTimeoutSeconds) * 1000n)) throw new Error('the server was recorded by another run');
    if (refused !== undefined) return;
    for (const x of pay) spawns.insertPayment({ key: `${p.id}/create/${x.id}`, proposal_id: p.id, call: 'create', payment_id: x.id, address: x.address, amount_sat: x.amountSat }, at);
    repo.addHistory(p.id, 'spawning', at, `server ${made.serverId} made; ${pay.length} payment(s) of ${check.ok ? check.totalSat : 0n} sat to make`);
  });
  return refused === undefined ? undefined : `payments refused: ${refused}`;
}

/** Destroys the server (when the script can) and ends the proposal `terminated` with `reason`. */
async function terminate(ctx: Pick<SpawnCtx, 'repo' | 'spawns' | 'deps' | 'spawn' | 'credentialsFor'>, p: ProposalRow, s: SpawnRow | undefined, reason: string, notes: string[]): Promise<void> {
  const serverId = s?.server_id ?? null;
  let what = reason;
  if (serverId !== null && s?.destroyed_at === null) {
    const destroyed = await withScript(ctx, p, async (sc) => {
      if (!sc.meta.canDestroy) return false;
      const out = await sc.call('destroy', { serverId });
      if (!out.ok) throw new Error(`the script's destroy failed: ${out.code} ${out.reason}`);
      return true;
    });
    what = `${reason}; server ${serverId} ${destroyed ? 'destroyed' : 'left to lapse (the provider cannot destroy)'}`;
  }
  const at = BigInt(ctx.deps.now().getTime());
  ctx.repo.transaction(() => {
    if (serverId !== null) ctx.spawns.setDestroyed(p.id, at);
    ctx.repo.move(p.id, p.state, 'terminated', at, what.slice(0, 2000));
  });
  notes.push(`${p.id.slice(0, 8)} terminated`);
}

/** The `family.test` job: the battery over each child that registered. */
export async function testJob(ctx: SpawnCtx): Promise<string> {
  const { battery } = ctx.spawn;
  const testing = ctx.repo.inStates(['testing']);
  if (testing.length === 0) return 'nothing to test';
  if (!battery) return `${testing.length} child(ren) wait: no battery is wired`;
  const notes: string[] = [];
  const failures: string[] = [];
  for (const p of testing) {
    const s = ctx.spawns.byProposal(p.id);
    if (!s || s.child_node_id === null || s.child_url === null || s.child_code_hash === null || s.child_account_xpub === null) continue;
    try {
      const result = await battery({ url: s.child_url, nodeId: s.child_node_id, codeHash: s.child_code_hash, accountXpub: s.child_account_xpub }, AbortSignal.timeout(BATTERY_MS));
      const at = BigInt(ctx.deps.now().getTime());
      // Only what the type promises is stored: a battery may say more (runBattery adds spentSat, a bigint that
      // JSON.stringify refuses, which failed the job after the paid checks had run and paid the child again).
      ctx.spawns.setBattery(p.id, JSON.stringify({ passed: result.passed, checks: result.checks.map((c) => ({ name: c.name, passed: c.passed, detail: c.detail })) }), at);
      const failed = result.checks.filter((c) => !c.passed);
      if (result.passed && failed.length === 0) {
        ctx.repo.move(p.id, 'testing', 'proxied', at, `passed the battery's ${result.checks.length} check(s)`);
        notes.push(`${p.id.slice(0, 8)} proxied`);
      } else {
        const reason = `failed the battery: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ') || 'no check passed'}`;
        await terminate(ctx, p, s, reason, notes);
      }
    } catch (e) {
      failures.push(`${p.id.slice(0, 8)}: ${message(e)}`);
    }
  }
  const detail = notes.join('; ') || 'no result yet';
  if (failures.length > 0) throw new Error(`${detail}; ${failures.join('; ')}`.slice(0, 1000));
  return detail;
}

/** Runs `fn` with the proposal's script in a sandbox session on the real network, its credentials attached. */
async function withScript<T>(ctx: Pick<SpawnCtx, 'deps' | 'spawn' | 'credentialsFor'>, p: ProposalRow, fn: (s: SandboxSession) => Promise<T>): Promise<T> {
  const creds = ctx.credentialsFor(p.id);
  const opened = await SandboxSession.open({
    source: p.script,
    transport: ctx.spawn.transport,
    ...(creds === undefined ? {} : { credentials: typeof creds === 'string' ? creds : JSON.stringify(creds) }),
    now: () => ctx.deps.now().getTime(),
  });
  if (!opened.ok) throw new Error(`the script does not load: ${opened.code} ${opened.reason}`);
  try {
    return await fn(opened.session);
  } finally {
    opened.session.close();
  }
}

/** The plan the investor's transcript quoted (the proposal's quote is for it). */
function planOf(p: ProposalRow): string {
  const t = JSON.parse(p.transcript) as { calls?: Array<{ call?: unknown; args?: { plan?: unknown } }> };
  const plan = t.calls?.find((c) => c.call === 'quote')?.args?.plan;
  return typeof plan === 'string' && plan !== '' ? plan : 'default';
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
