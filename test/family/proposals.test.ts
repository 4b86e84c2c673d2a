// The investor's path on a real regtest chain (README.md's investor steps): a signed proposal gets a deposit
// address, the deposit counts once confirmed and funds it, the static evaluation passes or rejects it, and a
// rejected or never-selected proposal is refunded on chain to its payout address. Each test runs a real devnet and
// a real agent over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAgent } from '../helpers/agent.ts';
import { payAndConfirm } from '../helpers/paid.ts';
import { Wallet } from '../../wallet/index.ts';
import { Family, staticEvaluator } from '../../src/family/index.ts';
import { Accounts } from '../../src/ledger/index.ts';
import { isAgentError } from '../../src/errors/index.ts';

import { fund, get, INVESTOR, job, proposal, propose, received, SECRET, type View } from './helpers.ts';

test('a proposal is funded by its confirmed deposit and passes evaluation, static and in the sandbox, with every check listed', async (t) => {
  const a = await startTestAgent(t);
  const p = await propose(a, proposal(t));
  assert.equal(p.state, 'awaiting_deposit');
  assert.equal(p.depositSat, 100_000);
  assert.match(p.bip21, new RegExp(`^bitcoin:${p.depositAddress}\\?amount=0\\.001`));
  await fund(a, p);
  let v = await get(a, p.id);
  // The agent's own schedule runs the evaluation every 10 s: on a slow machine it may have the proposal already.
  assert.ok(['funded', 'evaluating', 'evaluated'].includes(v.state), JSON.stringify(v));
  assert.equal(v.receivedSat, 100_000);
  await job(a.api, 'proposals.evaluate');
  v = await get(a, p.id);
  assert.equal(v.state, 'evaluated', JSON.stringify(v));
  assert.equal(v.evaluation?.passed, true);
  const names = v.evaluation?.checks.map((c) => c.name) ?? [];
  // The static checks first, then the script's run in the sandbox: its meta, the replay of each recorded call, and
  // every call again under each perturbation.
  assert.deepEqual(names.slice(0, 6), ['hosts', 'transcript-format', 'transcript-calls', 'transcript-hosts', 'quote-matches', 'payments-within-quote']);
  for (const n of ['meta', 'declared hosts', 'replay create (2)', 'replay renew (5)', 'quote', 'payments', 'under provider errors', 'under timeouts', 'under malformed JSON', 'under inflated prices']) {
    assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  }
  assert.deepEqual(v.history?.map((h) => h.state), ['awaiting_deposit', 'funded', 'evaluating', 'evaluated']);
  assert.ok(v.history?.every((h) => h.reason.length > 0));
  const list = await a.api<{ proposals: View[] }>('GET', '/v1/proposals');
  assert.equal(list.body.proposals.length, 1);
  assert.equal(list.body.proposals[0]?.history, undefined);
  assert.ok(!list.text.includes(SECRET));
  // The credentials are sealed at rest: the database holds no plain copy.
  const row = a.agent.db.prepare<[string], { c: string }>('SELECT credentials_sealed AS c FROM proposals WHERE id = ?').get(p.id);
  assert.ok(row && !row.c.includes(SECRET));
  assert.equal(a.agent.family.credentialsFor(p.id), SECRET);
  // Run again: nothing changes (idempotent).
  await job(a.api, 'proposals.evaluate');
  assert.equal((await get(a, p.id)).history?.length, 4);
});

test('a bad signature, a wrong-network payout, too small an investment, an oversized script and a bad host get 400 with their codes', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_PROPOSAL_SCRIPT_MAX_BYTES: '20000' } });
  const code = async (body: Record<string, unknown>) => {
    const r = await a.api<{ error: { code: string } }>('POST', '/v1/proposals', body);
    assert.equal(r.status, 400, r.text);
    assert.ok(!r.text.includes(SECRET));
    return r.body.error.code;
  };
  const good = proposal(t);
  assert.equal(await code({ ...good, investmentSat: 100_001 }), 'PROPOSAL_BAD_SIGNATURE', 'a field changed after signing');
  assert.equal(await code(proposal(t, { payoutAddress: Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'mainnet' }).deriveAddress(0, 0).address })), 'PROPOSAL_BAD_PAYOUT');
  assert.equal(await code(proposal(t, { payoutAddress: 'bcrt1qnotanaddress' })), 'PROPOSAL_BAD_PAYOUT');
  assert.equal(await code(proposal(t, { investmentSat: 59_999 })), 'PROPOSAL_INVESTMENT_TOO_LOW');
  assert.equal(await code(proposal(t, { script: 'x'.repeat(20_001) })), 'PROPOSAL_SCRIPT_TOO_LARGE');
  assert.equal(await code(proposal(t, { hosts: ['https://127.0.0.1:8430'] })), 'PROPOSAL_BAD_HOST');
  assert.equal(await code({ ...good, extra: 1 }), 'BAD_REQUEST', 'unknown fields are rejected');
  // Within the route's own limit, above the server's 64 KiB: accepted.
  const big = await a.api('POST', '/v1/proposals', proposal(t, { script: `// ${'y'.repeat(19_000)}\n`, transcript: { ...(good.transcript as object), pad: 'z'.repeat(70_000) } }));
  assert.equal(big.status, 201, big.text);
  assert.equal((await a.api('GET', '/v1/proposals/nope')).status, 404);
});

test('a rejected proposal is refunded on chain to its payout address, less the fee, once', async (t) => {
  const a = await startTestAgent(t);
  // The transcript quotes 30000 a month; a proposal that says otherwise fails quote-matches.
  const p = await propose(a, proposal(t, { quote: { spawnSat: 30_000, monthlySat: 20_000 } }, 1));
  const payout = INVESTOR.deriveAddress(0, 1).address;
  await fund(a, p);
  await job(a.api, 'proposals.evaluate');
  let v = await get(a, p.id);
  assert.equal(v.state, 'rejected');
  assert.match(v.history?.at(-1)?.reason ?? '', /quote-matches/);
  // The deposit is the investor's: the agent's own payments never spend it (this wallet holds nothing else).
  await assert.rejects(a.agent.treasury.send(payout, 50_000n), (e) => isAgentError(e, 'WALLET_INSUFFICIENT_FUNDS'));
  await job(a.api, 'proposals.refund');
  v = await get(a, p.id);
  assert.equal(v.state, 'refunded', JSON.stringify(v));
  assert.ok(v.refund && v.refund.amountSat > 99_000 && v.refund.amountSat < 100_000, JSON.stringify(v.refund));
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, payout), BigInt(v.refund.amountSat));
  const status = await a.agent.chain.getTxStatus(v.refund.txid);
  assert.equal(status.confirmed, true);
  // The account paid out what it held: the refund and its fee, down to zero.
  const accounts = new Accounts(a.agent.db);
  assert.equal(accounts.balanceSat(`proposal:${p.id}`), 0n);
  assert.deepEqual(accounts.entries(`proposal:${p.id}`).map((e) => [e.kind, e.amountSat]), [['deposit', 100_000n], ['refund', -BigInt(v.refund.amountSat)], ['fee', BigInt(v.refund.amountSat) - 100_000n]]);
  assert.deepEqual(accounts.verify(), []);
  // Again: no second refund.
  await job(a.api, 'watcher');
  await job(a.api, 'proposals.refund');
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, payout), BigInt(v.refund.amountSat));
  assert.equal((await get(a, p.id)).history?.filter((h) => h.state === 'refunded').length, 1);
});

test('a funded proposal not selected within the timeout is refunded after the clock moves on', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_PROPOSAL_SELECT_TIMEOUT_SECONDS: '3600' } });
  const p = await propose(a, proposal(t, {}, 2));
  await fund(a, p);
  await job(a.api, 'proposals.evaluate');
  assert.equal((await get(a, p.id)).state, 'evaluated');
  await job(a.api, 'proposals.refund');
  assert.equal((await get(a, p.id)).state, 'evaluated', 'not yet due');
  await a.api('POST', '/v1/dev/advance', { seconds: 3601 });
  await job(a.api, 'proposals.refund');
  const v = await get(a, p.id);
  assert.equal(v.state, 'refunded', JSON.stringify(v));
  assert.match(v.history?.at(-1)?.reason ?? '', /not selected within 3600 s/);
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, INVESTOR.deriveAddress(0, 2).address), BigInt(v.refund?.amountSat ?? -1));
});

test('a refund interrupted between its recording and its broadcast is broadcast again, the same transaction, once', async (t) => {
  const a = await startTestAgent(t);
  const p = await propose(a, proposal(t, { quote: { spawnSat: 30_000, monthlySat: 20_000 } }, 3));
  const payout = INVESTOR.deriveAddress(0, 3).address;
  await fund(a, p);
  await job(a.api, 'proposals.evaluate');
  assert.equal((await get(a, p.id)).state, 'rejected');
  // A second family over the same database whose process "dies" right after recording the transaction: the state a
  // kill -9 between the record and the broadcast leaves behind.
  const { agent } = a;
  let recordedTxid = '';
  const dying = new Family({
    db: agent.db, now: () => agent.clock.now(), network: 'regtest', scriptMaxBytes: 1, selectTimeoutSeconds: 86_400,
    newAddress: () => assert.fail('no new proposal'), seal: (s) => s, open: (s) => s, evaluate: staticEvaluator,
    payBack: (opts) => agent.treasury.payBack({ ...opts, beforeBroadcast: (tx) => {
      opts.beforeBroadcast(tx);
      recordedTxid = tx.txid;
      throw new Error('killed before the broadcast');
    } }),
    rebroadcast: () => assert.fail('nothing pending yet'),
  });
  const refundJob = dying.jobs().find((j) => j.name === 'proposals.refund')!;
  await assert.rejects(refundJob.run({ now: agent.clock.now(), signal: AbortSignal.timeout(60_000) }), /killed before the broadcast/);
  assert.match(recordedTxid, /^[0-9a-f]{64}$/);
  assert.equal((await get(a, p.id)).state, 'rejected');
  await assert.rejects(agent.chain.getTxStatus(recordedTxid), 'not broadcast');
  // The agent's own job finds it pending and broadcasts that same transaction.
  await job(a.api, 'proposals.refund');
  const v = await get(a, p.id);
  assert.equal(v.state, 'refunded');
  assert.equal(v.refund?.txid, recordedTxid);
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, payout), BigInt(v.refund.amountSat));
  await job(a.api, 'proposals.refund');
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, payout), BigInt(v.refund.amountSat), 'one refund on chain');
});

test('a deposit double-spent in a reorg takes a funded proposal back to awaiting_deposit, with the reason', async (t) => {
  const a = await startTestAgent(t);
  const p = await propose(a, proposal(t, {}, 4));
  const r = await a.api<{ txid: string }>('POST', '/v1/dev/pay', { address: p.depositAddress, amountSat: p.depositSat });
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  await job(a.api, 'watcher');
  assert.equal((await get(a, p.id)).state, 'funded');
  await a.devnet.reorg({ depth: 1, doubleSpend: [r.body.txid] });
  await job(a.api, 'watcher');
  const v = await get(a, p.id);
  assert.equal(v.state, 'awaiting_deposit');
  assert.equal(v.receivedSat, 0);
  assert.match(v.history?.at(-1)?.reason ?? '', new RegExp(`deposit ${r.body.txid}:\\d+ \\(100000 sat\\) left the chain`));
  // Nothing to evaluate now, and nothing to refund.
  await job(a.api, 'proposals.evaluate');
  await job(a.api, 'proposals.refund');
  assert.equal((await get(a, p.id)).state, 'awaiting_deposit');
});

test('a deposit short of its amount is refunded once the timeout has passed since the proposal', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_PROPOSAL_SELECT_TIMEOUT_SECONDS: '3600' } });
  const p = await propose(a, proposal(t, {}, 5));
  await payAndConfirm(a.api, [{ address: p.depositAddress, amountSat: 40_000 }]);
  let v = await get(a, p.id);
  assert.equal(v.state, 'awaiting_deposit');
  assert.equal(v.receivedSat, 40_000);
  await job(a.api, 'proposals.refund');
  assert.equal((await get(a, p.id)).state, 'awaiting_deposit', 'not yet due');
  await a.api('POST', '/v1/dev/advance', { seconds: 3601 });
  await job(a.api, 'proposals.refund');
  v = await get(a, p.id);
  assert.equal(v.state, 'refunded', JSON.stringify(v));
  assert.match(v.history?.at(-1)?.reason ?? '', /did not reach 100000 sat/);
  assert.ok(v.refund && v.refund.amountSat > 39_000 && v.refund.amountSat < 40_000);
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, INVESTOR.deriveAddress(0, 5).address), BigInt(v.refund.amountSat));
});

test('a proposal left evaluating by an interruption is evaluated again by the next run', async (t) => {
  const a = await startTestAgent(t);
  const p = await propose(a, proposal(t, {}, 6));
  await fund(a, p);
  // A second family over the same database whose evaluation never finishes: the state an evaluation cut short by
  // a kill -9 leaves behind.
  const { agent } = a;
  const dying = new Family({
    db: agent.db, now: () => agent.clock.now(), network: 'regtest', scriptMaxBytes: 1, selectTimeoutSeconds: 86_400,
    newAddress: () => assert.fail('no new proposal'), seal: (s) => s, open: (s) => s,
    evaluate: () => Promise.reject(new Error('killed mid-evaluation')),
    payBack: () => assert.fail('no refund'), rebroadcast: () => assert.fail('no refund'),
  });
  await assert.rejects(dying.jobs().find((j) => j.name === 'proposals.evaluate')!.run({ now: agent.clock.now(), signal: AbortSignal.timeout(60_000) }), /killed mid-evaluation/);
  assert.equal((await get(a, p.id)).state, 'evaluating');
  await job(a.api, 'proposals.evaluate');
  const v = await get(a, p.id);
  assert.equal(v.state, 'evaluated');
  assert.deepEqual(v.history?.map((h) => h.state), ['awaiting_deposit', 'funded', 'evaluating', 'evaluated']);
});

test('money paid to a proposal after its refund goes back too, in a refund of its own', async (t) => {
  const a = await startTestAgent(t);
  const p = await propose(a, proposal(t, { quote: { spawnSat: 30_000, monthlySat: 20_000 } }, 8));
  const payout = INVESTOR.deriveAddress(0, 8).address;
  await fund(a, p);
  await job(a.api, 'proposals.evaluate');
  await job(a.api, 'proposals.refund');
  const first = (await get(a, p.id)).refund!;
  // The investor pays again, not knowing: counted once confirmed, then sent back.
  await payAndConfirm(a.api, [{ address: p.depositAddress, amountSat: 20_000 }]);
  await job(a.api, 'proposals.refund');
  const v = await get(a, p.id);
  assert.equal(v.state, 'refunded');
  assert.deepEqual(v.refund, first, 'the proposal shows its refund; the later one is in its history');
  const refunds = v.history?.filter((h) => h.state === 'refunded') ?? [];
  assert.equal(refunds.length, 2);
  assert.match(refunds[1]?.reason ?? '', /^paid after the refund: 1\d{4} sat sent back in [0-9a-f]{64}/);
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  await job(a.api, 'watcher');
  const back = await received(a, payout);
  assert.ok(back > BigInt(first.amountSat) + 19_000n && back < BigInt(first.amountSat) + 20_000n, `${back}`);
  assert.equal(new Accounts(a.agent.db).balanceSat(`proposal:${p.id}`), 0n);
  // Nothing more is due: another run sends nothing.
  await job(a.api, 'proposals.refund');
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal(await received(a, payout), back);
});
