// Mempool polling does not grow with quote spam (src/host/quotes.ts mempoolAddresses, docs/payments.md): with
// 20,000 open quotes a watcher pass asks the chain backend about mempoolPollMax addresses and no more, the same as
// with a handful beyond that; the open quotes are taken in turn, so a payment to one of them is found when its
// turn comes; and the page of quotes is read through the index, never by walking every open quote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { networks, payments } from 'bitcoinjs-lib';
import type { Devnet } from '../../src/devnet/index.ts';
import { PaymentWatcher, type EsploraClient } from '../../src/chain/index.ts';
import type { Db } from '../../src/db/index.ts';
import { bytes, hostFixture, type HostFixture } from '../host/helpers.ts';
import { CountingChain, RecordingSink, addKey, paymentOf, withDevnet } from './helpers.ts';
import { ourScripts } from '../helpers/stubs.ts';

const OPEN = 20_000;
const POLL = 100;

let devnet: Devnet;
let chain: EsploraClient;

withDevnet((d, c) => {
  devnet = d;
  chain = c;
});

/**
 * `count` open quotes, one millisecond apart in the order of their index, sharing one price set: real regtest
 * addresses (the chain backend is asked about them) with random keys, except at `paidAt`, which gets `paidAddress`.
 */
async function addQuotes(f: HostFixture, count: number, paidAt: number, paidAddress: string): Promise<void> {
  const db = f.db;
  const priceSet = (await f.host.prices()).id;
  const t0 = BigInt(f.clock.ms);
  const ttl = BigInt(f.deps.config.quoteTtlSeconds) * 1000n;
  const address = db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, ?, ?, ?, 'upload', ?)");
  const file = db.prepare("INSERT INTO files (id, address, state, size, created_at) VALUES (?, ?, 'pending', 1000, ?)");
  const upload = db.prepare('INSERT INTO uploads (id, file_id, token_hash, days, downloads, amount_sat, price_set_id, created_at, expires_at) VALUES (?, ?, ?, 1, 1, 1000, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      let a = paidAddress;
      if (i !== paidAt) {
        const p = payments.p2wpkh({ hash: randomBytes(20), network: networks.regtest });
        if (!p.address || !p.output) throw new Error('p2wpkh gave no address');
        a = p.address;
        address.run(1_000_000 + i, a, Buffer.from(p.output), t0);
      }
      file.run(`spamfile${i}`, a, t0 + BigInt(i));
      upload.run(`spamupload${i}`, `spamfile${i}`, randomBytes(32), priceSet, t0 + BigInt(i), t0 + BigInt(i) + ttl);
    }
  })();
  f.advance(count);
}

function planOf(db: Db, sql: string, args: Record<string, unknown>): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(args) as Array<{ detail: string }>).map((r) => r.detail);
}

test(`with ${OPEN.toLocaleString('en')} open quotes a pass polls ${POLL} of them in turn, finds a payment when its turn comes, and reads them through the index`, { timeout: 300_000 }, async (t) => {
  const f = hostFixture(t, { config: { mempoolPollMax: POLL } });
  const db = f.db;
  const paid = addKey(db);
  // The quote at position 250 in the order quotes were made (the first is 0): its turn is the third pass.
  const paidAt = 250;
  await addQuotes(f, OPEN, paidAt, paid.address);
  assert.equal(f.host.openQuotes(), OPEN);

  const sink = new RecordingSink();
  const counting = new CountingChain(chain);
  const w = new PaymentWatcher({ db, ours: ourScripts(db), chain: counting, policy: { required: 1, zeroConfMaxSat: 100_000n }, sink, mempoolAddresses: () => f.host.mempoolAddresses() });
  await w.sync();
  assert.equal(counting.calls.get('getAddressMempoolTxs'), POLL, 'the first pass polled one page');

  const txid = await devnet.pay(paid.address, 40_000n);
  const perPass: Array<Record<string, number>> = [];
  const found: number[] = [];
  for (let pass = 2; pass <= 4; pass++) {
    counting.reset();
    const r = await w.sync();
    perPass.push(Object.fromEntries(counting.calls));
    if (r.newPayments > 0) found.push(pass);
  }
  // Each pass: one tip, one hash to check the stored top, POLL mempool polls, and nothing else (no block, and the
  // transaction seen was judged with one parent look-up, in the pass that found it).
  for (const [i, calls] of perPass.entries()) {
    assert.equal(calls.getAddressMempoolTxs, POLL, `pass ${i + 2} polled ${POLL} addresses`);
    assert.equal(calls.getTipHeight, 1);
  }
  assert.deepEqual(found, [3], 'the payment was found in the pass whose page holds its quote');
  assert.equal(paymentOf(db, txid).address, paid.address);
  assert.deepEqual(sink.counted.map((p) => p.txid), [txid], 'and counted at 0-conf');

  // The page query searches uploads_recent from the cursor, in its order: no scan, no sort of every open quote.
  const sql = `SELECT f.address, u.created_at AS at, u.rowid AS rowid FROM uploads u JOIN files f ON f.id = u.file_id
       WHERE u.created_at >= :from AND (u.created_at > :at OR u.rowid > :rowid) AND u.expires_at > :now AND f.state = 'pending'
       ORDER BY u.created_at, u.rowid LIMIT :limit`;
  const now = BigInt(f.clock.ms);
  const plan = planOf(db, sql, { from: now - 3_600_000n, at: now - 1000n, rowid: 5n, now, limit: POLL });
  assert.ok(plan.some((d) => /^SEARCH u USING INDEX uploads_recent \(created_at>\?\)/.test(d)), plan.join(' | '));
  assert.ok(!plan.some((d) => /^SCAN|TEMP B-TREE/.test(d)), plan.join(' | '));
});

test('the open quotes are polled in turn: every one once before any again, and an expired or uploaded quote is polled no more', async (t) => {
  const f = hostFixture(t, { config: { mempoolPollMax: 7 } });
  const ttl = f.deps.config.quoteTtlSeconds * 1000;
  const quotes = [];
  for (let i = 0; i < 20; i++) {
    quotes.push(await f.host.createUpload({ size: 4 }));
    f.advance(1);
  }
  const all = quotes.map((q) => q.address);
  const polled: string[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const page = f.host.mempoolAddresses();
    assert.equal(page.length, 7);
    polled.push(...page);
  }
  // 21 polls of 20 quotes: each once, in the order they were made, then the first again.
  assert.deepEqual(polled, [...all, all[0]]);

  // Round the end: the next page takes the rest and starts over without repeating within the page.
  const next = f.host.mempoolAddresses();
  assert.deepEqual(next, all.slice(1, 8));
  // Upload one (its bytes arrive): it leaves the turn; the others stay.
  const up = quotes[9];
  assert.ok(up);
  f.pay(up.address, up.amountSat);
  await f.host.putUpload(up.id, up.uploadToken, bytes(Buffer.from('abcd')));
  const later: string[] = [];
  for (let pass = 0; pass < 3; pass++) later.push(...f.host.mempoolAddresses());
  assert.ok(!later.includes(up.address), 'an uploaded quote is not polled');
  assert.equal(new Set(later).size, 19, 'the 19 others are');
  // Expired: the first ten quotes expire (the tenth at this very millisecond); only the later ones are polled.
  f.advance(ttl - 11);
  const left = new Set<string>();
  for (let pass = 0; pass < 3; pass++) for (const a of f.host.mempoolAddresses()) left.add(a);
  assert.deepEqual([...left].sort(), all.slice(10).sort());
  f.advance(ttl);
  assert.deepEqual(f.host.mempoolAddresses(), [], 'all expired: none polled');
});
