// The family's pieces without a chain: the state machine's table, the ledger's accounts (idempotent credits,
// reversals, balances), wallet/'s credential sealer, host checks and the static evaluator on the local cloud's
// recorded transcript and on tampered copies of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/index.ts';
import { Accounts } from '../../src/ledger/index.ts';
import { canMove, STATES } from '../../src/family/states.ts';
import { evaluateStatically, type EvaluationInput } from '../../src/family/evaluation.ts';
import { isPlainHost } from '../../src/family/hosts.ts';
import { Wallet } from '../../wallet/index.ts';
import { isAgentError } from '../../src/errors/index.ts';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const root = join(import.meta.dirname, '..', '..');

test('the state machine allows the API\'s path and its two steps back, and nothing out of an exit', () => {
  const path = ['awaiting_deposit', 'funded', 'evaluating', 'evaluated', 'selected', 'spawning', 'testing', 'proxied', 'redirected', 'adult', 'terminated'] as const;
  for (let i = 0; i + 1 < path.length; i++) assert.ok(canMove(path[i]!, path[i + 1]!), `${path[i]} -> ${path[i + 1]}`);
  assert.ok(canMove('evaluating', 'rejected'));
  assert.ok(canMove('rejected', 'refunded'));
  assert.ok(canMove('funded', 'awaiting_deposit'), 'a reversed deposit before evaluation');
  assert.ok(canMove('evaluating', 'awaiting_deposit'));
  assert.ok(!canMove('evaluated', 'awaiting_deposit'), 'past evaluation a reversal does not take it back');
  assert.ok(!canMove('awaiting_deposit', 'evaluating'), 'no evaluation before funding');
  assert.ok(!canMove('rejected', 'evaluated'));
  assert.ok(canMove('awaiting_deposit', 'refunded'), 'a deposit short of its amount, past the timeout');
  assert.ok(!canMove('awaiting_deposit', 'terminated'));
  for (const s of STATES) {
    assert.ok(!canMove('refunded', s), `refunded -> ${s}`);
    assert.ok(!canMove('terminated', s), `terminated -> ${s}`);
  }
});

test('accounts: a credit is recorded once, a reversal undoes it once, and the balance is the sum of the entries', (t) => {
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  const accounts = new Accounts(db);
  const at = new Date(1_700_000_000_000);
  accounts.open('proposal:a', 'proposal', at);
  accounts.open('proposal:a', 'proposal', at); // a second open changes nothing
  assert.equal(accounts.balanceSat('proposal:a'), 0n);
  assert.equal(accounts.record('proposal:a', { kind: 'deposit', ref: 'tx:0/0', amountSat: 70_000n, at }), true);
  assert.equal(accounts.record('proposal:a', { kind: 'deposit', ref: 'tx:0/0', amountSat: 70_000n, at }), false, 'the same outpoint again');
  assert.equal(accounts.record('proposal:a', { kind: 'deposit', ref: 'tx:1/0', amountSat: 30_000n, at }), true);
  assert.equal(accounts.balanceSat('proposal:a'), 100_000n);
  assert.equal(accounts.reversalsOf('proposal:a', 'tx:0'), 0n);
  assert.equal(accounts.record('proposal:a', { kind: 'reversal', ref: 'tx:0/0', amountSat: -70_000n, at }), true);
  assert.equal(accounts.record('proposal:a', { kind: 'reversal', ref: 'tx:0/0', amountSat: -70_000n, at }), false);
  assert.equal(accounts.reversalsOf('proposal:a', 'tx:0'), 1n);
  assert.equal(accounts.reversalsOf('proposal:a', 'tx:1'), 0n, 'another outpoint');
  // The payment comes back: its second credit has a ref of its own.
  assert.equal(accounts.record('proposal:a', { kind: 'deposit', ref: 'tx:0/1', amountSat: 70_000n, at }), true);
  assert.equal(accounts.balanceSat('proposal:a'), 100_000n);
  assert.equal(accounts.record('proposal:a', { kind: 'refund', ref: 'refundtx', amountSat: -99_800n, at }), true);
  assert.equal(accounts.record('proposal:a', { kind: 'fee', ref: 'refundtx', amountSat: -200n, at }), true);
  assert.equal(accounts.balanceSat('proposal:a'), 0n);
  assert.deepEqual(accounts.entries('proposal:a').map((e) => e.kind), ['deposit', 'deposit', 'reversal', 'deposit', 'refund', 'fee']);
  assert.deepEqual(accounts.verify(), []);
  assert.throws(() => accounts.record('proposal:never-opened', { kind: 'deposit', ref: 'x', amountSat: 1n, at }), 'an entry needs its account');
});

test('credentials are sealed under a key only the wallet derives: they open with it and with no other', () => {
  const w = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'regtest' });
  const other = Wallet.fromMnemonic({ mnemonic: 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong', network: 'regtest' });
  const sealed = w.sealCredentials('hcloud-token-XYZ');
  assert.ok(!sealed.includes('hcloud-token-XYZ'));
  assert.notEqual(w.sealCredentials('hcloud-token-XYZ'), sealed, 'a fresh nonce each time');
  assert.equal(w.openCredentials(sealed), 'hcloud-token-XYZ');
  assert.throws(() => other.openCredentials(sealed), (e) => isAgentError(e, 'WALLET_BAD_ARGUMENT'));
  const bytes = Buffer.from(sealed.slice(3), 'base64');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
  assert.throws(() => w.openCredentials(`v1.${bytes.toString('base64')}`), (e) => isAgentError(e, 'WALLET_BAD_ARGUMENT'), 'altered at rest');
});

test('a plain host is a lowercase name or IPv4 address with an optional port, and nothing else', () => {
  for (const h of ['127.0.0.1:8430', 'api.hetzner.cloud', 'localhost', 'a-b.example:443']) assert.ok(isPlainHost(h), h);
  for (const h of ['https://api.example.com', 'API.example.com', '*.example.com', 'example.com/v1', 'user@example.com', '[::1]:80', 'example.com:0', 'example.com:99999', '1.2.3', '999.1.1.1', '', 'example.com:08']) assert.ok(!isPlainHost(h), h);
});

function localCloud(): EvaluationInput {
  return {
    id: 'p',
    provider: 'local-cloud',
    script: readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8'),
    hosts: ['127.0.0.1:8430'],
    transcript: JSON.parse(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8')) as unknown,
    quote: { spawnSat: 30_000n, monthlySat: 30_000n },
  };
}

test('the static evaluator passes the local cloud\'s proposal with every check listed', () => {
  const e = evaluateStatically(localCloud());
  assert.deepEqual(e.checks.map((c) => [c.name, c.passed]), [
    ['hosts', true], ['transcript-format', true], ['transcript-calls', true], ['transcript-hosts', true], ['quote-matches', true], ['payments-within-quote', true],
  ]);
  assert.equal(e.passed, true);
});

test('the static evaluator fails each tampered proposal on the check that concerns it', () => {
  const failing = (p: EvaluationInput) => evaluateStatically(p).checks.filter((c) => !c.passed).map((c) => c.name);
  const base = localCloud();
  const t = () => structuredClone(base.transcript) as { format: string; calls: Array<{ call: string; result: Record<string, unknown>; exchanges: Array<{ request: { url: string } }> }> };

  assert.deepEqual(failing({ ...base, hosts: ['127.0.0.1:9999'] }), ['transcript-hosts']);
  assert.deepEqual(failing({ ...base, quote: { spawnSat: 20_000n, monthlySat: 30_000n } }), ['quote-matches', 'payments-within-quote']);
  const inflated = t();
  const renew = inflated.calls.find((c) => c.call === 'renew')!;
  (renew.result.pay as Array<{ amountSat: number }>)[0]!.amountSat = 90_000;
  assert.deepEqual(failing({ ...base, transcript: inflated }), ['payments-within-quote']);
  const noRenew = t();
  noRenew.calls = noRenew.calls.filter((c) => c.call !== 'renew');
  assert.deepEqual(failing({ ...base, transcript: noRenew }), ['transcript-calls']);
  const elsewhere = t();
  elsewhere.calls[0]!.exchanges[0]!.request.url = 'http://evil.example/v1/plans';
  assert.deepEqual(failing({ ...base, transcript: elsewhere }), ['transcript-hosts']);
  const wrongFormat = t();
  wrongFormat.format = 'storj-transcript/0';
  const e = evaluateStatically({ ...base, transcript: wrongFormat });
  assert.equal(e.passed, false);
  assert.equal(e.checks.find((c) => c.name === 'transcript-format')?.passed, false);
});
