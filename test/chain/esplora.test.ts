// The Esplora client against a scripted local HTTP server: what it accepts, what it refuses,
// and how it retries. The server plays a broken or hostile backend, case by case.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { Block, Transaction } from 'bitcoinjs-lib';
import { EsploraClient, createChainBackend } from '../../src/chain/index.ts';
import type { EsploraClientOptions } from '../../src/chain/index.ts';
import { coinbaseTx, esploraTxJson, json, legacyTx, routes, sampleBlock, sampleTx, serve } from './helpers.ts';
import { rejectsWith } from '../helpers/errors.ts';
import { manualDeadlines } from '../net/helpers.ts';
import type { Script, Scripted } from './helpers.ts';

const HASH_A = 'aa'.repeat(32);
const TXID_B = 'bb'.repeat(32);
const ADDR = 'bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3a6xw5e';

async function setup(t: TestContext, script: Script, opts: Partial<EsploraClientOptions> = {}): Promise<{ srv: Scripted; c: EsploraClient; sleeps: number[] }> {
  const srv = await serve(script);
  t.after(() => srv.close());
  const sleeps: number[] = [];
  const c = new EsploraClient({
    baseUrl: srv.url,
    timeoutMs: 2000,
    retries: 2,
    backoffMs: 100,
    random: () => 0.5,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...opts,
  });
  return { srv, c, sleeps };
}

// ---- tip and block hashes ----

void test('tip height and hash are read from text answers', async (t) => {
  const { c } = await setup(t, routes({ '/blocks/tip/height': { body: '812345\n' }, '/blocks/tip/hash': { body: HASH_A.toUpperCase() } }));
  assert.equal(await c.getTipHeight(), 812345);
  assert.equal(await c.getTipHash(), HASH_A);
});

void test('a tip height that is not a non-negative integer is a bad response', async (t) => {
  for (const body of ['12a', '-1', '1.5', '', '{"height":5}', '99999999999999999999']) {
    const { c } = await setup(t, routes({ '/blocks/tip/height': { body } }));
    await rejectsWith(c.getTipHeight(), 'CHAIN_BAD_RESPONSE');
  }
});

void test('a tip hash of the wrong length or alphabet is a bad response', async (t) => {
  for (const body of ['aa'.repeat(31), 'zz'.repeat(32), `${HASH_A}00`]) {
    const { c } = await setup(t, routes({ '/blocks/tip/hash': { body } }));
    await rejectsWith(c.getTipHash(), 'CHAIN_BAD_RESPONSE');
  }
});

void test('getBlockHash asks /block-height/:h; above the tip (404) is CHAIN_NOT_FOUND without a retry', async (t) => {
  const { srv, c } = await setup(t, routes({ '/block-height/7': { body: HASH_A } }));
  assert.equal(await c.getBlockHash(7), HASH_A);
  await rejectsWith(c.getBlockHash(8), 'CHAIN_NOT_FOUND');
  assert.deepEqual(srv.requests.map((r) => r.path), ['/block-height/7', '/block-height/8']);
});

void test('invalid arguments are refused before any request', async (t) => {
  const { srv, c } = await setup(t, () => ({ status: 500 }));
  await rejectsWith(c.getBlockHash(-1), 'BAD_REQUEST');
  await rejectsWith(c.getBlockHash(1.5), 'BAD_REQUEST');
  await rejectsWith(c.getTxHex('abc'), 'BAD_REQUEST');
  await rejectsWith(c.getTxStatus(`${TXID_B}/../x`), 'BAD_REQUEST');
  await rejectsWith(c.getBlockRaw('zz'.repeat(32)), 'BAD_REQUEST');
  await rejectsWith(c.getAddressUtxos('../blocks/tip/height'), 'BAD_REQUEST');
  await rejectsWith(c.getAddressMempoolTxs('bc1q?x=1'), 'BAD_REQUEST');
  await rejectsWith(c.broadcast('not hex'), 'BAD_REQUEST');
  await rejectsWith(c.broadcast('00112233'), 'BAD_REQUEST');
  assert.equal(srv.requests.length, 0);
});

// ---- raw blocks ----

void test('a valid raw block is returned as checked bytes', async (t) => {
  const block = sampleBlock();
  const raw = block.toBuffer();
  const { srv, c } = await setup(t, routes({ [`/block/${block.getId()}/raw`]: { body: raw } }));
  const got = await c.getBlockRaw(block.getId().toUpperCase());
  assert.equal(Buffer.from(got).toString('hex'), Buffer.from(raw).toString('hex'));
  const parsed = Block.fromBuffer(got);
  assert.equal(parsed.getId(), block.getId());
  assert.equal(parsed.transactions?.length, 2);
  assert.equal(srv.requests[0]?.path, `/block/${block.getId()}/raw`);
});

void test('a raw block that is not the block asked for is a bad response', async (t) => {
  const block = sampleBlock();
  const { c } = await setup(t, routes({ [`/block/${HASH_A}/raw`]: { body: block.toBuffer() } }));
  const e = await rejectsWith(c.getBlockRaw(HASH_A), 'CHAIN_BAD_RESPONSE');
  assert.match(e.message, /not the one asked for/);
});

void test('a raw block whose transactions do not match its merkle root is a bad response', async (t) => {
  const block = sampleBlock();
  const id = block.getId();
  // Same header (so the same id), different transactions: the backend swapped the contents.
  const forged = sampleBlock([coinbaseTx(), sampleTx(1n)]);
  forged.merkleRoot = block.merkleRoot;
  assert.equal(forged.getId(), id);
  const { c } = await setup(t, routes({ [`/block/${id}/raw`]: { body: forged.toBuffer() } }));
  const e = await rejectsWith(c.getBlockRaw(id), 'CHAIN_BAD_RESPONSE');
  assert.match(e.message, /merkle root/);
});

void test('garbage, a bare header, and trailing bytes are bad raw blocks', async (t) => {
  const block = sampleBlock();
  const id = block.getId();
  const full = Buffer.from(block.toBuffer());
  for (const body of [Buffer.from('not a block at all'), full.subarray(0, 80), full.subarray(0, full.length - 3), Buffer.concat([full, Buffer.from([0])])]) {
    const { c } = await setup(t, routes({ [`/block/${id}/raw`]: { body } }));
    await rejectsWith(c.getBlockRaw(id), 'CHAIN_BAD_RESPONSE');
  }
});

void test('a raw block larger than any valid block is refused without reading it all', async (t) => {
  const { srv, c } = await setup(t, routes({ [`/block/${HASH_A}/raw`]: { body: Buffer.alloc(4_000_001) } }));
  await rejectsWith(c.getBlockRaw(HASH_A), 'CHAIN_BAD_RESPONSE');
  assert.equal(srv.requests.length, 1);
});

// ---- transactions ----

void test('tx hex is re-hashed: the right transaction is returned', async (t) => {
  const tx = sampleTx();
  const { c } = await setup(t, routes({ [`/tx/${tx.getId()}/hex`]: { body: `${tx.toHex().toUpperCase()}\n` } }));
  const hex = await c.getTxHex(tx.getId());
  assert.equal(hex, tx.toHex());
  assert.equal(Transaction.fromHex(hex).getId(), tx.getId());
});

void test('tx hex whose hash is not the txid asked for is a bad response', async (t) => {
  const asked = sampleTx(1n);
  const served = sampleTx(2n);
  const { c } = await setup(t, routes({ [`/tx/${asked.getId()}/hex`]: { body: served.toHex() } }));
  const e = await rejectsWith(c.getTxHex(asked.getId()), 'CHAIN_BAD_RESPONSE');
  assert.match(e.message, new RegExp(served.getId()));
});

void test('tx hex that is not hex, not a transaction, or has trailing bytes is a bad response', async (t) => {
  const tx = sampleTx();
  for (const body of ['', 'xyz', `${tx.toHex()}0`, `${tx.toHex()}00`, 'deadbeef']) {
    const { c } = await setup(t, routes({ [`/tx/${tx.getId()}/hex`]: { body } }));
    await rejectsWith(c.getTxHex(tx.getId()), 'CHAIN_BAD_RESPONSE');
  }
});

void test('a confirmed status is parsed with its block', async (t) => {
  const { srv, c } = await setup(t, routes({ [`/tx/${TXID_B}/status`]: json({ confirmed: true, block_height: 120, block_hash: HASH_A, block_time: 1_700_000_000 }) }));
  assert.deepEqual(await c.getTxStatus(TXID_B), { confirmed: true, blockHeight: 120, blockHash: HASH_A, blockTime: 1_700_000_000 });
  assert.equal(srv.requests.length, 1);
});

void test('an unconfirmed status is checked against the transaction itself', async (t) => {
  const tx = sampleTx();
  const { srv, c } = await setup(t, routes({ [`/tx/${tx.getId()}/status`]: json({ confirmed: false }), [`/tx/${tx.getId()}/hex`]: { body: tx.toHex() } }));
  assert.deepEqual(await c.getTxStatus(tx.getId()), { confirmed: false });
  assert.deepEqual(srv.requests.map((r) => r.path), [`/tx/${tx.getId()}/status`, `/tx/${tx.getId()}/hex`]);
});

void test('a txid the backend does not know is CHAIN_NOT_FOUND, whether it says 404 or (like electrs) "unconfirmed"', async (t) => {
  const { c } = await setup(t, routes({ [`/tx/${TXID_B}/status`]: json({ confirmed: false }) }));
  await rejectsWith(c.getTxStatus(TXID_B), 'CHAIN_NOT_FOUND');
  const { c: c2, srv } = await setup(t, routes({}));
  await rejectsWith(c2.getTxStatus(TXID_B), 'CHAIN_NOT_FOUND');
  assert.equal(srv.requests.length, 1);
});

void test('malformed or mistyped status answers are bad responses', async (t) => {
  const bodies: string[] = [
    '{"confirmed": true',
    'null',
    '[]',
    '{}',
    '{"confirmed": "yes"}',
    JSON.stringify({ confirmed: true }),
    JSON.stringify({ confirmed: true, block_height: 5 }),
    JSON.stringify({ confirmed: true, block_height: '5', block_hash: HASH_A }),
    JSON.stringify({ confirmed: true, block_height: -1, block_hash: HASH_A }),
    JSON.stringify({ confirmed: true, block_height: 5.5, block_hash: HASH_A }),
    JSON.stringify({ confirmed: true, block_height: 5, block_hash: 'abc' }),
    JSON.stringify({ confirmed: true, block_height: 5, block_hash: HASH_A, block_time: 'noon' }),
  ];
  for (const body of bodies) {
    const { c } = await setup(t, routes({ [`/tx/${TXID_B}/status`]: { body } }));
    await rejectsWith(c.getTxStatus(TXID_B), 'CHAIN_BAD_RESPONSE');
  }
});

// ---- addresses ----

void test('utxos are parsed into bigint values with their confirmation', async (t) => {
  const { srv, c } = await setup(
    t,
    routes({
      [`/address/${ADDR}/utxo`]: json([
        { txid: TXID_B, vout: 0, value: 2_100_000_000_000_000, status: { confirmed: true, block_height: 5, block_hash: HASH_A, block_time: 1 } },
        { txid: HASH_A, vout: 3, value: 546, status: { confirmed: false, block_height: null, block_hash: null } },
      ]),
    }),
  );
  assert.deepEqual(await c.getAddressUtxos(ADDR), [
    { txid: TXID_B, vout: 0, valueSat: 2_100_000_000_000_000n, confirmed: true, blockHeight: 5, blockHash: HASH_A },
    { txid: HASH_A, vout: 3, valueSat: 546n, confirmed: false },
  ]);
  assert.equal(srv.requests[0]?.path, `/address/${ADDR}/utxo`);
});

void test('malformed utxo answers are bad responses, never TypeErrors', async (t) => {
  const ok = { txid: TXID_B, vout: 0, value: 1000, status: { confirmed: false } };
  const bodies: string[] = [
    '[{"txid":',
    '{"utxo": []}',
    '"[]"',
    JSON.stringify([null]),
    JSON.stringify([{ ...ok, value: 1.5 }]),
    JSON.stringify([{ ...ok, value: -1 }]),
    JSON.stringify([{ ...ok, value: '1000' }]),
    JSON.stringify([{ ...ok, value: 2_100_000_000_000_001 }]), // above 21 million BTC
    '[{"txid":"' + TXID_B + '","vout":0,"value":9007199254740993,"status":{"confirmed":false}}]', // unsafe integer
    JSON.stringify([{ ...ok, txid: 'bb' }]),
    JSON.stringify([{ ...ok, vout: -1 }]),
    JSON.stringify([{ ...ok, vout: 2 ** 32 }]),
    JSON.stringify([{ ...ok, status: undefined }]),
    JSON.stringify([{ ...ok, status: { confirmed: true } }]),
    JSON.stringify([ok, ok]), // the same outpoint twice would count one payment twice
  ];
  for (const body of bodies) {
    const { c } = await setup(t, routes({ [`/address/${ADDR}/utxo`]: { body } }));
    await rejectsWith(c.getAddressUtxos(ADDR), 'CHAIN_BAD_RESPONSE');
  }
});

void test('mempool transactions are re-hashed from their JSON and reduced to inputs and outputs', async (t) => {
  const tx = sampleTx();
  const { c } = await setup(t, routes({ [`/address/${ADDR}/txs/mempool`]: json([esploraTxJson(tx), esploraTxJson(legacyTx())]) }));
  const got = await c.getAddressMempoolTxs(ADDR);
  assert.equal(got.length, 2);
  const first = got[0];
  assert.ok(first);
  assert.equal(first.txid, tx.getId());
  assert.deepEqual(first.inputs, [{ txid: 'ab'.repeat(32), vout: 1, sequence: 0xfffffffd }]);
  // Replaceability comes from the sequences the txid covers (BIP125: some nSequence below 0xfffffffe).
  assert.equal(first.rbf, true);
  assert.equal(got[1]?.rbf, false);
  assert.deepEqual(
    first.outputs.map((o) => [o.scriptHex, o.valueSat]),
    [
      [`0014${'11'.repeat(20)}`, 12_345n],
      [`0014${'22'.repeat(20)}`, 99_000n],
    ],
  );
  assert.match(first.outputs[0]?.address ?? '', /^bcrt1q/);
});

void test('a mempool transaction whose JSON does not hash to its txid is a bad response', async (t) => {
  const tx = sampleTx();
  const inflated = esploraTxJson(tx);
  // A real txid with an output value the transaction does not have.
  (inflated.vout as Array<{ value: number }>)[0]!.value = 5_000_000;
  const { c } = await setup(t, routes({ [`/address/${ADDR}/txs/mempool`]: json([inflated]) }));
  const e = await rejectsWith(c.getAddressMempoolTxs(ADDR), 'CHAIN_BAD_RESPONSE');
  assert.match(e.message, /hashes to/);
});

void test('mempool transactions with missing or mistyped fields are bad responses', async (t) => {
  const base = esploraTxJson(sampleTx());
  const variants: unknown[] = [
    { ...base, vin: 'none' },
    { ...base, vout: [] },
    { ...base, version: undefined },
    { ...base, locktime: -1 },
    { ...base, vin: [{ txid: TXID_B, vout: 0, scriptsig: 'zz', sequence: 0 }] },
    { ...base, vin: [{ txid: TXID_B, vout: 0, scriptsig: '', sequence: '0' }] },
    { ...base, vout: [{ scriptpubkey: '0014', value: null }] },
    { ...base, vout: [{ scriptpubkey: '0014', value: 1, scriptpubkey_address: 7 }] },
  ];
  for (const v of variants) {
    const { c } = await setup(t, routes({ [`/address/${ADDR}/txs/mempool`]: json([v]) }));
    await rejectsWith(c.getAddressMempoolTxs(ADDR), 'CHAIN_BAD_RESPONSE');
  }
  const { c } = await setup(t, routes({ [`/address/${ADDR}/txs/mempool`]: json([base, base]) }));
  await rejectsWith(c.getAddressMempoolTxs(ADDR), 'CHAIN_BAD_RESPONSE');
});

// ---- retry policy ----

void test('503, 503, 200: succeeds on the third request after two backoffs with jitter', async (t) => {
  const { srv, c, sleeps } = await setup(t, routes({ '/blocks/tip/height': (_req, n) => (n < 3 ? { status: 503, body: 'busy' } : { body: '42' }) }));
  assert.equal(await c.getTipHeight(), 42);
  assert.equal(srv.requests.length, 3);
  // backoffMs 100, random 0.5: 50 + 0.5*50, then 100 + 0.5*100
  assert.deepEqual(sleeps, [75, 150]);
});

void test('429, 502 and 504 and a dropped connection are retried too', async (t) => {
  const answers = [{ status: 429 }, { status: 502 }, 'destroy', { status: 504 }] as const;
  const { srv, c } = await setup(t, routes({ '/blocks/tip/hash': (_req, n) => answers[n - 1] ?? { body: HASH_A } }), { retries: 4 });
  assert.equal(await c.getTipHash(), HASH_A);
  assert.equal(srv.requests.length, 5);
});

void test('Retry-After on 429/503 is honoured, and capped', async (t) => {
  const { c, sleeps } = await setup(
    t,
    routes({ '/blocks/tip/height': (_req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : n === 2 ? { status: 503, headers: { 'retry-after': '3600' } } : { body: '1' }) }),
    { maxRetryAfterMs: 5000 },
  );
  assert.equal(await c.getTipHeight(), 1);
  assert.deepEqual(sleeps, [2000, 5000]);
});

void test('a backend that stays at 503 is CHAIN_UNAVAILABLE after 1 + retries requests, naming the path but no credentials', async (t) => {
  const srv = await serve(() => ({ status: 503 }));
  t.after(() => srv.close());
  const sleeps: number[] = [];
  const withSecrets = srv.url.replace('http://', 'http://alice:hunter2@') + '/api?key=s3cret';
  const c = new EsploraClient({ baseUrl: withSecrets, retries: 3, random: () => 0, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });
  const e = await rejectsWith(c.getTipHeight(), 'CHAIN_UNAVAILABLE');
  assert.equal(srv.requests.length, 4);
  assert.deepEqual(sleeps, [125, 250, 500]); // default backoff 250 ms with random 0: half of each step
  assert.match(e.message, /\/blocks\/tip\/height/);
  assert.match(e.message, /4 tries/);
  for (const secret of ['alice', 'hunter2', 's3cret']) assert.ok(!e.message.includes(secret) && !JSON.stringify(e.details).includes(secret), secret);
  // The credentials are still used for the request itself.
  assert.equal(srv.requests[0]?.url, '/api/blocks/tip/height?key=s3cret');
  assert.equal(srv.requests[0]?.headers.authorization, `Basic ${Buffer.from('alice:hunter2').toString('base64')}`);
});

void test('a 4xx body is quoted in the message, printable, short, and without our credentials', async (t) => {
  const srv = await serve(() => ({ status: 400, body: `Invalid Bitcoin address\u0000 for alice:hunter2 ${'x'.repeat(500)}` }));
  t.after(() => srv.close());
  const c = new EsploraClient({ baseUrl: srv.url.replace('http://', 'http://alice:hunter2@'), retries: 0 });
  const e = await rejectsWith(c.getAddressUtxos(ADDR), 'CHAIN_BAD_RESPONSE');
  assert.match(e.message, /HTTP 400: Invalid Bitcoin address for \*\*\*:\*\*\* x+$/);
  assert.ok(e.message.length < 300);
});

void test('404 is CHAIN_NOT_FOUND at once; other 4xx and 3xx are bad responses; 500 is unavailable; none is retried', async (t) => {
  const cases = [
    { status: 404, code: 'CHAIN_NOT_FOUND' },
    { status: 400, code: 'CHAIN_BAD_RESPONSE' },
    { status: 401, code: 'CHAIN_BAD_RESPONSE' },
    { status: 301, code: 'CHAIN_BAD_RESPONSE', headers: { location: 'http://127.0.0.1:9/elsewhere' } },
    { status: 500, code: 'CHAIN_UNAVAILABLE' },
  ] as const;
  for (const k of cases) {
    const { srv, c, sleeps } = await setup(t, () => ({ status: k.status, body: 'no', headers: 'headers' in k ? k.headers : {} }));
    await rejectsWith(c.getTxHex(TXID_B), k.code);
    assert.equal(srv.requests.length, 1, `HTTP ${k.status}`);
    assert.deepEqual(sleeps, []);
  }
});

void test('a backend that never answers times out on every try, then CHAIN_UNAVAILABLE', async (t) => {
  const d = manualDeadlines();
  // Each try's deadline expires once the backend holds the request: the attempt can end only by its deadline.
  const { srv, c, sleeps } = await setup(
    t,
    () => {
      setImmediate(() => d.expireOpen());
      return 'hang';
    },
    { timeoutMs: 100, retries: 2, deadline: d.deadline },
  );
  const e = await rejectsWith(c.getTipHeight(), 'CHAIN_UNAVAILABLE');
  assert.equal(srv.requests.length, 3);
  assert.deepEqual(d.armed.map((x) => [x.ms, x.expired]), [[100, true], [100, true], [100, true]], 'one deadline of timeoutMs per try, each honoured');
  assert.deepEqual(sleeps, [75, 150], 'the usual backoff between tries');
  assert.match(e.message, /within 100 ms/);
});

void test('the default deadline is a real timer that ends a request nobody answers', async (t) => {
  const { srv, c } = await setup(t, () => 'hang', { timeoutMs: 50, retries: 0 });
  const e = await rejectsWith(c.getTipHeight(), 'CHAIN_UNAVAILABLE');
  assert.equal(srv.requests.length, 1);
  assert.match(e.message, /within 50 ms/);
});

void test('a body trickled slower than the deadline is cut off (a deadline, not an idle timer)', async (t) => {
  // Headers at once, then a byte every few ms: never idle, never finished either.
  let written = 0;
  let trickling!: () => void;
  const fiveBytes = new Promise<void>((ok) => (trickling = ok));
  const trickle = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => {
      res.write('1');
      if (++written === 5) trickling();
    }, 5);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((ok) => trickle.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => (trickle.closeAllConnections(), trickle.close(() => ok()))));
  const port = (trickle.address() as AddressInfo).port;
  const d = manualDeadlines();
  const c = new EsploraClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 150, retries: 0, deadline: d.deadline });
  const call = rejectsWith(c.getTipHeight(), 'CHAIN_UNAVAILABLE');
  await fiveBytes;
  // Bytes kept arriving, yet the one deadline armed for the attempt still stands: an idle timer would have been reset.
  assert.deepEqual(d.armed.map((x) => [x.ms, x.cancelled]), [[150, false]]);
  d.expireOpen();
  const e = await call;
  assert.match(e.message, /within 150 ms/);
});

void test('an already aborted signal rejects with its reason and sends nothing', async (t) => {
  const { srv, c } = await setup(t, () => ({ body: '1' }));
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(c.getTipHeight(ctl.signal), { name: 'AbortError' });
  await assert.rejects(c.broadcast(sampleTx().toHex(), ctl.signal), { name: 'AbortError' });
  assert.equal(srv.requests.length, 0);
});

void test('aborting during a request stops it at once, without retrying', async (t) => {
  const ctl = new AbortController();
  const d = manualDeadlines();
  // The abort comes once the backend holds the request; its deadline is never expired, so only the abort can end it.
  const { srv, c } = await setup(
    t,
    () => {
      setImmediate(() => ctl.abort(new Error('shutting down')));
      return 'hang';
    },
    { timeoutMs: 10_000, retries: 4, deadline: d.deadline },
  );
  await assert.rejects(c.getTipHash(ctl.signal), { message: 'shutting down' });
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(d.armed.map((x) => [x.expired, x.cancelled]), [[false, true]], 'ended by the abort, and its deadline cleared');
});

void test('aborting during the backoff stops before the next try', async (t) => {
  const ctl = new AbortController();
  const { srv, c } = await setup(t, () => ({ status: 503 }), {
    retries: 4,
    sleep: (_ms, signal) => {
      ctl.abort();
      return Promise.reject(signal?.reason as Error);
    },
  });
  await assert.rejects(c.getTipHeight(ctl.signal), { name: 'AbortError' });
  assert.equal(srv.requests.length, 1);
});

// A default sleep that ignored the abort would hold this test for the whole Retry-After (a minute): the
// test's own timeout fails it first.
void test('the default sleep waits and can be aborted', { timeout: 30_000 }, async (t) => {
  const { srv, c } = await setup(t, (_req, n) => (n === 1 ? { status: 503 } : { body: '3' }), { sleep: undefined, backoffMs: 20 });
  assert.equal(await c.getTipHeight(), 3);
  assert.equal(srv.requests.length, 2);
  const ctl = new AbortController();
  // The jitter is drawn just before the sleep starts: the abort lands on the next turn, inside the sleep.
  const { srv: slowSrv, c: slow } = await setup(t, () => ({ status: 503, headers: { 'retry-after': '60' } }), {
    sleep: undefined,
    maxRetryAfterMs: 60_000,
    random: () => {
      setImmediate(() => ctl.abort());
      return 0.5;
    },
  });
  await assert.rejects(slow.getTipHeight(ctl.signal), { name: 'AbortError' });
  assert.equal(slowSrv.requests.length, 1);
});

// ---- broadcast ----

void test('broadcast POSTs the hex once and returns the txid, checked against the hex', async (t) => {
  const tx = sampleTx();
  const { srv, c } = await setup(t, routes({ '/tx': { body: tx.getId() } }));
  assert.equal(await c.broadcast(tx.toHex()), tx.getId());
  assert.equal(srv.requests.length, 1);
  assert.equal(srv.requests[0]?.method, 'POST');
  assert.equal(srv.requests[0]?.body, tx.toHex());
});

void test('broadcast answered 503 is one request only and CHAIN_UNAVAILABLE, outcome unknown, naming the txid', async (t) => {
  const tx = sampleTx();
  const { srv, c, sleeps } = await setup(t, () => ({ status: 503 }), { retries: 4 });
  const e = await rejectsWith(c.broadcast(tx.toHex()), 'CHAIN_UNAVAILABLE');
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(sleeps, []);
  assert.match(e.message, /unknown/);
  assert.match(e.message, new RegExp(tx.getId()));
  assert.deepEqual(e.details, { txid: tx.getId(), outcome: 'unknown', endpoint: '/tx' });
});

void test('broadcast that times out is not retried either: outcome unknown', async (t) => {
  const tx = sampleTx();
  const d = manualDeadlines();
  const { srv, c, sleeps } = await setup(
    t,
    () => {
      setImmediate(() => d.expireOpen());
      return 'hang';
    },
    { timeoutMs: 100, retries: 4, deadline: d.deadline },
  );
  const e = await rejectsWith(c.broadcast(tx.toHex()), 'CHAIN_UNAVAILABLE');
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(sleeps, []);
  assert.deepEqual(d.armed.map((x) => x.expired), [true]);
  assert.equal(e.details?.outcome, 'unknown');
});

void test('broadcast aborted while in flight reports an unknown outcome, not a plain abort', async (t) => {
  const tx = sampleTx();
  const ctl = new AbortController();
  const d = manualDeadlines();
  const { srv, c } = await setup(
    t,
    () => {
      setImmediate(() => ctl.abort());
      return 'hang';
    },
    { timeoutMs: 10_000, deadline: d.deadline },
  );
  const e = await rejectsWith(c.broadcast(tx.toHex(), ctl.signal), 'CHAIN_UNAVAILABLE');
  assert.deepEqual(d.armed.map((x) => x.expired), [false], 'the abort ended it, not the deadline');
  assert.equal(e.details?.outcome, 'unknown');
  assert.equal(srv.requests.length, 1);
});

void test('broadcast to a port nobody listens on was certainly not sent', async (t) => {
  const srv = await serve(() => ({ body: '' }));
  const url = srv.url;
  await srv.close();
  const c = new EsploraClient({ baseUrl: url, sleep: () => assert.fail('no retry') });
  const e = await rejectsWith(c.broadcast(sampleTx().toHex()), 'CHAIN_UNAVAILABLE');
  assert.equal(e.details?.outcome, 'not_sent');
  assert.match(e.message, /not sent/);
  t.diagnostic(e.message);
});

void test('broadcast answered 400 is CHAIN_TX_REJECTED carrying the node reason', async (t) => {
  const tx = sampleTx();
  const { c } = await setup(t, () => ({ status: 400, body: 'sendrawtransaction RPC error: {"code":-26,"message":"min relay fee not met, 100 < 141"}' }));
  const e = await rejectsWith(c.broadcast(tx.toHex()), 'CHAIN_TX_REJECTED');
  assert.match(e.message, /min relay fee not met, 100 < 141/);
  assert.deepEqual(e.details, { txid: tx.getId(), reason: 'min relay fee not met, 100 < 141', rpcCode: -26 });

  const { c: c2 } = await setup(t, () => ({ status: 400, body: 'bad-txns-inputs-missingorspent\u0007\n' }));
  const e2 = await rejectsWith(c2.broadcast(tx.toHex()), 'CHAIN_TX_REJECTED');
  assert.equal(e2.details?.reason, 'bad-txns-inputs-missingorspent');
});

void test('broadcast answered with another txid is a bad response that says to check the txid', async (t) => {
  const tx = sampleTx();
  for (const body of [TXID_B, 'ok', '']) {
    const { srv, c } = await setup(t, () => ({ body }));
    const e = await rejectsWith(c.broadcast(tx.toHex()), 'CHAIN_BAD_RESPONSE');
    assert.match(e.message, new RegExp(`check ${tx.getId()}`));
    assert.equal(srv.requests.length, 1);
  }
});

// ---- fee estimates ----

void test('fee estimates become sat per 1000 vB bigints, rounded up, sorted by target', async (t) => {
  const { c } = await setup(t, routes({ '/fee-estimates': json({ 144: 1, 2: 87.882, 3: 2.007, 6: 1.027, 1008: 0.0001, 504: 0 }) }));
  const got = await c.getFeeEstimates();
  assert.deepEqual([...got.entries()], [
    [2, 87_882n],
    [3, 2_007n],
    [6, 1_027n],
    [144, 1_000n],
    [504, 0n],
    [1008, 1n],
  ]);
  const { c: empty } = await setup(t, routes({ '/fee-estimates': json({}) }));
  assert.equal((await empty.getFeeEstimates()).size, 0);
});

void test('garbage fee estimates are bad responses', async (t) => {
  const bodies = ['{"2": ', '[1, 2]', 'null', '{"2": "5"}', '{"2": -1}', '{"2": null}', '{"abc": 5}', '{"0": 5}', '{"-2": 5}', '{"2.5": 5}', '{"2": 1e308}', '{"2": 1000001}'];
  for (const body of bodies) {
    const { c } = await setup(t, routes({ '/fee-estimates': { body } }));
    await rejectsWith(c.getFeeEstimates(), 'CHAIN_BAD_RESPONSE');
  }
});

// ---- construction ----

void test('a bad base URL is CONFIG_INVALID without echoing it; createChainBackend builds a working client', async (t) => {
  for (const baseUrl of ['not a url', 'ftp://bob:pw@example.com/api']) {
    const e = await rejectsWith(Promise.resolve().then(() => new EsploraClient({ baseUrl })), 'CONFIG_INVALID');
    assert.ok(!e.message.includes('pw'));
  }
  await rejectsWith(Promise.resolve().then(() => new EsploraClient({ baseUrl: 'http://x', timeoutMs: 0 })), 'CONFIG_INVALID');
  assert.ok(new EsploraClient({ baseUrl: 'http://u%zz:p%@x/api' }) instanceof EsploraClient); // malformed escapes in userinfo do not throw
  await rejectsWith(Promise.resolve().then(() => new EsploraClient({ baseUrl: 'http://x', retries: -1 })), 'CONFIG_INVALID');
  const srv = await serve(routes({ '/api/blocks/tip/height': { body: '9' } }));
  t.after(() => srv.close());
  const chain = createChainBackend({ esploraUrl: `${srv.url}/api/`, timeoutMs: 1000 });
  assert.equal(await chain.getTipHeight(), 9);
});
