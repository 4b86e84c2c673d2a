// Payment detection stays flat with a million addresses (docs/payments.md, "Watching at scale"): the watcher,
// matching through the treasury as the agent does, looks up each output of a block once in the script index,
// whether the address book holds one address or a million; each lookup is one search of that index, and nothing
// the pass runs walks the address book. Counted and planned, not timed (`npm run bench -- watcher` times it).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { networks, payments } from 'bitcoinjs-lib';
import type { Devnet } from '../../src/devnet/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { PaymentWatcher, type EsploraClient } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { Treasury } from '../../src/treasury/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { RecordingSink, paymentOf, withDevnet } from './helpers.ts';
import { plan, recordStatements } from '../helpers/statements.ts';

const MILLION = 1_000_000;
// BIP39's own test mnemonic (the first vector of its reference list): a real wallet, no key of value.
const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const LOOKUP = 'SELECT address FROM wallet_addresses WHERE script = ?';

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

interface Side {
  db: Db;
  ran: Array<{ sql: string; args: unknown[] }>;
  watcher: PaymentWatcher;
  sink: RecordingSink;
  /** Output scripts the watcher asked about. */
  checked: { n: number };
  address: string;
}

/** A wallet whose first upload address is the same on every side, plus `dormant` more addresses by set-based SQL. */
function side(t: TestContext, dormant: number): Side {
  const db = openAgentDb(':memory:');
  t.after(() => db.close());
  const ran = recordStatements(t, db);
  const wallet = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'regtest' });
  const treasury = new Treasury({ db, wallet, chain, perTxMaxSat: 1_000_000n, perDayMaxSat: 1_000_000n });
  const { address } = treasury.newAddress('upload');
  if (dormant > 0) {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at)
       SELECT 0, i, 'bcrt1qdormant' || i, x'0014' || randomblob(20), 'upload', 0 FROM n`,
    ).run(dormant);
  }
  const checked = { n: 0 };
  const sink = new RecordingSink();
  const watcher = new PaymentWatcher({
    db,
    chain,
    ours: (script) => {
      checked.n++;
      return treasury.addressOfScript(script);
    },
    policy: { required: 1, zeroConfMaxSat: 0n },
    sink,
  });
  return { db, ran, watcher, sink, checked, address };
}

test('with a million address rows a block costs the lookups it costs with one: one search of the script index per output, no walk of the address book', { timeout: 600_000 }, async (t) => {
  const one = side(t, 0);
  const many = side(t, MILLION - 1);
  assert.equal(one.address, many.address, 'the same wallet, the same first address');
  const count = (db: Db): bigint => (db.prepare('SELECT count(*) AS n FROM wallet_addresses').get() as { n: bigint }).n;
  assert.equal(count(one.db), 1n);
  assert.equal(count(many.db), BigInt(MILLION));
  await one.watcher.sync();
  await many.watcher.sync();

  // A block with our payment and a few strangers' transactions.
  const txid = await devnet.pay(one.address, 21_000n);
  for (let i = 0; i < 5; i++) {
    const stranger = payments.p2wpkh({ hash: randomBytes(20), network: networks.regtest }).address;
    assert.ok(stranger);
    await devnet.pay(stranger, 5_000n);
  }
  await devnet.mine(1);
  for (const s of [one, many]) {
    s.ran.length = 0;
    s.checked.n = 0;
    const r = await s.watcher.sync();
    assert.equal(r.blocks, 1);
    assert.equal(r.newPayments, 1);
    assert.equal(paymentOf(s.db, txid).address, s.address);
    assert.deepEqual(s.sink.counted.map((p) => p.txid), [txid]);
  }
  // Every output of the block was asked about, on both sides alike, and each was one lookup.
  const lookups = (s: Side): number => s.ran.filter((r) => r.sql === LOOKUP).length;
  assert.ok(one.checked.n >= 1 + 2 * 6, `the coinbase and two outputs per transaction at least: ${one.checked.n}`);
  assert.equal(many.checked.n, one.checked.n);
  assert.equal(lookups(many), many.checked.n);
  assert.equal(lookups(one), one.checked.n);
  // The same statements, the same number of times, on both sides.
  const tally = (s: Side): Record<string, number> => {
    const m: Record<string, number> = {};
    for (const r of s.ran) m[r.sql] = (m[r.sql] ?? 0) + 1;
    return m;
  };
  assert.deepEqual(tally(many), tally(one));

  // Planned against the million rows: the lookup searches the script index, and no statement of the pass walks
  // the address book.
  const lookupArgs = many.ran.find((r) => r.sql === LOOKUP)?.args ?? [];
  assert.match(plan(many.db, LOOKUP, lookupArgs).join(' | '), /^SEARCH wallet_addresses USING (COVERING )?INDEX \S+ \(script=\?\)$/);
  for (const r of many.ran.filter((x) => /^\s*(SELECT|UPDATE|DELETE|INSERT)/i.test(x.sql))) {
    const steps = plan(many.db, r.sql, r.args);
    assert.ok(!steps.some((d) => /^SCAN wallet_addresses/.test(d)), `${r.sql.replace(/\s+/g, ' ')}\n  plan: ${steps.join(' | ')}`);
  }
});
