// Spend policy: per-transaction and rolling 24-hour caps with an injected clock; send() around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction } from 'bitcoinjs-lib';
import { AgentError } from '../../src/errors/index.ts';
import { MemorySpendLog, SpendPolicy, Wallet } from '../../wallet/index.ts';
import type { WalletUtxo } from '../../wallet/index.ts';
import { rejectsWith } from '../helpers/errors.ts';

const HOUR = 60 * 60 * 1000;
const T0 = new Date('2024-06-01T00:00:00.000Z').getTime();

function clock(start = T0): { now: () => Date; set: (ms: number) => void } {
  let t = start;
  return { now: () => new Date(t), set: (ms) => { t = ms; } };
}

test('per-transaction cap: at the cap is allowed, one sat above is refused and names the cap', async () => {
  const c = clock();
  const p = new SpendPolicy({ perTxMaxSat: 50_000n, perDayMaxSat: 1_000_000n, log: new MemorySpendLog(), now: c.now });
  p.check(50_000n);
  const err = await rejectsWith(() => p.check(50_001n), 'WALLET_POLICY_REFUSED');
  assert.match(err.message, /per-transaction cap/);
  assert.equal(err.details?.cap, 'perTx');
});

test('per-day cap is a rolling 24 hours', async () => {
  const c = clock();
  const log = new MemorySpendLog();
  const p = new SpendPolicy({ perTxMaxSat: 100_000n, perDayMaxSat: 100_000n, log, now: c.now });
  p.record('a'.repeat(64), 60_000n); // at T0
  c.set(T0 + 1 * HOUR);
  p.record('b'.repeat(64), 30_000n);
  c.set(T0 + 2 * HOUR);
  assert.equal(p.remainingTodaySat(), 10_000n);
  p.check(10_000n);
  const err = await rejectsWith(() => p.check(10_001n), 'WALLET_POLICY_REFUSED');
  assert.match(err.message, /per-day cap/);
  assert.equal(err.details?.cap, 'perDay');
  // a calendar day would reset at midnight; the rolling window does not
  c.set(T0 + 23 * HOUR);
  await rejectsWith(() => p.check(10_001n), 'WALLET_POLICY_REFUSED');
  // exactly 24 h after the first spend it still counts (the window is inclusive) ...
  c.set(T0 + 24 * HOUR);
  await rejectsWith(() => p.check(10_001n), 'WALLET_POLICY_REFUSED');
  // ... and one millisecond later it has left the window: 30k is still counted
  c.set(T0 + 24 * HOUR + 1);
  p.check(70_000n);
  await rejectsWith(() => p.check(70_001n), 'WALLET_POLICY_REFUSED');
  c.set(T0 + 25 * HOUR + 1);
  assert.equal(p.remainingTodaySat(), 100_000n);
  assert.equal(log.entries().length, 2);
  assert.deepEqual(log.entries()[0], { txid: 'a'.repeat(64), amountSat: 60_000n, at: new Date(T0) });
});

test('bad policy arguments are refused', async () => {
  const c = clock();
  await rejectsWith(() => new SpendPolicy({ perTxMaxSat: -1n, perDayMaxSat: 1n, log: new MemorySpendLog(), now: c.now }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => new SpendPolicy({ perTxMaxSat: 1n, perDayMaxSat: 5 as unknown as bigint, log: new MemorySpendLog(), now: c.now }), 'WALLET_BAD_ARGUMENT');
  const p = new SpendPolicy({ perTxMaxSat: 1n, perDayMaxSat: 1n, log: new MemorySpendLog(), now: c.now });
  await rejectsWith(() => p.check(-5n), 'WALLET_BAD_ARGUMENT');
});

// send(): the policy around a real build and sign, with a fake broadcast.
const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const w = Wallet.fromMnemonic({ mnemonic: ABANDON, network: 'regtest' });
const TO = Wallet.fromMnemonic({ mnemonic: 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong', network: 'regtest' }).deriveAddress(0, 0).address;
const UTXOS: WalletUtxo[] = [{ txid: '77'.repeat(32), vout: 1, valueSat: 200_000n, chain: 0, index: 9 }];

function fakeBroadcast(answer: (hex: string) => Promise<string>): { fn: (hex: string) => Promise<string>; calls: string[] } {
  const calls: string[] = [];
  return { calls, fn: (hex) => { calls.push(hex); return answer(hex); } };
}
const honest = (hex: string): Promise<string> => Promise.resolve(Transaction.fromHex(hex).getId());

test('send: checks the policy with amount + fee, broadcasts once, records the spend', async () => {
  const c = clock();
  const log = new MemorySpendLog();
  const policy = new SpendPolicy({ perTxMaxSat: 100_000n, perDayMaxSat: 150_000n, log, now: c.now });
  const b = fakeBroadcast(honest);
  const r = await w.send({ to: TO, amountSat: 50_000n, feeRateSatPerKvb: 2_000n, utxos: UTXOS, changeIndex: 3, broadcast: b.fn, policy });
  assert.equal(b.calls.length, 1);
  assert.equal(b.calls[0], r.hex);
  const tx = Transaction.fromHex(r.hex);
  assert.equal(tx.getId(), r.txid);
  assert.equal(tx.outs[0]!.value, 50_000n);
  assert.equal(r.changeSat, 200_000n - 50_000n - r.feeSat);
  assert.deepEqual(log.entries(), [{ txid: r.txid, amountSat: 50_000n + r.feeSat, at: new Date(T0) }]);
  // the fee counts toward the cap: 50k + fee has been spent, so another 100k does not fit in 150k
  await rejectsWith(() => w.send({ to: TO, amountSat: 100_000n - r.feeSat, feeRateSatPerKvb: 2_000n, utxos: UTXOS, changeIndex: 4, broadcast: b.fn, policy }), 'WALLET_POLICY_REFUSED');
  assert.equal(b.calls.length, 1);
});

test('send: a refused payment is never broadcast nor recorded', async () => {
  const c = clock();
  const log = new MemorySpendLog();
  const policy = new SpendPolicy({ perTxMaxSat: 50_000n, perDayMaxSat: 1_000_000n, log, now: c.now });
  const b = fakeBroadcast(honest);
  // 50k exactly plus any fee is over the 50k per-transaction cap
  const err = await rejectsWith(() => w.send({ to: TO, amountSat: 50_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: b.fn, policy }), 'WALLET_POLICY_REFUSED');
  assert.match(err.message, /per-transaction/);
  assert.equal(b.calls.length, 0);
  assert.equal(log.entries().length, 0);
});

test('send: a definite rejection is not retried and not recorded; an unknown failure is not retried but is recorded', async () => {
  const c = clock();
  const log = new MemorySpendLog();
  const policy = new SpendPolicy({ perTxMaxSat: 1_000_000n, perDayMaxSat: 1_000_000n, log, now: c.now });
  const rejected = fakeBroadcast(() => Promise.reject(new AgentError('CHAIN_TX_REJECTED', 'bad-txns-inputs-missingorspent')));
  await rejectsWith(() => w.send({ to: TO, amountSat: 10_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: rejected.fn, policy }), 'CHAIN_TX_REJECTED');
  assert.equal(rejected.calls.length, 1);
  assert.equal(log.entries().length, 0);
  const timeout = fakeBroadcast(() => Promise.reject(new AgentError('CHAIN_UNAVAILABLE', 'timeout')));
  await rejectsWith(() => w.send({ to: TO, amountSat: 10_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: timeout.fn, policy }), 'CHAIN_UNAVAILABLE');
  assert.equal(timeout.calls.length, 1);
  assert.equal(log.entries().length, 1, 'it may have reached the network, so it counts toward the caps');
  assert.equal(log.entries()[0]!.txid, Transaction.fromHex(timeout.calls[0]!).getId());
});

test('send: a backend that answers another txid is CHAIN_BAD_RESPONSE, and the spend is still recorded', async () => {
  const c = clock();
  const log = new MemorySpendLog();
  const policy = new SpendPolicy({ perTxMaxSat: 1_000_000n, perDayMaxSat: 1_000_000n, log, now: c.now });
  const liar = fakeBroadcast(() => Promise.resolve('00'.repeat(32)));
  const err = await rejectsWith(() => w.send({ to: TO, amountSat: 10_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: liar.fn, policy }), 'CHAIN_BAD_RESPONSE');
  assert.equal(liar.calls.length, 1);
  assert.equal(log.entries().length, 1);
  assert.equal(err.details?.txid, Transaction.fromHex(liar.calls[0]!).getId());
  // an upper-case but equal txid is accepted
  const shouty = fakeBroadcast((hex) => Promise.resolve(Transaction.fromHex(hex).getId().toUpperCase()));
  const r = await w.send({ to: TO, amountSat: 10_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: shouty.fn });
  assert.equal(r.txid, Transaction.fromHex(r.hex).getId());
});

test('send without a policy still validates: dust and bad addresses never reach broadcast', async () => {
  const b = fakeBroadcast(honest);
  await rejectsWith(() => w.send({ to: TO, amountSat: 100n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: b.fn }), 'WALLET_DUST');
  await rejectsWith(() => w.send({ to: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', amountSat: 10_000n, feeRateSatPerKvb: 1_000n, utxos: UTXOS, changeIndex: 0, broadcast: b.fn }), 'WALLET_BAD_ADDRESS');
  assert.equal(b.calls.length, 0);
});
