// The download fast path (src/host/hot-files.ts, docs/metering.md "The fast path") on a real agent and a real
// regtest chain: once a small file's bytes are in memory, plain GETs and HEADs are answered without the routes,
// with the routes' headers and the routes' charges; concurrent downloads still never spend more than the
// balance; and the moment a write makes the balance short, or the file frozen or deleted, the routes answer again.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { egressMsat } from '../../src/ledger/index.ts';
import { getAlone, startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { paidFile } from '../helpers/paid.ts';
import { until } from '../helpers/disk.ts';

/** Counts the routes' calls into the host: a GET /f/ that reached them calls startDownload, a HEAD headFile. */
function routeCalls(t: TestContext, a: TestAgent): { gets: () => number; heads: () => number } {
  const start = t.mock.method(a.agent.host, 'startDownload');
  const head = t.mock.method(a.agent.host, 'headFile');
  return { gets: () => start.mock.callCount(), heads: () => head.mock.callCount() };
}

/** The headers of an answer that say anything about the file (not the date nor the connection's). */
function fileHeaders(r: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of r.headers) if (!['date', 'connection', 'keep-alive'].includes(k)) out[k] = v;
  return out;
}

/** A stored 4 KiB file whose bytes the fast path has loaded (after one GET through the routes). */
async function hotFile(a: TestAgent, options: { downloads: number }): Promise<{ fileId: string; body: Buffer; link: string; firstGet: Response }> {
  const body = randomBytes(4096);
  const { fileId } = await paidFile(a.api, body, options);
  const link = `${a.agent.url}/f/${fileId}`;
  const kept = a.agent.host.hotFiles;
  const firstGet = await fetch(link);
  assert.equal(firstGet.status, 200);
  assert.deepEqual(Buffer.from(await firstGet.arrayBuffer()), body);
  await until('the fast path to load the file', () => a.agent.host.hotFiles.files === kept.files + 1);
  assert.equal(a.agent.host.hotFiles.bytes, kept.bytes + body.length);
  return { fileId, body, link, firstGet };
}

function egressEntries(a: TestAgent, fileId: string): bigint[] {
  return a.agent.host.ledger
    .entries(fileId)
    .filter((e) => e.kind === 'egress')
    .map((e) => e.amountMsat);
}

function balance(a: TestAgent, fileId: string): bigint {
  return (a.agent.db.prepare('SELECT balance_msat AS v FROM file_accounts WHERE file_id = ?').get(fileId) as { v: bigint }).v;
}

test('a small file in memory: GET and HEAD skip the routes, with the same headers, bytes and charges', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_METER_BATCH_MS: '60000' } });
  const headBefore = await fetch(`${a.agent.url}/f/${(await paidFile(a.api, randomBytes(10), { downloads: 1 })).fileId}`, { method: 'HEAD' });
  assert.equal(headBefore.status, 200, 'a HEAD of a file not in memory is the routes\'');
  const { fileId, body, link, firstGet } = await hotFile(a, { downloads: 30 });
  const calls = routeCalls(t, a);
  a.agent.host.retryPendingWrites();
  const b0 = balance(a, fileId);
  const charged0 = egressEntries(a, fileId).length;
  assert.equal(charged0, 1, 'the first GET, through the routes, is charged');

  for (let i = 0; i < 10; i++) {
    const r = await fetch(link);
    assert.equal(r.status, 200);
    assert.deepEqual(fileHeaders(r), fileHeaders(firstGet), 'the same headers as the routes gave');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), body);
  }
  const head = await fetch(link, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.deepEqual(fileHeaders(head), fileHeaders(firstGet), 'a HEAD has the GET\'s headers');
  assert.deepEqual({ gets: calls.gets(), heads: calls.heads() }, { gets: 0, heads: 0 }, 'none of them reached the routes');

  // What the fast path does not answer goes to the routes, untouched.
  const ranged = await fetch(link, { headers: { range: 'bytes=0-9' } });
  assert.equal(ranged.status, 206);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), body.subarray(0, 10));
  const etag = firstGet.headers.get('etag') ?? '';
  assert.equal((await fetch(link, { headers: { 'if-none-match': etag } })).status, 304);
  assert.equal((await fetch(`${link}?x=1`)).status, 200, 'a query string is the routes\' (they ignore it)');
  assert.equal(calls.gets(), 2, 'the ranged GET and the GET with a query reached the routes');

  a.agent.host.retryPendingWrites();
  const cost = egressMsat(BigInt(body.length), a.agent.host.currentPrices()?.egressMsatPerGib ?? 0n);
  const egress = egressEntries(a, fileId);
  assert.equal(egress.length, charged0 + 12, 'one charge per GET served: ten from memory, the range and the query');
  assert.deepEqual(egress.slice(charged0, charged0 + 10), Array(10).fill(-cost), 'each GET from memory charged the whole file');
  const rows = a.agent.db.prepare('SELECT bytes_sent AS n FROM downloads WHERE file_id = ? ORDER BY id').all(fileId) as Array<{ n: bigint }>;
  assert.equal(rows.length, charged0 + 12);
  assert.equal(balance(a, fileId), b0 - 11n * cost - egressMsat(10n, a.agent.host.currentPrices()?.egressMsatPerGib ?? 0n));
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), [], 'the balance is the sum of its entries');
});

test('concurrent downloads from memory against a balance that covers N: at most N are served', async (t) => {
  // Egress dear enough that the prepaid downloads, not the quote's minimum, make the balance.
  const a = await startTestAgent(t, { env: { STORJ_BANDWIDTH_COST_SAT_PER_GIB: '1000000000', STORJ_METER_BATCH_MS: '60000' } });
  const { fileId, link } = await hotFile(a, { downloads: 8 });
  const cost = egressMsat(4096n, a.agent.host.currentPrices()?.egressMsatPerGib ?? 0n);
  a.agent.host.retryPendingWrites();
  const b0 = balance(a, fileId);
  const n = Number(b0 / cost);
  assert.ok(n >= 6 && n < 40, `the balance covers ${n} downloads`);
  const calls = routeCalls(t, a);

  const answers = await Promise.all(Array.from({ length: n + 20 }, () => getAlone(link)));
  const served = answers.filter((r) => r.status === 200);
  const refused = answers.filter((r) => r.status === 402);
  assert.equal(served.length + refused.length, answers.length, 'every answer a 200 or a 402');
  assert.ok(served.every((r) => r.length === 4096), 'every 200 carried the whole file');
  assert.ok(served.length <= n && served.length >= n - 1, `${served.length} served, of ${n} the balance covers`);
  // The refusals, with their 402 amounts, are the routes'; the fast path counts storage a second ahead, so the
  // routes may serve the last one it would not.
  assert.ok(calls.gets() >= refused.length && calls.gets() <= refused.length + 1, `${calls.gets()} GETs reached the routes, ${refused.length} refused`);

  a.agent.host.retryPendingWrites();
  assert.equal(b0 - balance(a, fileId), BigInt(served.length) * cost, 'charged exactly the downloads served');
  assert.ok(balance(a, fileId) >= 0n);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), [], 'the balance is the sum of its entries');
});

test('a write that empties the balance, a freeze and a deletion end the fast path at once', async (t) => {
  // One day of grace after the file freezes.
  const a = await startTestAgent(t, { env: { STORJ_GRACE_SECONDS: '86400' } });
  const { fileId, link } = await hotFile(a, { downloads: 50 });
  const calls = routeCalls(t, a);
  // The group commit is a write to the ledger too: the GET after it reads the balance again and keeps it.
  a.agent.host.retryPendingWrites();
  assert.equal((await fetch(link)).status, 200);
  assert.equal(calls.gets(), 0, 'served from memory');

  // A reversal takes the whole balance (as a reorg would): the very next GET is refused, by the routes.
  const all = balance(a, fileId);
  a.agent.host.ledger.record({ fileId, kind: 'reversal', ref: 'test/0', amountMsat: -all, at: new Date() });
  const short = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(short.status, 402);
  assert.equal(short.body.error.code, 'INSUFFICIENT_BALANCE');
  assert.equal(calls.gets(), 1);

  // The next sweep's storage charge takes the empty balance below zero: the file freezes, then is deleted: 402 then 410, from the routes, never the bytes.
  await a.api('POST', '/v1/dev/advance', { seconds: 3600 });
  const frozen = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(frozen.status, 402);
  assert.equal(frozen.body.error.code, 'FILE_FROZEN');
  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  const gone = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(gone.status, 410);
  assert.equal((await fetch(link, { method: 'HEAD' })).status, 410);
  assert.equal(calls.gets(), 3);
  assert.equal(calls.heads(), 1);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('behind a trusted proxy every GET goes through the routes, which count each client\'s requests in flight', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_TRUST_PROXY: 'true' } });
  const body = randomBytes(4096);
  const { fileId } = await paidFile(a.api, body, { downloads: 10 });
  const calls = routeCalls(t, a);
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${a.agent.url}/f/${fileId}`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), body);
  }
  assert.equal(calls.gets(), 5);
  assert.equal(a.agent.host.hotFiles.files, 0, 'nothing is loaded for a fast path that never answers');
});

test('bytes the fast path cannot load: the routes serve the file, and the load is not tried again on every request', async (t) => {
  // No group commit during the test (it would move the ledger's epoch): the entry is read again once a second.
  const a = await startTestAgent(t, { env: { STORJ_METER_BATCH_MS: '60000' } });
  const body = randomBytes(4096);
  const { fileId } = await paidFile(a.api, body, { downloads: 20 });
  // The fast path reads the whole blob (no range); the routes read a range. Only the former fails here.
  const blobs = a.agent.blobs;
  const open = blobs.open.bind(blobs);
  const opens = t.mock.method(blobs, 'open', (sha256: string, range?: { start: number; end: number }) => (range === undefined ? Promise.reject(new Error('an unreadable blob')) : open(sha256, range)));
  const wholeReads = () => opens.mock.calls.filter((c) => c.arguments[1] === undefined).length;
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${a.agent.url}/f/${fileId}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), body);
  }
  assert.equal(a.agent.host.hotFiles.files, 0, 'nothing was loaded');
  // Tried again only when the entry is read again (at least a second apart, or after a write to the ledger).
  assert.ok(wholeReads() >= 1 && wholeReads() <= 3, `${wholeReads()} loads for 6 GETs`);
});
