// The treasury compiles its statements and makes its transaction once, when it is built
// (src/treasury/repository.ts): handing out addresses, its sums and a payment out, spend log included,
// prepare nothing after that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction } from 'bitcoinjs-lib';
import { openAgentDb } from '../../src/agent/modules.ts';
import type { ChainUtxo } from '../../src/chain/index.ts';
import { Treasury } from '../../src/treasury/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { countCompiles, stubChain } from '../helpers/stubs.ts';

// BIP39's own test mnemonic (the first vector of its reference list): a real wallet, no key of value.
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

void test('after it is built, the treasury prepares no statement and makes no transaction, whatever it is asked', async () => {
  const db = openAgentDb(':memory:');
  const wallet = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'regtest' });
  const coins = new Map<string, ChainUtxo[]>();
  const watched = { unspent: () => [], unspentTotals: () => ({ confirmedSat: 0n, unconfirmedSat: 0n, coins: 0 }) };
  const treasury = new Treasury({ db, wallet, chain: stubChain({ getAddressUtxos: (address) => Promise.resolve(coins.get(address) ?? []), getFeeEstimates: () => Promise.resolve(new Map([[6, 1000n]])), broadcast: (hex) => Promise.resolve(Transaction.fromHex(hex).getId()) }), watched, perTxMaxSat: 1_000_000n, perDayMaxSat: 1_000_000n });
  const seen = countCompiles(db);

  const receive = treasury.newAddress('receive');
  assert.deepEqual([receive.chain, receive.index], [0, 0]);
  assert.equal(treasury.newAddress('upload').index, 1);
  coins.set(receive.address, [{ txid: 'a1'.repeat(32), vout: 0, valueSat: 100_000n, confirmed: true, blockHeight: 5, blockHash: 'b1'.repeat(32) }]);
  assert.deepEqual(await treasury.totals(), { confirmedSat: 100_000n, unconfirmedSat: 0n, coins: 1 });
  assert.equal((await treasury.balance()).confirmedSat, 100_000n);
  // A payment out: a change address handed out, and the spend policy reading and appending its log.
  const sent = await treasury.send(treasury.newAddress('proposal').address, 10_000n);
  assert.deepEqual(seen, { prepared: [], transactions: 0 });
  assert.deepEqual(db.prepare('SELECT txid, amount_sat FROM wallet_spends').all(), [{ txid: sent.txid, amount_sat: 10_000n + sent.feeSat }]);
  db.close();
});
