// The agent's wallet on a real regtest chain (bcoin): it receives from the miner, pays another address with
// change, and bcoin accepts and mines the transaction; a transaction with a bad signature is refused with a
// clear error.
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Transaction } from 'bitcoinjs-lib';
import { openAgentDb } from '../../src/agent/modules.ts';
import { EsploraClient } from '../../src/chain/index.ts';
import { Treasury } from '../../src/treasury/index.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { startDevnet, tempDir, TEST_KDF } from '../helpers/agent.ts';
import { paidQuote } from '../helpers/paid.ts';

async function setup(t: { after: (fn: () => unknown) => void }) {
  const devnet = await startDevnet(t);
  const dir = tempDir(t);
  const { wallet } = await Wallet.create({ dir: `${dir}/wallet`, passphrase: 'pw for the test', network: 'regtest', kdf: TEST_KDF });
  const db = openAgentDb(`${dir}/agent.db`);
  t.after(() => db.close());
  const chain = new EsploraClient({ baseUrl: devnet.url });
  const treasury = new Treasury({ db, wallet, chain, perTxMaxSat: 10_000_000n, perDayMaxSat: 20_000_000n });
  return { devnet, wallet, db, chain, treasury };
}

test('the wallet receives from the miner, pays another address with change, and bcoin mines it', async (t) => {
  const { devnet, chain, treasury } = await setup(t);
  const receive = treasury.newAddress('receive');
  const fundTxid = await devnet.pay(receive.address, 1_000_000n);
  let balance = await treasury.balance();
  assert.equal(balance.unconfirmedSat, 1_000_000n);
  await devnet.mine(1);
  balance = await treasury.balance();
  assert.equal(balance.confirmedSat, 1_000_000n);
  assert.equal(balance.utxos[0]?.txid, fundTxid);

  // Someone else's address: the devnet faucet's.
  const payee = devnet.faucetAddress;
  const sent = await treasury.send(payee, 250_000n, { feeRateSatPerKvb: 2_000n });
  assert.ok(sent.feeSat > 0n && sent.feeSat < 1_000n, `a plausible fee: ${sent.feeSat}`);
  assert.equal(sent.changeSat, 1_000_000n - 250_000n - sent.feeSat);

  // bcoin accepted it into its mempool and mines it.
  assert.deepEqual(await chain.getTxStatus(sent.txid), { confirmed: false });
  await devnet.mine(1);
  const status = await chain.getTxStatus(sent.txid);
  assert.equal(status.confirmed, true);

  const tx = Transaction.fromHex(await chain.getTxHex(sent.txid));
  const values = tx.outs.map((o) => o.value).sort((a, b) => Number(a - b));
  assert.deepEqual(values, [250_000n, sent.changeSat].sort((a, b) => Number(a - b)));
  // The change went to a fresh change address of ours, which now holds it.
  balance = await treasury.balance();
  assert.equal(balance.confirmedSat, sent.changeSat);
  assert.equal(balance.utxos.length, 1);
  assert.equal(balance.utxos[0]?.chain, 1);
});

test('a transaction with a bad signature is rejected by the node with a clear error', async (t) => {
  const { devnet, wallet, chain, treasury } = await setup(t);
  const receive = treasury.newAddress('receive');
  await devnet.pay(receive.address, 500_000n);
  await devnet.mine(1);
  const { utxos } = await treasury.balance();
  const built = wallet.buildTransaction({ utxos, outputs: [{ address: devnet.faucetAddress, valueSat: 100_000n }], feeRateSatPerKvb: 2_000n, change: { index: 0 } });
  const tx = Transaction.fromHex(built.hex);
  const sig = tx.ins[0]?.witness[0];
  assert.ok(sig && sig.length > 60, 'a P2WPKH witness signature');
  sig[10] = (sig[10] ?? 0) ^ 0xff; // corrupt the DER-encoded signature's r value
  await assert.rejects(chain.broadcast(tx.toHex()), (e) => {
    assert.ok(isAgentError(e, 'CHAIN_TX_REJECTED'), String(e));
    assert.match(e.message, /sig|script|verif/i);
    return true;
  });
  // The untouched transaction is fine: the rejection was about the signature, nothing else.
  assert.equal(await chain.broadcast(built.hex), built.txid);
});

test('the spend policy refuses a payment above the per-transaction cap before anything is broadcast', async (t) => {
  const { devnet, chain, db, wallet } = await setup(t);
  const treasury = new Treasury({ db, wallet, chain, perTxMaxSat: 100_000n, perDayMaxSat: 1_000_000n });
  const receive = treasury.newAddress('receive');
  await devnet.pay(receive.address, 500_000n);
  await devnet.mine(1);
  await assert.rejects(treasury.send(devnet.faucetAddress, 200_000n), (e) => isAgentError(e, 'WALLET_POLICY_REFUSED'));
  const balance = await treasury.balance();
  assert.equal(balance.confirmedSat, 500_000n, 'nothing left the wallet');
});

test("the agent's balance includes customers' payments from the watcher's table, and it can spend them", async (t) => {
  const { startTestAgent } = await import('../helpers/agent.ts');
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' } });
  const q = await paidQuote(a.api, { size: 4 * 1024 * 1024 });
  let b = await a.agent.treasury.balance();
  assert.equal(b.confirmedSat, BigInt(q.amountSat), 'the upload payment is one of the wallet coins');
  assert.equal(b.utxos[0]?.chain, 0);
  // The sums alone, summed in SQL, agree: the treasury's, and the operator's figures in GET /v1/agent.
  assert.deepEqual(await a.agent.treasury.totals(), { confirmedSat: BigInt(q.amountSat), unconfirmedSat: 0n, coins: 1 });
  const token = (JSON.parse(readFileSync(join(a.dataDir, 'config.json'), 'utf8')) as { adminToken: string }).adminToken;
  const operator = await a.api<{ wallet: { confirmedSat: number; unconfirmedSat: number } }>('GET', '/v1/agent', undefined, { authorization: `Bearer ${token}` });
  assert.deepEqual([operator.body.wallet.confirmedSat, operator.body.wallet.unconfirmedSat], [q.amountSat, 0]);

  const sent = await a.agent.treasury.send(a.devnet.faucetAddress, 5_000n, { feeRateSatPerKvb: 2_000n });
  await a.devnet.mine(1);
  await a.api('POST', '/v1/dev/jobs/watcher');
  assert.equal((await a.agent.chain.getTxStatus(sent.txid)).confirmed, true, 'bcoin mined a spend of a customer payment');
  b = await a.agent.treasury.balance();
  assert.equal(b.confirmedSat, sent.changeSat, 'the spent coin is gone; only the change is left');
});
