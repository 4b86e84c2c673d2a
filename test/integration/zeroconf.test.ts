// Zero-conf by payment, not by output, through the real agent's HTTP API on a real regtest chain
// (docs/payments.md): a quote paid in unconfirmed pieces waits for its confirmations, a double spend within the
// cap loses at most the cap, replaceable payments and children of unconfirmed parents wait, and the agent-wide
// cap holds across files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { quote, runWatcher, type Quote } from '../helpers/paid.ts';

interface UploadStatus {
  state: string;
  amountSat: number;
  receivedSat: number;
  confirmedSat: number;
}
interface FileInfo {
  state: string;
  balanceMsat: string;
}

// Storage priced so that a 10 MB file's quote is tens of thousands of sat, the size of the cap (50,000 by default).
const PRICEY = { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' };
const SIZE = 10_000_000;

async function pay(a: TestAgent, address: string, amountSat: number): Promise<string> {
  const r = await a.api<{ txid: string }>('POST', '/v1/dev/pay', { address, amountSat });
  assert.equal(r.status, 200, r.text);
  return r.body.txid;
}

async function mine(a: TestAgent): Promise<void> {
  assert.equal((await a.api('POST', '/v1/dev/mine', { blocks: 1 })).status, 200);
  await runWatcher(a.api);
}

async function status(a: TestAgent, q: Quote): Promise<UploadStatus> {
  return (await a.api<UploadStatus>('GET', `/v1/uploads/${q.id}`)).body;
}

function put(a: TestAgent, q: Quote, bytes: Uint8Array) {
  return a.api<{ fileId: string; error?: { code: string } }>('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
}

test('a quote paid in unconfirmed pieces, each within the cap but over it together, is not paid until they confirm', async (t) => {
  const a = await startTestAgent(t, { env: PRICEY });
  const cap = a.config.zeroConfMaxSat;
  const q = await quote(a.api, { size: SIZE, days: 4 });
  const amount = BigInt(q.amountSat);
  assert.ok(amount > cap, `the quote (${amount} sat) must be above the cap (${cap} sat) for this test`);
  // As few pieces as can each stay within the cap; any two of them are over it.
  const pieces = (amount + cap - 1n) / cap;
  const piece = (amount + pieces - 1n) / pieces;
  assert.ok(pieces >= 2n && piece <= cap && 2n * piece > cap);
  for (let i = 0n; i < pieces; i++) await pay(a, q.address, Number(piece));
  await runWatcher(a.api);

  const before = await status(a, q);
  assert.equal(before.state, 'awaiting_payment');
  assert.equal(before.receivedSat, Number(piece * pieces));
  assert.ok(before.receivedSat >= q.amountSat, 'everything has arrived, unconfirmed');
  assert.equal(before.confirmedSat, 0);
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), piece, 'one piece counts unconfirmed: no more than the cap');
  const early = await put(a, q, new Uint8Array(SIZE));
  assert.equal(early.status, 402);
  assert.equal(early.body.error?.code, 'PAYMENT_REQUIRED');

  await mine(a);
  const after = await status(a, q);
  assert.equal(after.state, 'paid');
  assert.equal(after.confirmedSat, Number(piece * pieces));
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), 0n);
  assert.equal((await put(a, q, new Uint8Array(SIZE))).status, 201);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('a double spend within the cap loses at most the cap: the reversal is recorded and the balances still add up', async (t) => {
  const a = await startTestAgent(t, { env: PRICEY });
  const capMsat = a.config.zeroConfMaxSat * 1000n;
  const q = await quote(a.api, { size: SIZE });
  assert.ok(BigInt(q.amountSat) <= a.config.zeroConfMaxSat, 'the quote fits the cap, so it counts unconfirmed');
  const txid = await pay(a, q.address, q.amountSat);
  // Seen first, so counted first: two payments seen in the same pass are admitted in txid order, which is random.
  await runWatcher(a.api);
  // A top-up as large as the cap, also unconfirmed: on its own within the cap, together with the payment over it.
  const topUp = await pay(a, q.address, Number(a.config.zeroConfMaxSat));
  await runWatcher(a.api);
  const paid = await status(a, q);
  assert.equal(paid.state, 'paid');
  assert.equal(paid.confirmedSat, 0);
  assert.equal(paid.receivedSat, q.amountSat + Number(a.config.zeroConfMaxSat));
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), BigInt(q.amountSat), 'the top-up waits: the file may not go over the cap');

  // The double-spender takes everything the quote bought: the upload, its download, and its day of storage.
  const bytes = new Uint8Array(SIZE).fill(9);
  const up = await put(a, q, bytes);
  assert.equal(up.status, 201, up.text);
  const { fileId } = up.body;
  const got = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.equal(got.status, 200);
  assert.equal((await got.arrayBuffer()).byteLength, SIZE);
  assert.equal((await a.api('POST', '/v1/dev/advance', { seconds: 86_400 })).status, 200);
  assert.equal((await a.api<{ outcome: string }>('POST', '/v1/dev/jobs/sweep')).body.outcome, 'ok');
  const left = BigInt((await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body.balanceMsat);
  assert.ok(left < BigInt(q.amountSat) * 1000n, 'storage and egress were charged');

  // Conflicting spends of both payments' inputs are mined: neither can ever confirm.
  await a.devnet.reorg({ depth: 0, doubleSpend: [txid, topUp] });
  await runWatcher(a.api);
  // The credit and its reversal, one each, for the same outpoint; the top-up was never credited, so nothing to undo.
  const entries = a.agent.host.ledger.entries(fileId);
  const credits = entries.filter((e) => e.kind === 'payment');
  const reversals = entries.filter((e) => e.kind === 'reversal');
  assert.deepEqual(credits.map((e) => e.amountMsat), [BigInt(q.amountSat) * 1000n]);
  assert.deepEqual(reversals.map((e) => e.amountMsat), [-BigInt(q.amountSat) * 1000n]);
  assert.equal(reversals[0]?.ref, credits[0]?.ref);
  assert.ok(credits[0]?.ref.startsWith(`${txid}:`));
  const file = (await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body;
  const balance = BigInt(file.balanceMsat);
  assert.ok(balance < 0n, 'the agent lost what the double-spender used');
  assert.ok(-balance <= capMsat, `the loss (${-balance} msat) is at most the cap (${capMsat} msat)`);
  assert.equal(balance, left - BigInt(q.amountSat) * 1000n);
  assert.equal(file.state, 'frozen');
  assert.equal((await fetch(`${a.agent.url}/f/${fileId}`)).status, 402, 'and can take no more');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), 0n);
  const after = await status(a, q);
  assert.equal(after.receivedSat, 0);
});

test('a payment that signals replacement, or spends an unconfirmed parent, is not paid until it confirms', async (t) => {
  const a = await startTestAgent(t, { env: PRICEY });
  const replaceable = await quote(a.api, { size: SIZE });
  const child = await quote(a.api, { size: SIZE });
  const plain = await quote(a.api, { size: SIZE });
  await a.devnet.pay(replaceable.address, BigInt(replaceable.amountSat), { rbf: true });
  await a.devnet.pay(child.address, BigInt(child.amountSat), { unconfirmedParent: true });
  await pay(a, plain.address, plain.amountSat);
  await runWatcher(a.api);

  // The same amount, paid plainly, counts at once: what holds the others back is how they were paid.
  assert.equal((await status(a, plain)).state, 'paid');
  for (const q of [replaceable, child]) {
    const s = await status(a, q);
    assert.deepEqual([s.state, s.receivedSat, s.confirmedSat], ['awaiting_payment', q.amountSat, 0]);
    assert.equal((await put(a, q, new Uint8Array(SIZE))).status, 402);
  }
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), BigInt(plain.amountSat));

  await mine(a);
  for (const q of [replaceable, child]) assert.equal((await status(a, q)).state, 'paid');
});

test('the agent-wide cap: two files, each within its own cap, together over the total: the second waits for its confirmation', async (t) => {
  const a = await startTestAgent(t, { env: { ...PRICEY, STORJ_ZERO_CONF_TOTAL_MAX_SAT: '50000' } });
  const q1 = await quote(a.api, { size: SIZE });
  const q2 = await quote(a.api, { size: SIZE });
  const total = a.config.zeroConfTotalMaxSat;
  assert.ok(BigInt(q1.amountSat) <= a.config.zeroConfMaxSat && BigInt(q2.amountSat) <= a.config.zeroConfMaxSat, 'each fits the per-file cap');
  assert.ok(BigInt(q1.amountSat + q2.amountSat) > total, 'together they are over the total');

  await pay(a, q1.address, q1.amountSat);
  await runWatcher(a.api);
  await pay(a, q2.address, q2.amountSat);
  await runWatcher(a.api);
  assert.equal((await status(a, q1)).state, 'paid');
  const waiting = await status(a, q2);
  assert.deepEqual([waiting.state, waiting.receivedSat, waiting.confirmedSat], ['awaiting_payment', q2.amountSat, 0]);
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), BigInt(q1.amountSat));

  await mine(a);
  assert.equal((await status(a, q2)).state, 'paid');
  assert.equal(a.agent.watcher.unconfirmedCountedSat(), 0n);
});
