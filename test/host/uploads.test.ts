// Receiving an upload's bytes (src/host/uploads.ts): the token, the payment and the size are checked before a
// byte is kept; a complete upload is stored once and becomes an active file with its payment as its balance;
// bytes promised to an upload in flight are not offered to another quote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bytes, codeOf, fileRow, hostFixture, readAll, storedFile } from './helpers.ts';

const BODY = Buffer.from('the bytes of a file');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a paid upload is stored whole, becomes active, and its payment is its opening balance', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length, filename: 'f.txt', contentType: 'text/plain' });
  f.pay(q.address, q.amountSat + 7n);
  const r = await f.host.putUpload(q.id, q.uploadToken, bytes(BODY.subarray(0, 5), BODY.subarray(5)), { contentLength: BODY.length });
  assert.deepEqual(r, { fileId: r.fileId, size: BODY.length, sha256: sha(BODY) });
  const row = fileRow(f.db, r.fileId);
  assert.equal(row.state, 'active');
  assert.equal(row.sha256, sha(BODY));
  assert.equal(row.balance_msat, (q.amountSat + 7n) * 1000n);
  assert.equal(row.charged_until, BigInt(f.clock.ms), 'storage is charged from completion');
  assert.deepEqual(await readAll(await f.blobs.open(sha(BODY))), BODY);
  assert.deepEqual(f.events, [`credited ${q.amountSat + 7n}`, `ingress ${BODY.length}`]);
  const view = f.host.fileView(r.fileId);
  assert.equal(view.filename, 'f.txt');
  assert.equal(view.contentType, 'text/plain');
  assert.equal(view.state, 'active');
});

test('without the right token: 401, whatever else is true', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length });
  f.pay(q.address, q.amountSat);
  assert.equal(await codeOf(() => f.host.putUpload(q.id, undefined, bytes(BODY))), 'UNAUTHORIZED');
  assert.equal(await codeOf(() => f.host.putUpload(q.id, '', bytes(BODY))), 'UNAUTHORIZED');
  assert.equal(await codeOf(() => f.host.putUpload(q.id, `${q.uploadToken}x`, bytes(BODY))), 'UNAUTHORIZED');
  assert.equal(await codeOf(() => f.host.putUpload('A'.repeat(22), q.uploadToken, bytes(BODY))), 'NOT_FOUND');
  assert.equal(f.host.uploadStatus(q.id).state, 'paid', 'the file is still waiting for its bytes');
  assert.equal((await f.blobs.usage()).usedBytes, 0n);
});

test('before the payment counts in full: 402 with the address and the amounts, and nothing is read', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length });
  f.pay(q.address, q.amountSat - 10n);
  let read = false;
  const body = (async function* () {
    read = true;
    yield await Promise.resolve(BODY);
  })();
  const err = await f.host.putUpload(q.id, q.uploadToken, body).then(
    () => undefined,
    (e: unknown) => e as { code: string; details: Record<string, unknown> },
  );
  assert.equal(err?.code, 'PAYMENT_REQUIRED');
  assert.equal(err?.details.address, q.address);
  assert.equal(err?.details.amountSat, q.amountSat);
  assert.equal(err?.details.receivedSat, q.amountSat - 10n);
  assert.match(String(err?.details.bip21), /amount=0\.0000001(&|$)/, 'the URI asks for the 10 sat missing');
  assert.equal(read, false);
  assert.equal((await f.blobs.usage()).usedBytes, 0n);
});

test('a body of the wrong size keeps nothing and the same upload can be retried', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length });
  f.pay(q.address, q.amountSat);
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY), { contentLength: BODY.length + 1 })), 'UPLOAD_SIZE_MISMATCH');
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY.subarray(1)))), 'UPLOAD_SIZE_MISMATCH');
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY, Buffer.from('!')))), 'UPLOAD_SIZE_MISMATCH');
  assert.equal(await f.blobs.stat(sha(BODY)), null);
  assert.equal(f.host.uploadStatus(q.id).state, 'paid', 'still paid, still pending');
  const r = await f.host.putUpload(q.id, q.uploadToken, bytes(BODY));
  assert.equal(r.sha256, sha(BODY));
});

test('an upload is taken once: a second PUT gets UPLOAD_COMPLETE, one during the first gets UPLOAD_IN_PROGRESS', async (t) => {
  const f = hostFixture(t);
  const q = await f.host.createUpload({ size: BODY.length });
  f.pay(q.address, q.amountSat);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let started!: () => void;
  const streaming = new Promise<void>((resolve) => (started = resolve));
  const slow = (async function* () {
    started();
    await gate;
    yield BODY;
  })();
  const first = f.host.putUpload(q.id, q.uploadToken, slow);
  await streaming;
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY))), 'UPLOAD_IN_PROGRESS');
  open();
  const r = await first;
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY))), 'UPLOAD_COMPLETE');
  assert.equal(fileRow(f.db, r.fileId).state, 'active');
});

test('identical bytes uploaded twice are one blob held by two files', async (t) => {
  const f = hostFixture(t);
  const a = await storedFile(f, BODY);
  const b = await storedFile(f, BODY);
  assert.notEqual(a.fileId, b.fileId);
  assert.equal(a.sha256, b.sha256);
  assert.equal((await f.blobs.usage()).usedBytes, BigInt(BODY.length));
});

test('bytes promised to an upload in flight are not offered to a quote, and come back when it ends', async (t) => {
  const free = 1_000n;
  const f = hostFixture(t, { freeBytes: () => Promise.resolve(free) });
  const body = Buffer.alloc(800, 7);
  const q = await f.host.createUpload({ size: body.length });
  f.pay(q.address, q.amountSat);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let started!: () => void;
  const streaming = new Promise<void>((resolve) => (started = resolve));
  const upload = f.host.putUpload(
    q.id,
    q.uploadToken,
    (async function* () {
      started();
      await gate;
      yield body;
    })(),
  );
  await streaming;
  assert.equal(await codeOf(() => f.host.createUpload({ size: 201 })), 'INSUFFICIENT_STORAGE', '800 of the 1000 free bytes are promised');
  await f.host.createUpload({ size: 200 });
  open();
  await upload;
  // The fake statfs does not shrink as the blob lands: what matters here is that the reservation is gone.
  await f.host.createUpload({ size: 1_000 });
});

test('a reservation is given back when an upload fails', async (t) => {
  const f = hostFixture(t, { freeBytes: () => Promise.resolve(1_000n) });
  const q = await f.host.createUpload({ size: 800 });
  f.pay(q.address, q.amountSat);
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(Buffer.alloc(10)))), 'UPLOAD_SIZE_MISMATCH');
  await f.host.createUpload({ size: 1_000 });
});

test('a degraded agent or a disk that filled since the quote refuses the upload before reading it', async (t) => {
  let problems: string[] = [];
  let free = 1_000n;
  const f = hostFixture(t, { freeBytes: () => Promise.resolve(free), storageProblems: () => Promise.resolve(problems) });
  const q = await f.host.createUpload({ size: BODY.length });
  f.pay(q.address, q.amountSat);
  problems = ['database not writable'];
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY))), 'DEGRADED');
  problems = [];
  free = BigInt(BODY.length - 1);
  assert.equal(await codeOf(() => f.host.putUpload(q.id, q.uploadToken, bytes(BODY))), 'INSUFFICIENT_STORAGE');
  free = 1_000n;
  assert.equal((await f.host.putUpload(q.id, q.uploadToken, bytes(BODY))).sha256, sha(BODY), 'the quote stayed paid');
});
