// A full disk, on a real small filesystem the test mounts (tmpfs), with the agent's data dir on it: quotes and
// uploads refused with 507 when there is no room, ENOSPC mid-upload leaves nothing behind and the paid quote
// still works, a download cut off by a full disk is charged once space is back, /healthz tells the truth and
// recovers by itself, the agent starts on a full disk, a record that cannot be written leaves no orphan blob,
// and a refused upload closes its connection. The devnet stays in memory, off the small disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/index.ts';
import { diskFullError } from '../../src/errors/index.ts';
import { startAgent, type Agent } from '../../src/agent/index.ts';
import type { Devnet } from '../../src/devnet/index.ts';
import { agentEnv, api, initTestDataDir, spawnAgent, startDevnet, TEST_PASSPHRASE, type Api, type Ctx } from '../helpers/agent.ts';
import { paidQuote as paidQuoteOf, upload, type Quote, type QuoteRequest } from '../helpers/paid.ts';
import { countBlobs, fillDisk, freeBytes, MiB, mountTmpfs, rawPut, tmpParts, until } from '../helpers/disk.ts';

interface DiskAgent {
  agent: Agent;
  api: Api;
  dataDir: string;
  close(): Promise<void>;
}

/** An agent whose data dir is `dataDir` (on the small disk), on the in-memory devnet. Closed once, at the latest after the test. */
async function startDiskAgent(t: Ctx, devnet: Devnet, dataDir: string, opts: { init?: boolean } = {}): Promise<DiskAgent> {
  if (opts.init !== false) await initTestDataDir(dataDir);
  // A reserve of 8 MiB (the ballast is 4 MiB of it), so the small disk has room for files. Each download's
  // charge is written as it ends (no group of them waits), so a full disk is met at once.
  const config = loadConfig({ env: agentEnv(dataDir, devnet, { STORJ_DISK_RESERVE_BYTES: String(8 * MiB), STORJ_METER_BATCH_BYTES: '0' }) });
  const agent = await startAgent({ config, passphrase: TEST_PASSPHRASE });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= agent.close());
  t.after(close);
  return { agent, api: api(agent.url), dataDir, close };
}

/** A paid quote (test/helpers/paid.ts) that the agent says is paid. */
async function paidQuote(a: Pick<DiskAgent, 'api'>, size: number, extra: Omit<QuoteRequest, 'size'> = {}): Promise<Quote> {
  const q = await paidQuoteOf(a.api, { size, ...extra });
  assert.equal((await a.api<{ state: string }>('GET', `/v1/uploads/${q.id}`)).body.state, 'paid');
  return q;
}

function storedFiles(agent: Agent): number {
  return Number((agent.db.prepare('SELECT count(*) AS n FROM files WHERE sha256 IS NOT NULL').get() as { n: bigint }).n);
}

test('a quote larger than the free space gets 507 INSUFFICIENT_STORAGE; one that fits is quoted', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 48);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const big = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', { size: 200 * 1000 * 1000 });
  assert.equal(big.status, 507, big.text);
  assert.equal(big.body.error.code, 'INSUFFICIENT_STORAGE');
  // Just above what is free is refused too: the reserve for the database is not for sale.
  const over = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', { size: freeBytes(disk) });
  assert.equal(over.status, 507, over.text);
  assert.equal((await a.api('POST', '/v1/uploads', { size: MiB })).status, 201);
});

test('ENOSPC during an upload leaves no partial file and the paid quote still works; a refused PUT closes its connection', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 64);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const size = 16 * MiB;
  const bytes = randomBytes(size);
  const q = await paidQuote(a, size);
  const path = `/v1/uploads/${q.id}`;

  // The disk filled between the quote and the PUT: refused before the body is read, and the socket closed.
  let filler = fillDisk(disk);
  const early = await rawPut(a.agent.url, path, q.uploadToken, size, bytes.subarray(0, MiB));
  assert.equal(early.status, 507, early.head);
  assert.match(early.body, /INSUFFICIENT_STORAGE/);
  assert.match(early.head, /\r\nconnection: close/);
  unlinkSync(filler);

  // The disk fills while the body streams in: ENOSPC, answered 507 STORAGE_FULL, and no .part is left.
  const half = size / 2;
  const mid = await rawPut(
    a.agent.url,
    path,
    q.uploadToken,
    size,
    bytes.subarray(0, half),
    async () => {
      await until('the upload to be on disk', () => tmpParts(a.dataDir).some((n) => statSync(join(a.dataDir, 'blobs', 'tmp', n)).size > 0));
      filler = fillDisk(disk);
    },
    bytes.subarray(half),
  );
  assert.equal(mid.status, 507, mid.head);
  assert.match(mid.body, /STORAGE_FULL/);
  assert.match(mid.head, /\r\nconnection: close/);
  assert.deepEqual(tmpParts(a.dataDir), [], 'the partial file is removed');
  assert.equal((await a.api<{ state: string }>('GET', path)).body.state, 'paid', 'the quote stays paid');

  // Space comes back: the same upload goes through.
  unlinkSync(filler);
  const ok = await a.api<{ sha256: string }>('PUT', path, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(tmpParts(a.dataDir), []);
  assert.equal(countBlobs(a.dataDir), storedFiles(a.agent));
});

test('a download running while the disk fills: the agent stays up, degraded; once space is back the download is charged and balances equal their entries', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 80);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const size = 20 * MiB;
  const q = await paidQuote(a, size, { downloads: 3 });
  const { fileId } = await upload(a.api, q, randomBytes(size));
  const egressEntries = () => a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress').length;

  // A download that reads a little and then stalls, so it is still running when the disk fills.
  const u = new URL(a.agent.url);
  let received = 0;
  const req = request({ host: u.hostname, port: Number(u.port), path: `/f/${fileId}` });
  const firstBytes = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      res.once('data', (d: Buffer) => {
        received += d.length;
        res.pause();
        resolve();
      });
    });
    req.on('error', reject);
  });
  req.end();
  await firstBytes;
  assert.ok(a.agent.host.owedMsat(fileId) > 0n, 'the download reserves its cost');

  const filler = fillDisk(disk);
  req.on('error', () => undefined);
  req.destroy(); // the customer hangs up: the agent settles, and its database cannot be written
  await until('the settlement to be attempted', () => a.agent.host.pendingSettlements === 1);
  assert.equal(egressEntries(), 0, 'nothing was written yet');
  assert.ok(a.agent.host.owedMsat(fileId) > 0n, 'the charge still counts against the balance');

  // Up, and honest about it (once its cached look at the disk, at most a second old, has expired).
  assert.equal((await a.api('GET', '/v1/info')).status, 200);
  await until('/healthz to say degraded', async () => (await a.api('GET', '/healthz')).status === 503);
  const h = await a.api<{ status: string; reasons: string[] }>('GET', '/healthz');
  assert.equal(h.status, 503, h.text);
  assert.equal(h.body.status, 'degraded');
  assert.ok(h.body.reasons.includes('disk_low'), h.text);
  const refused = await a.api<{ error: { code: string } }>('POST', '/v1/uploads', { size: 1000 });
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.body.error.code, 'DEGRADED');
  // While the charges waiting cannot be written, a download is refused with a catalogue code, not a bare 500.
  const get = await a.api<{ error: { code: string } }>('GET', `/f/${fileId}`);
  assert.equal(get.status, 503, get.text.slice(0, 200));
  assert.equal(get.body.error.code, 'DEGRADED');
  // A retry while the disk is still full changes nothing.
  assert.equal(a.agent.host.retryPendingWrites().pending, 1);

  unlinkSync(filler);
  await until('/healthz to recover by itself', async () => (await a.api('GET', '/healthz')).status === 200);
  assert.deepEqual((await a.api('GET', '/healthz')).body, { status: 'ok' });
  // The agent's own timer may have got there first; either way it is written now, and once.
  assert.equal(a.agent.host.retryPendingWrites().pending, 0);
  assert.equal(a.agent.host.pendingSettlements, 0);
  assert.equal(a.agent.host.owedMsat(fileId), 0n);
  const held = a.agent.db.prepare('SELECT held_msat FROM file_accounts WHERE file_id = ?').get(fileId) as { held_msat: bigint };
  assert.equal(held.held_msat, 0n, 'the hold is released');
  const egress = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
  assert.equal(egress.length, 1, 'charged once');
  assert.ok(egress[0] !== undefined && egress[0].amountMsat < 0n && received > 0);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
  // A second retry writes nothing twice.
  assert.deepEqual(a.agent.host.retryPendingWrites(), { written: 0, pending: 0 });
  assert.equal(a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress').length, 1);
  assert.equal((await a.api('POST', '/v1/uploads', { size: 1000 })).status, 201, 'quoting again');
});

test('a restart on a full disk comes up, degraded, and recovers when space comes back', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 48);
  const dataDir = join(disk, 'data');
  const first = await startDiskAgent(t, devnet, dataDir);
  assert.equal((await first.api('POST', '/v1/uploads', { size: 1000 })).status, 201);
  await until('the disk ballast', () => existsSync(join(dataDir, 'disk-ballast')));
  await first.close();

  // Filled while it was down: even SQLite's WAL index has no room (the ballast gives it some).
  const filler = fillDisk(disk);
  const a = await startDiskAgent(t, devnet, dataDir, { init: false });
  assert.equal((await a.api('GET', '/v1/info')).status, 200);
  const h = await a.api<{ status: string; reasons: string[] }>('GET', '/healthz');
  assert.equal(h.status, 503, h.text);
  assert.ok(h.body.reasons.includes('disk_low'), h.text);
  assert.equal((await a.api<{ error: { code: string } }>('POST', '/v1/uploads', { size: 1000 })).body.error.code, 'DEGRADED');

  unlinkSync(filler);
  await until('/healthz to recover by itself', async () => (await a.api('GET', '/healthz')).status === 200);
  assert.equal((await a.api('POST', '/v1/uploads', { size: 1000 })).status, 201);
});

test('killed mid-download on a full disk: the next start comes up degraded, and the hold is released uncharged, once', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 80);
  const dataDir = join(disk, 'data');
  await initTestDataDir(dataDir);
  const proc = await spawnAgent(t, dataDir, devnet, { STORJ_DISK_RESERVE_BYTES: String(8 * MiB) });
  const remote = { api: api(proc.url) };
  const size = 20 * MiB;
  const q = await paidQuote(remote, size, { downloads: 3 });
  const { fileId } = await upload(remote.api, q, randomBytes(size));
  const u = new URL(proc.url);
  const req = request({ host: u.hostname, port: Number(u.port), path: `/f/${fileId}` });
  req.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    req.on('response', (res) => res.once('data', () => (res.pause(), resolve())));
    req.end();
  });
  const filler = fillDisk(disk);
  await proc.kill9();
  req.destroy();

  const a = await startDiskAgent(t, devnet, dataDir, { init: false });
  assert.equal((await a.api('GET', '/v1/info')).status, 200);
  const h = await a.api<{ status: string; reasons: string[] }>('GET', '/healthz');
  assert.equal(h.status, 503, h.text);
  assert.ok(h.body.reasons.includes('disk_low'), h.text);

  unlinkSync(filler);
  await until('/healthz to recover by itself', async () => (await a.api('GET', '/healthz')).status === 200);
  a.agent.host.retryPendingWrites();
  const open = a.agent.db.prepare('SELECT count(*) AS n FROM downloads WHERE settled_at IS NULL').get() as { n: bigint };
  assert.equal(open.n, 0n, 'the interrupted download is closed');
  const held = a.agent.db.prepare('SELECT held_msat FROM file_accounts WHERE file_id = ?').get(fileId) as { held_msat: bigint };
  assert.equal(held.held_msat, 0n, 'its hold is released');
  assert.equal(a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress').length, 0, 'the agent\'s crash is not charged');
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
  assert.deepEqual(a.agent.host.retryPendingWrites(), { written: 0, pending: 0 });
});

test('an upload whose record cannot be written leaves no orphan blob, and its retry works', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 32);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const bytes = randomBytes(MiB);
  const q = await paidQuote(a, bytes.length);
  // The update that makes the file active fails, as it does with SQLITE_FULL, after the blob is in place.
  a.agent.db.exec("CREATE TRIGGER test_refuse_complete BEFORE UPDATE OF state ON files WHEN NEW.state IN ('active', 'frozen') BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  const failed = await a.api('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.notEqual(failed.status, 201, failed.text);
  assert.equal(storedFiles(a.agent), 0);
  assert.equal(countBlobs(a.dataDir), 0, 'blobs == files');

  a.agent.db.exec('DROP TRIGGER test_refuse_complete');
  const ok = await a.api('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(countBlobs(a.dataDir), 1);
  assert.equal(storedFiles(a.agent), 1);
});

test('an upload whose record meets a full disk (SQLITE_FULL after the blob is in place): 503 DEGRADED, no orphan blob, and its retry works', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 48);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const size = 4 * MiB;
  const tail = 64 * 1024;
  const bytes = randomBytes(size);
  const q = await paidQuote(a, size);
  let filler = '';
  const r = await rawPut(
    a.agent.url,
    `/v1/uploads/${q.id}`,
    q.uploadToken,
    size,
    bytes.subarray(0, size - tail),
    async () => {
      await until('all but the tail to be on disk', () => tmpParts(a.dataDir).some((n) => statSync(join(a.dataDir, 'blobs', 'tmp', n)).size === size - tail));
      // Room for the tail of the body and not a page more: the blob lands, then the database cannot grow.
      filler = fillDisk(disk);
      truncateSync(filler, statSync(filler).size - tail);
    },
    bytes.subarray(size - tail),
    true,
  );
  assert.equal(r.status, 503, `${r.head}\n${r.body}`);
  assert.match(r.body, /DEGRADED/);
  assert.equal(storedFiles(a.agent), 0);
  assert.equal(countBlobs(a.dataDir), 0, 'blobs == files');
  assert.deepEqual(tmpParts(a.dataDir), []);

  unlinkSync(filler);
  await until('/healthz to recover by itself', async () => (await a.api('GET', '/healthz')).status === 200);
  const ok = await a.api('PUT', `/v1/uploads/${q.id}`, bytes, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(countBlobs(a.dataDir), 1);
  assert.equal(storedFiles(a.agent), 1);
});

test('an upload refused mid-body (402) closes its connection, and the agent then closes', async (t) => {
  const devnet = await startDevnet(t);
  const disk = mountTmpfs(t, 32);
  const a = await startDiskAgent(t, devnet, join(disk, 'data'));
  const q = await a.api<Quote>('POST', '/v1/uploads', { size: 4 * MiB });
  assert.equal(q.status, 201);
  const r = await rawPut(a.agent.url, `/v1/uploads/${q.body.id}`, q.body.uploadToken, 4 * MiB, randomBytes(256 * 1024));
  assert.equal(r.status, 402, r.head);
  assert.match(r.head, /\r\nconnection: close/);
  // Refused before the handler runs (an id longer than any upload's fails validation): the same.
  const invalid = await rawPut(a.agent.url, `/v1/uploads/${'x'.repeat(70)}`, q.body.uploadToken, 4 * MiB, randomBytes(256 * 1024));
  assert.equal(invalid.status, 400, invalid.head);
  assert.match(invalid.head, /\r\nconnection: close/);
  await a.close();
});

test('a full disk, however it surfaces, maps to a catalogue code', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(diskFullError(err('ENOSPC'))?.code, 'STORAGE_FULL');
  assert.equal(diskFullError(err('EDQUOT'))?.code, 'STORAGE_FULL');
  assert.equal(diskFullError(err('SQLITE_FULL'))?.code, 'DEGRADED');
  assert.equal(diskFullError(err('SQLITE_IOERR_SHMSIZE'))?.code, 'DEGRADED');
  assert.equal(diskFullError(err('SQLITE_CONSTRAINT')), undefined);
  assert.equal(diskFullError(new Error('other')), undefined);
});
