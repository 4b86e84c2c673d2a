// The treasury's sums with a million addresses handed out: the figures are right, the chain backend is asked
// about the wallet's own addresses only, and every statement the sums run searches an index (EXPLAIN QUERY
// PLAN says SEARCH, never SCAN) instead of walking a row per address. Plans, not times, are what is checked.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openAgentDb } from '../../src/agent/modules.ts';
import type { Db } from '../../src/db/index.ts';
import { PaymentWatcher } from '../../src/chain/index.ts';
import type { ChainBackend, ChainUtxo } from '../../src/chain/index.ts';
import { Treasury } from '../../src/treasury/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { stubChain, ourScripts } from '../helpers/stubs.ts';
import { plan, recordStatements } from '../helpers/statements.ts';

const FILES = 1_000_000;
// BIP39's own test mnemonic (the first vector of its reference list): a real wallet, no key of value.
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

/** Fails listing any step that walks a table or index whole, rather than searching it. */
function assertSearchesOnly(db: Db, ran: Array<{ sql: string; args: unknown[] }>, what: string): void {
  const reads = ran.filter((r) => /^\s*(SELECT|WITH)/i.test(r.sql) && !/^\s*(BEGIN|COMMIT)/i.test(r.sql));
  assert.ok(reads.length > 0, `${what} ran no query at all`);
  for (const r of reads) {
    const steps = plan(db, r.sql, r.args);
    const scans = steps.filter((d) => /^SCAN /.test(d));
    assert.deepEqual(scans, [], `${what}: ${r.sql.replace(/\s+/g, ' ')}\n  plan: ${steps.join(' | ')}`);
    assert.ok(steps.some((d) => /^SEARCH /.test(d)), `${what} searches an index: ${steps.join(' | ')}`);
  }
}

/** A chain backend that knows only the coins given to it, and records which addresses it was asked about. */
function chainWith(coins: Map<string, ChainUtxo[]>): ChainBackend & { asked: string[] } {
  const asked: string[] = [];
  const getAddressUtxos = (address: string): Promise<ChainUtxo[]> => {
    asked.push(address);
    return Promise.resolve(coins.get(address) ?? []);
  };
  return { ...stubChain({ getAddressUtxos }), asked };
}

function setup(t: TestContext) {
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  const ran = recordStatements(t, db);
  // A million upload addresses, one per file, as many quotes leave behind (nearly all never paid, or long spent).
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at)
     SELECT 0, i, 'bcrt1qfile' || i, CAST('script' || i AS BLOB), 'upload', 0 FROM n`,
  ).run(FILES - 1);
  const wallet = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'regtest' });
  const coins = new Map<string, ChainUtxo[]>();
  const chain = chainWith(coins);
  const treasury = new Treasury({ db, wallet, chain, perTxMaxSat: 1_000_000n, perDayMaxSat: 1_000_000n });
  const receive = treasury.newAddress('receive');
  const change = treasury.newAddress('change');
  coins.set(receive.address, [{ txid: 'a1'.repeat(32), vout: 0, valueSat: 10_000n, confirmed: true, blockHeight: 5, blockHash: 'b1'.repeat(32) }]);
  coins.set(change.address, [{ txid: 'a2'.repeat(32), vout: 1, valueSat: 700n, confirmed: false }]);
  // Payments the watcher recorded: to files (unspent confirmed, unspent in the mempool, spent, reversed), and to
  // the receive address (counted from the chain backend instead, so not twice).
  const pay = db.prepare(
    `INSERT INTO payments (txid, vout, address, value_sat, state, block_height, spent_by, first_seen_at, updated_at) VALUES (?, 0, ?, ?, ?, ?, ?, 0, 0)`,
  );
  pay.run('c1'.repeat(32), 'bcrt1qfile7', 50_000n, 'confirmed', 3, null);
  pay.run('c2'.repeat(32), 'bcrt1qfile999999', 20_000n, 'confirmed', 4, null);
  pay.run('c3'.repeat(32), 'bcrt1qfile42', 3_000n, 'mempool', null, null);
  pay.run('c4'.repeat(32), 'bcrt1qfile43', 90_000n, 'confirmed', 4, 'd4'.repeat(32));
  pay.run('c5'.repeat(32), 'bcrt1qfile44', 80_000n, 'reversed', null, null);
  pay.run('a1'.repeat(32), receive.address, 10_000n, 'confirmed', 5, null);
  return { db, ran, chain, treasury, receive, change };
}

void test('the sums are right with a million addresses, the chain is asked about the own ones only, and every query searches an index', { timeout: 300_000 }, async (t) => {
  const { db, ran, chain, treasury, receive, change } = setup(t);

  const totals = await treasury.totals();
  assert.deepEqual(totals, { confirmedSat: 10_000n + 50_000n + 20_000n, unconfirmedSat: 700n + 3_000n, coins: 5 });
  assert.deepEqual(chain.asked.sort(), [receive.address, change.address].sort());

  // balance() lists the same coins, and its sums agree.
  const balance = await treasury.balance();
  assert.equal(balance.confirmedSat, totals.confirmedSat);
  assert.equal(balance.unconfirmedSat, totals.unconfirmedSat);
  assert.equal(balance.utxos.length, totals.coins);
  assert.deepEqual(balance.utxos.map((u) => [u.chain, u.index]).sort(), [[0, 7], [0, 999_999], [0, 42], [0, FILES], [1, 0]].sort());

  // What each ran, planned against the million rows: totals() only ever searches an index.
  ran.length = 0;
  await treasury.totals();
  assertSearchesOnly(db, ran, 'totals()');
  // balance() lists every coin, but never walks the addresses: no step of it scans wallet_addresses.
  ran.length = 0;
  await treasury.balance();
  for (const r of ran.filter((x) => /^\s*SELECT/i.test(x.sql))) {
    const steps = plan(db, r.sql, r.args);
    assert.ok(!steps.some((d) => /^SCAN wallet_addresses/.test(d)), `balance(): ${r.sql.replace(/\s+/g, ' ')}\n  plan: ${steps.join(' | ')}`);
  }
});

void test("the operator's figures: the watcher sums every unspent coin in SQL, as its list would, searching an index", (t) => {
  const { db, ran, chain } = setup(t);
  const watcher = new PaymentWatcher({ db, ours: ourScripts(db), chain, policy: { required: 1, zeroConfMaxSat: 0n }, sink: { onCounted: () => undefined, onReversed: () => undefined } });
  const listed = watcher.unspent();
  ran.length = 0;
  const totals = watcher.unspentTotals();
  assert.deepEqual(totals, {
    confirmedSat: listed.filter((c) => c.confirmed).reduce((a, c) => a + c.valueSat, 0n),
    unconfirmedSat: listed.filter((c) => !c.confirmed).reduce((a, c) => a + c.valueSat, 0n),
    coins: listed.length,
  });
  assert.deepEqual(totals, { confirmedSat: 50_000n + 20_000n + 10_000n, unconfirmedSat: 3_000n, coins: 4 });
  assertSearchesOnly(db, ran, 'unspentTotals()');
});
