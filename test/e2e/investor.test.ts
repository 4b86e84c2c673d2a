// The investor's CLI as an investor runs it, the README's investor steps: `storj propose` with the local cloud's
// script and its transcript, `--pay` on the devnet, then `storj proposal ID` until the proposal is funded and then
// evaluated with every check passed, each a real process talking HTTP to a real agent on a real regtest devnet.
// And the other way out: a proposal that fails a check is rejected, and `storj proposal` shows the failed check,
// its reason, and the refund sent back on chain to the payout address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.ts';
import { runStorj, type Run } from '../helpers/cli.ts';

const storj = (args: string[]) => runStorj(args, {}, { clear: ['STORJ_URL', 'STORJ_LISTEN', 'STORJ_DATA_DIR'], timeoutMs: 180_000 });
const scripts = join(import.meta.dirname, '..', '..', 'spawn-scripts');
/** A regtest P2WPKH address (bitcoinjs-lib's networks.regtest): the investor's payout address. */
const PAYOUT = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';
/** The local cloud's quote in its transcript is 30,000 sat to spawn and 30,000 a month: this covers both and more. */
const INVESTMENT = 100_000;
/** Each poll is a whole `storj` process (about a second under tsx): this bounds the wait, not the time. */
const MAX_POLLS = 90;

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}
const lastJson = <T,>(r: Run): T => JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;

interface Shown {
  id: string;
  state: string;
  depositSat: number;
  receivedSat: number;
  refund?: { amountSat: number; txid: string };
  evaluation?: { passed: boolean; checks: { name: string; passed: boolean; detail: string }[] };
  history: { state: string; at: string; reason: string }[];
}

/**
 * The agent's own jobs that move proposals on (the watcher, the family's evaluation and refunds), run now instead of
 * at their next period, as `--pay` runs the watcher: each job is idempotent, so an extra run changes nothing but
 * timing. `mine` adds a block first, for a refund waiting to be seen on chain.
 */
async function nudge(a: TestAgent, mine = false): Promise<void> {
  if (mine) assert.equal((await a.api('POST', '/v1/dev/mine', { blocks: 1 })).status, 200);
  for (const name of a.agent.scheduler.jobs().filter((n) => /watcher|evaluat|refund/i.test(n))) {
    const r = await a.api('POST', `/v1/dev/jobs/${encodeURIComponent(name)}`);
    assert.equal(r.status, 200, `job ${name}: ${r.text}`);
  }
}

/** `storj proposal ID --json` until its state is one of `until` (at most MAX_POLLS times), with every state seen. */
async function pollUntil(a: TestAgent, id: string, until: string[], mine = false): Promise<{ p: Shown; seen: string[] }> {
  const seen: string[] = [];
  let p: Shown | undefined;
  for (let i = 0; i < MAX_POLLS; i++) {
    p = lastJson<Shown>(ok(await storj(['--json', 'proposal', id, '--url', a.agent.url]), 'proposal --json'));
    if (seen.at(-1) !== p.state) seen.push(p.state);
    if (until.includes(p.state)) break;
    await nudge(a, mine);
  }
  assert.ok(p, 'polled');
  return { p, seen };
}

test('an investor proposes the local cloud with `storj propose --pay`; `storj proposal` shows it funded, then evaluated with every check passed', async (t) => {
  const a = await startTestAgent(t);
  const dataDir = tempDir(t, 'storj-investor-e2e-');
  const url = a.agent.url;
  const args = ['propose', '--script', join(scripts, 'local-cloud.js'), '--transcript', join(scripts, 'local-cloud.transcript.json'), '--investment', String(INVESTMENT), '--interest', '500', '--payout', PAYOUT, '--url', url];

  const r = ok(await storj(['--json', '-d', dataDir, ...args, '--pay']), 'propose --pay');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, 'with --json: the new proposal, then the result');
  const created = (JSON.parse(lines[0] ?? '') as { proposal: { id: string; state: string } }).proposal;
  assert.equal(created.state, 'awaiting_deposit');
  const out = lastJson<{ id: string; depositSat: number; depositAddress: string; bip21: string; txid: string; keyFile: string; keyCreated: boolean; proposerKey: string; hosts: string[]; quote: unknown }>(r);
  assert.equal(out.id, created.id);
  assert.ok(out.depositSat >= INVESTMENT, `the deposit (${out.depositSat}) is at least the investment`);
  assert.match(out.bip21, new RegExp(`^bitcoin:${out.depositAddress}\\?amount=`));
  assert.match(out.txid, /^[0-9a-f]{64}$/);
  assert.deepEqual(out.hosts, ['127.0.0.1:8430'], "the hosts of the transcript's requests");
  assert.deepEqual(out.quote, { spawnSat: 30_000, monthlySat: 30_000 }, "the transcript's quote");
  assert.equal(out.keyFile, join(dataDir, 'investor.key'), 'the key file is in the data dir');
  assert.ok(out.keyCreated);
  assert.equal(statSync(out.keyFile).mode & 0o777, 0o600);

  // Poll until evaluated (or rejected, which fails below with its reasons), keeping every state seen.
  const { p, seen } = await pollUntil(a, out.id, ['evaluated', 'rejected', 'refunded']);
  assert.equal(p.state, 'evaluated', `states seen: ${seen.join(' -> ')}; evaluation: ${JSON.stringify(p.evaluation)}; history: ${JSON.stringify(p.history)}`);
  assert.equal(p.receivedSat, p.depositSat, 'the deposit arrived in full');
  const states = p.history.map((h) => h.state);
  for (const s of ['awaiting_deposit', 'funded', 'evaluating', 'evaluated']) assert.ok(states.includes(s), `history has ${s}: ${states.join(' -> ')}`);
  assert.ok(states.indexOf('funded') < states.indexOf('evaluated'), 'funded before evaluated');
  for (const h of p.history) assert.ok(h.reason.length > 0 && h.at.length > 0, `every transition has its time and reason: ${JSON.stringify(h)}`);

  const ev = p.evaluation;
  assert.ok(ev?.passed, `the evaluation passed: ${JSON.stringify(ev)}`);
  for (const c of ev.checks) assert.ok(c.passed, `check ${c.name} passed: ${c.detail}`);
  // Static checks, the replay of the transcript, and the perturbed runs: each listed.
  for (const kind of [/static|meta|host/i, /replay/i, /perturb|error|timeout|malformed|inflat/i]) {
    assert.ok(ev.checks.some((c) => kind.test(c.name)), `a check matching ${kind}: ${ev.checks.map((c) => c.name).join(', ')}`);
  }

  // The same in text: each check on a line of its own, and the history.
  const human = ok(await storj(['proposal', out.id, '--url', url]), 'proposal').stdout;
  assert.match(human, /^state\s+evaluated$/m);
  assert.match(human, new RegExp(`^evaluation\\s+passed \\(${ev.checks.length} of ${ev.checks.length} checks passed\\)$`, 'm'));
  for (const c of ev.checks) assert.ok(human.includes(`  pass  ${c.name}`), `${c.name} is listed:\n${human}`);
  assert.match(human, /^ {2}\S+ {2}funded /m);

  assert.equal(p.refund, undefined, 'nothing refunded');
  const list = lastJson<{ proposals: { id: string; state: string }[] }>(ok(await storj(['--json', 'proposals', '--url', url]), 'proposals'));
  assert.deepEqual(list.proposals.find((x) => x.id === out.id)?.state, 'evaluated');

  // A second proposal reuses the key file: the same investor.
  const again = lastJson<{ id: string; keyCreated: boolean; proposerKey: string; state: string }>(ok(await storj(['--json', '-d', dataDir, ...args]), 'propose again'));
  assert.equal(again.keyCreated, false);
  assert.equal(again.proposerKey, out.proposerKey);
  assert.notEqual(again.id, out.id);
  assert.equal(again.state, 'awaiting_deposit', 'without --pay nothing is paid');
});

test('a proposal that fails a check is rejected and refunded: `storj proposal` shows the failed check, its reason and the refund txid', async (t) => {
  const a = await startTestAgent(t);
  const dataDir = tempDir(t, 'storj-investor-e2e-');
  // The script may call only a port its transcript never used: the transcript's requests are to undeclared hosts.
  const args = ['--json', '-d', dataDir, 'propose', '--script', join(scripts, 'local-cloud.js'), '--transcript', join(scripts, 'local-cloud.transcript.json'), '--hosts', '127.0.0.1:9999'];
  const out = lastJson<{ id: string; depositSat: number; txid: string }>(ok(await storj([...args, '--investment', String(INVESTMENT), '--interest', '500', '--payout', PAYOUT, '--url', a.agent.url, '--pay']), 'propose --pay'));
  const { p, seen } = await pollUntil(a, out.id, ['refunded', 'evaluated'], true);
  assert.equal(p.state, 'refunded', `states seen: ${seen.join(' -> ')}; history: ${JSON.stringify(p.history)}`);
  const states = p.history.map((h) => h.state);
  assert.deepEqual(states.slice(-2), ['rejected', 'refunded'], states.join(' -> '));
  const failed = p.evaluation?.checks.filter((c) => !c.passed) ?? [];
  assert.ok(p.evaluation && !p.evaluation.passed && failed.length > 0, `a failed check: ${JSON.stringify(p.evaluation)}`);
  for (const c of failed) assert.ok(c.detail.length > 0, `the failed check ${c.name} says why`);
  assert.ok(failed.some((c) => c.detail.includes('127.0.0.1:8430')), `the undeclared host is named: ${JSON.stringify(failed)}`);
  assert.ok(p.refund, 'the refund is shown');
  assert.match(p.refund.txid, /^[0-9a-f]{64}$/);
  assert.ok(p.refund.amountSat > 0 && p.refund.amountSat < out.depositSat, `the deposit less the fee: ${p.refund.amountSat} of ${out.depositSat}`);
  // The refund is on chain (the devnet's Esplora), to the payout address, for the amount shown.
  const tx = (await (await fetch(`${a.devnet.url}/tx/${p.refund.txid}`)).json()) as { vout: { scriptpubkey_address?: string; value: number }[] };
  const refund = p.refund;
  assert.ok(tx.vout.some((o) => o.scriptpubkey_address === PAYOUT && o.value === refund.amountSat), JSON.stringify(tx.vout));

  const human = ok(await storj(['proposal', out.id, '--url', a.agent.url]), 'proposal').stdout;
  assert.match(human, /^state\s+refunded$/m);
  assert.match(human, /^evaluation\s+failed \(\d+ of \d+ checks passed\)$/m);
  for (const c of failed) assert.ok(human.includes(`  FAIL  ${c.name}: ${c.detail}`), `${c.name} is listed with its reason:\n${human}`);
  assert.match(human, new RegExp(`^refund\\s+${p.refund.amountSat} sat \\([0-9.]+ BTC\\) to the payout address, txid ${p.refund.txid}$`, 'm'));
  assert.match(human, /^ {2}\S+ {2}refunded +\S/m);
});
