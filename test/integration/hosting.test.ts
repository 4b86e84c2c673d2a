// The customer's path on a real regtest chain: quote, pay, upload, metered download, balances, freezing,
// grace and deletion (README.md, "A customer's first steps"). Each test runs a real devnet and a real agent over HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, truncateSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startTestAgent } from '../helpers/agent.ts';
import { paidFile, paidQuote, payAndConfirm, quote, runWatcher, upload } from '../helpers/paid.ts';

interface FileInfo {
  fileId: string;
  state: string;
  balanceMsat: string;
  address: string;
  deleteAt?: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function blobFiles(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  walk(join(dataDir, 'blobs', 'blobs'));
  return out;
}

test('the whole customer path: quote, pay, upload, download with a matching sha256 and ETag', async (t) => {
  const a = await startTestAgent(t);
  const info = await a.api<{ network: string; prices: { minimumDepositSat: number } }>('GET', '/v1/info');
  assert.equal(info.body.network, 'regtest');
  const bytes = new TextEncoder().encode('hello, storj\n'.repeat(1000));
  const q = await quote(a.api, { size: bytes.length, days: 7, downloads: 2, filename: 'hello.txt', contentType: 'text/plain' });
  assert.match(q.address, /^bcrt1q/);
  assert.ok(q.amountSat >= info.body.prices.minimumDepositSat);
  assert.ok(q.bip21.startsWith(`bitcoin:${q.address}?amount=`));
  assert.equal((await a.api<{ state: string }>('GET', `/v1/uploads/${q.id}`)).body.state, 'awaiting_payment');

  await payAndConfirm(a.api, [q]);
  const status = await a.api<{ state: string; receivedSat: number; confirmedSat: number }>('GET', `/v1/uploads/${q.id}`);
  assert.equal(status.body.state, 'paid');
  assert.equal(status.body.confirmedSat, q.amountSat);

  const done = await upload(a.api, q, bytes);
  assert.equal(done.sha256, sha256(bytes));
  assert.equal(done.url, `${a.agent.url}/f/${done.fileId}`);
  assert.equal((await a.api<{ state: string; fileId: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization: `Bearer ${q.uploadToken}` })).body.fileId, done.fileId);

  const file = await a.api<FileInfo>('GET', `/v1/files/${done.fileId}`);
  assert.equal(file.body.state, 'active');
  assert.equal(file.body.address, q.address, 'the upload address stays the top-up address');
  assert.equal(BigInt(file.body.balanceMsat), BigInt(q.amountSat) * 1000n, 'the payment is the opening balance');

  const head = await fetch(`${a.agent.url}/f/${done.fileId}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  assert.equal((await a.api<FileInfo>('GET', `/v1/files/${done.fileId}`)).body.balanceMsat, file.body.balanceMsat, 'HEAD is free');

  const got = await fetch(`${a.agent.url}/f/${done.fileId}`);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('etag'), `"${done.sha256}"`);
  assert.equal(got.headers.get('content-type'), 'text/plain');
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), done.sha256);
  const after = await a.api<FileInfo>('GET', `/v1/files/${done.fileId}`);
  assert.ok(BigInt(after.body.balanceMsat) < BigInt(file.body.balanceMsat), 'the download was charged');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);

  // A second upload to the same quote is a conflict; the OpenAPI document describes the routes.
  const again = await a.api('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(again.status, 409);
  const openapi = await a.api<{ paths: Record<string, unknown> }>('GET', '/v1/openapi.json');
  for (const p of ['/v1/uploads', '/v1/uploads/{id}', '/v1/files/{fileId}', '/f/{fileId}', '/v1/info']) assert.ok(p in openapi.body.paths, p);
});

test('underpaying gets 402 with what is missing; a second payment to the same address lets the upload through', async (t) => {
  // Storage priced so that half the quote is still above the dust limit.
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' } });
  const bytes = new Uint8Array(1024 * 1024).fill(7);
  const q = await quote(a.api, { size: bytes.length });
  const part = Math.floor(q.amountSat / 2);
  await payAndConfirm(a.api, [{ address: q.address, amountSat: part }]);
  const r = await a.api<{ error: { code: string }; address: string; amountSat: number; receivedSat: number }>('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(r.status, 402);
  assert.equal(r.body.error.code, 'PAYMENT_REQUIRED');
  assert.equal(r.body.address, q.address);
  assert.equal(r.body.amountSat, q.amountSat);
  assert.equal(r.body.receivedSat, part);
  await payAndConfirm(a.api, [{ address: q.address, amountSat: q.amountSat - part }]);
  const done = await upload(a.api, q, bytes);
  const file = await a.api<FileInfo>('GET', `/v1/files/${done.fileId}`);
  assert.equal(BigInt(file.body.balanceMsat), BigInt(q.amountSat) * 1000n, 'both payments are the balance');
});

test('a body of the wrong length gets 400 and nothing is stored; a wrong token gets 401', async (t) => {
  const a = await startTestAgent(t);
  const q = await paidQuote(a.api, { size: 1000 });
  const noToken = await a.api<{ error: { code: string } }>('PUT', `/v1/uploads/${q.id}`, new Uint8Array(1000));
  assert.equal(noToken.status, 401);
  const wrong = await a.api<{ error: { code: string } }>('PUT', `/v1/uploads/${q.id}`, new Uint8Array(1000), { authorization: 'Bearer not-the-token' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, 'UNAUTHORIZED');
  for (const size of [999, 1001]) {
    const r = await a.api<{ error: { code: string } }>('PUT', `/v1/uploads/${q.id}`, new Uint8Array(size), { authorization: `Bearer ${q.uploadToken}` });
    assert.equal(r.status, 400, `${size} bytes`);
    assert.equal(r.body.error.code, 'UPLOAD_SIZE_MISMATCH');
  }
  assert.deepEqual(blobFiles(a.dataDir), [], 'no blob kept');
  assert.equal((await a.api<{ state: string }>('GET', `/v1/uploads/${q.id}`)).body.state, 'paid', 'the upload can still be made');
  await upload(a.api, q, new Uint8Array(1000));
  assert.equal(blobFiles(a.dataDir).length, 1);
});

test('bad requests get 400 with a code; a size above the limit gets 413; unknown ids get 404', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_MAX_FILE_SIZE: '1000000' } });
  for (const body of [{ size: 0 }, { size: -1 }, { size: 1.5 }, { size: '10' }, {}, { size: 10, colour: 'blue' }, { size: 10, days: 0 }]) {
    const r = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'BAD_REQUEST');
  }
  const bad = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', '{"size": 10', { 'content-type': 'application/json' });
  assert.equal(bad.status, 400);
  const big = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', { size: 1_000_001 });
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal((await a.api('GET', '/v1/uploads/AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
  assert.equal((await a.api('GET', '/v1/files/AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
  assert.equal((await a.api('GET', '/f/AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
  assert.equal((await a.api('GET', '/f/..%2F..%2Fetc%2Fpasswd')).status, 404);
});

test('a range request is charged exactly its bytes, and an aborted download only the bytes sent', async (t) => {
  const a = await startTestAgent(t);
  const size = 8 * 1024 * 1024;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31) & 0xff;
  const { fileId } = await paidFile(a.api, bytes, { downloads: 3 });
  const egressPrice = BigInt((await a.api<{ prices: { egressMsatPerGib: string } }>('GET', '/v1/info')).body.prices.egressMsatPerGib);
  const GiB = 1024n ** 3n;
  const cost = (n: bigint) => (n * egressPrice + GiB - 1n) / GiB;
  const balance = async () => BigInt((await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body.balanceMsat);

  const b0 = await balance();
  const r = await fetch(`${a.agent.url}/f/${fileId}`, { headers: { range: 'bytes=1000-1999999' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 1000-1999999/${size}`);
  const part = new Uint8Array(await r.arrayBuffer());
  assert.equal(part.length, 1_999_000);
  assert.deepEqual(part.subarray(0, 16), bytes.subarray(1000, 1016));
  const b1 = await balance();
  assert.equal(b0 - b1, cost(1_999_000n), 'charged exactly the range');
  a.agent.host.retryPendingWrites(); // the group commit now, not on its timer (src/host/meter.ts)
  const entries = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
  assert.equal(entries.at(-1)?.amountMsat, -cost(1_999_000n));

  const unsatisfiable = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`, undefined, { range: `bytes=${size}-` });
  assert.equal(unsatisfiable.status, 416);
  assert.equal(await balance(), b1, 'a 416 costs nothing');

  // Read a little of the whole file, then hang up.
  const ctl = new AbortController();
  const res = await fetch(`${a.agent.url}/f/${fileId}`, { signal: ctl.signal });
  const reader = res.body?.getReader();
  assert.ok(reader);
  let received = 0;
  while (received < 256 * 1024) {
    const chunk = await reader.read();
    if (chunk.done) break;
    received += (chunk.value as Uint8Array).length;
  }
  ctl.abort();
  await reader.cancel().catch(() => undefined);
  // Wait for the server to settle the download.
  let b2 = b1;
  for (let i = 0; i < 100 && b2 === b1; i++) {
    await new Promise((r2) => setTimeout(r2, 50));
    b2 = await balance();
  }
  const charged = b1 - b2;
  assert.ok(charged > 0n, 'the bytes sent were charged');
  assert.ok(charged < cost(BigInt(size)), `an aborted download is not charged in full (${charged} < ${cost(BigInt(size))})`);
  a.agent.host.retryPendingWrites();
  const egress = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress').at(-1);
  const row = a.agent.db.prepare('SELECT bytes_sent FROM downloads WHERE file_id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1').get(fileId) as { bytes_sent: bigint };
  assert.ok(row.bytes_sent >= BigInt(received) && row.bytes_sent < BigInt(size), `settled on the bytes sent (${row.bytes_sent})`);
  assert.equal(egress?.amountMsat, -cost(row.bytes_sent), 'the charge is the bytes sent, at the egress price');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('clients that hang up at once, even before the download is set up, leave no download unsettled', async (t) => {
  const a = await startTestAgent(t);
  const size = 1024 * 1024;
  const { fileId } = await paidFile(a.api, new Uint8Array(size).fill(3), { downloads: 40 });
  const { hostname, port } = new URL(a.agent.url);
  // Each request's socket is destroyed as soon as it is written, so some close while the hold is being taken.
  for (let i = 0; i < 30; i++) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: hostname, port: Number(port) }, () => {
        s.end(`GET /f/${fileId} HTTP/1.1\r\nHost: x\r\n\r\n`, () => {
          s.destroy();
          resolve();
        });
      });
      s.on('error', () => resolve());
    });
  }
  let open = -1n;
  for (let i = 0; i < 100 && open !== 0n; i++) {
    await new Promise((r2) => setTimeout(r2, 50));
    open = (a.agent.db.prepare('SELECT count(*) AS n FROM downloads WHERE settled_at IS NULL').get() as { n: bigint }).n;
  }
  assert.equal(open, 0n, 'every hold was released or charged');
  const held = (a.agent.db.prepare('SELECT held_msat FROM file_accounts WHERE file_id = ?').get(fileId) as { held_msat: bigint }).held_msat;
  assert.equal(held, 0n, 'nothing stays held');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('a blob damaged on disk: a download under way is cut short and charged only what was sent; the next gets 500', async (t) => {
  const a = await startTestAgent(t);
  const size = 32 * 1024 * 1024;
  const bytes = new Uint8Array(size).fill(7);
  const { fileId } = await paidFile(a.api, bytes, { downloads: 3 });
  const [blob] = blobFiles(a.dataDir);
  assert.ok(blob);
  const balance = async () => BigInt((await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body.balanceMsat);

  // The status line is out before the damage: the client has nothing but a body shorter than content-length.
  const r = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), String(size));
  chmodSync(blob, 0o600);
  truncateSync(blob, size / 2);
  const got = await r.arrayBuffer().then(
    (b) => b.byteLength,
    () => -1,
  );
  assert.equal(got, -1, 'the body ends early, so the client sees a failed transfer, not a short file');
  let row: { bytes_sent: bigint | null; settled_at: bigint | null } | undefined;
  for (let i = 0; i < 100 && !row?.settled_at; i++) {
    await new Promise((r2) => setTimeout(r2, 50));
    row = a.agent.db.prepare('SELECT bytes_sent, settled_at FROM downloads WHERE file_id = ?').get(fileId) as typeof row;
  }
  assert.ok(row?.settled_at, 'the download was settled');
  assert.ok(row.bytes_sent !== null && row.bytes_sent <= BigInt(size / 2), `charged at most the bytes the blob still had (${row.bytes_sent})`);

  // Found at the start of the next download: an error before anything is sent or charged.
  const b0 = await balance();
  const again = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(again.status, 500);
  assert.equal(again.body.error.code, 'BLOB_TRUNCATED');
  assert.equal(await balance(), b0, 'nothing charged');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('days pass, the balance goes negative, the file freezes and downloads get 402; a third party pays and it is active again', async (t) => {
  // Expensive storage so a day costs a visible amount: ~3.4 sat per MiB-day.
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' } });
  const bytes = new Uint8Array(1024 * 1024).fill(1);
  const { fileId, quote: q } = await paidFile(a.api, bytes, { days: 1, downloads: 1 });

  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  const frozen = await a.api<FileInfo>('GET', `/v1/files/${fileId}`);
  assert.equal(frozen.body.state, 'frozen');
  assert.ok(BigInt(frozen.body.balanceMsat) < 0n);
  assert.ok(frozen.body.deleteAt, 'a frozen file says when it will be deleted');
  const refused = await a.api<{ error: { code: string }; address: string; bip21: string; amountSat: number }>('GET', `/f/${fileId}`);
  assert.equal(refused.status, 402);
  assert.equal(refused.body.error.code, 'FILE_FROZEN');
  assert.equal(refused.body.address, q.address);
  assert.ok(refused.body.amountSat > 0);
  assert.ok(refused.body.bip21.startsWith(`bitcoin:${q.address}`));

  // Anyone can pay the file's address: here the devnet's miner, a third party.
  await payAndConfirm(a.api, [{ address: q.address, amountSat: refused.body.amountSat + q.amountSat }]);
  const thawed = await a.api<FileInfo>('GET', `/v1/files/${fileId}`);
  assert.equal(thawed.body.state, 'active');
  const got = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.equal(got.status, 200);
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(bytes));
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});

test('grace exceeded: the file is deleted, its blob is gone and downloads get 410', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000', STORJ_GRACE_SECONDS: '86400' } });
  const bytes = new Uint8Array(1024 * 1024).fill(2);
  const { fileId } = await paidFile(a.api, bytes);
  assert.equal(blobFiles(a.dataDir).length, 1);
  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  assert.equal((await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body.state, 'frozen');
  await a.api('POST', '/v1/dev/advance', { seconds: 2 * 86_400 });
  const gone = await a.api<FileInfo>('GET', `/v1/files/${fileId}`);
  assert.equal(gone.body.state, 'deleted');
  assert.deepEqual(blobFiles(a.dataDir), [], 'the blob is removed');
  const r = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(r.status, 410);
  assert.equal(r.body.error.code, 'FILE_DELETED');
  assert.equal((await fetch(`${a.agent.url}/f/${fileId}`, { method: 'HEAD' })).status, 410);
});

test('identical bytes uploaded while the deletion job removes them are kept for the new file', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000', STORJ_GRACE_SECONDS: '86400' } });
  const bytes = new Uint8Array(1024 * 1024).fill(4);
  await paidFile(a.api, bytes);
  // A second customer has paid for the same bytes and uploads them exactly when the deletion job, having found
  // the old file's blob unreferenced, is about to remove it.
  const fresh = await paidQuote(a.api, { size: bytes.length, days: 30 });
  const remove = a.agent.blobs.delete.bind(a.agent.blobs);
  let raced: { fileId: string } | undefined;
  a.agent.blobs.delete = async (sha, opts) => {
    raced ??= await upload(a.api, fresh, bytes);
    return remove(sha, opts);
  };
  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  await a.api('POST', '/v1/dev/advance', { seconds: 2 * 86_400 });
  assert.ok(raced, 'the upload ran inside the deletion');
  assert.equal(blobFiles(a.dataDir).length, 1, 'the blob is still there');
  const got = await fetch(`${a.agent.url}/f/${raced.fileId}`);
  assert.equal(got.status, 200);
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(bytes));
});

test('a reorg that drops a payment reverses its credit', async (t) => {
  const a = await startTestAgent(t);
  const bytes = new Uint8Array(2000).fill(3);
  const q = await quote(a.api, { size: bytes.length });
  const txids = await payAndConfirm(a.api, [q]);
  const { fileId } = await upload(a.api, q, bytes);
  assert.equal(BigInt((await a.api<FileInfo>('GET', `/v1/files/${fileId}`)).body.balanceMsat), BigInt(q.amountSat) * 1000n);

  await a.devnet.reorg({ depth: 1, doubleSpend: txids });
  await runWatcher(a.api);
  const after = await a.api<FileInfo>('GET', `/v1/files/${fileId}`);
  assert.ok(BigInt(after.body.balanceMsat) <= 0n, `the credit is reversed (${after.body.balanceMsat})`);
  const kinds = a.agent.host.ledger.entries(fileId).map((e) => e.kind);
  assert.deepEqual(kinds.filter((k) => k !== 'storage'), ['payment', 'reversal']);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});
