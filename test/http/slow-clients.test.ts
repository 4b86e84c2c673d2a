// Slow clients: connections that send headers (or headers and part of a body) and then stall are all closed by
// the agent within its timeouts, while a paid download goes through; a stalled paid upload leaves no partial file
// and its quote still works; and shutdown ends with clients that stopped reading or sending still connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDevnet, startTestAgent, type Api } from '../helpers/agent.ts';
import { paidQuote, upload, type Quote } from '../helpers/paid.ts';
import { codeOf, envelopeProblem, RawConnection, type RawResponse } from './helpers.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (size: number, seed: number) => {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

async function put(api: Api, q: Quote, bytes: Uint8Array): Promise<string> {
  const r = await upload(api, q, bytes);
  assert.equal(r.sha256, sha256(bytes));
  return r.fileId;
}

function partFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'blobs', 'tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Resolves when the socket closes, with every answer the agent wrote on it before. */
async function drain(c: RawConnection): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await c.read();
    if (!r) break;
    out.push(r);
  }
  if (!c.socket.destroyed) await new Promise((resolve) => c.socket.once('close', resolve));
  return out;
}

async function openStalled(url: string, bytes: string | Buffer): Promise<RawConnection> {
  const c = new RawConnection(url);
  await c.ready();
  c.write(bytes);
  return c;
}

test('200 stalled connections are all closed by the agent, a paid download succeeds meanwhile, and the stalled upload\'s quote still works', async (t) => {
  const devnet = await startDevnet(t);
  const first = await startTestAgent(t, { devnet });
  const fileBytes = bytesOf(256 * 1024, 1);
  const fileId = await put(first.api, await paidQuote(first.api, { size: fileBytes.length, downloads: 3 }), fileBytes);
  const stalledBytes = bytesOf(512 * 1024, 2);
  const stalledQuote = await paidQuote(first.api, { size: stalledBytes.length });
  await first.agent.close();

  // The same data dir again, with timeouts small enough for a test.
  const a = await startTestAgent(t, {
    devnet,
    dataDir: first.dataDir,
    init: false,
    env: { STORJ_HEADERS_TIMEOUT_MS: '1000', STORJ_REQUEST_TIMEOUT_MS: '1000', STORJ_BODY_IDLE_TIMEOUT_MS: '2000', STORJ_MAX_CONNECTIONS_PER_CLIENT: '1000' },
  });
  const url = a.agent.url;
  const kinds: { kind: string; conn: Promise<RawConnection> }[] = [];
  const add = (kind: string, bytes: string | Buffer) => kinds.push({ kind, conn: openStalled(url, bytes) });
  for (let i = 0; i < 70; i++) add('headers', `GET /v1/info HTTP/1.1\r\nhost: a\r\nx-n: ${i}\r\n`);
  for (let i = 0; i < 65; i++) add('body', `POST /v1/uploads HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"size": `);
  for (let i = 0; i < 64; i++) add('no body', `POST /v1/dev/mine HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n`);
  const head = `PUT /v1/uploads/${stalledQuote.id} HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${stalledQuote.uploadToken}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${stalledBytes.length}\r\n\r\n`;
  add('upload', Buffer.concat([Buffer.from(head), stalledBytes.subarray(0, stalledBytes.length / 2)]));
  assert.equal(kinds.length, 200);
  const conns = await Promise.all(kinds.map((k) => k.conn));

  // Meanwhile a customer's paid download goes through.
  const got = await fetch(`${url}/f/${fileId}`);
  assert.equal(got.status, 200);
  assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(fileBytes));

  const answers = await Promise.all(conns.map((c) => drain(c)));
  for (const [i, res] of answers.entries()) {
    const kind = kinds[i]?.kind;
    assert.ok(conns[i]?.socket.destroyed, `${kind} #${i} is closed`);
    for (const r of res) assert.equal(envelopeProblem(r), undefined, `${kind} #${i}: ${r.body.toString()}`);
    if (kind === 'upload') continue; // cut by the idle timeout: the socket is closed, there is nobody to answer
    assert.equal(res.length, 1, `${kind} #${i} got one answer`);
    assert.equal(res[0]?.status, 408, `${kind} #${i}`);
    assert.equal(codeOf(res[0]), 'REQUEST_TIMEOUT');
  }

  // The cut upload left no partial file (the blob store removes its temp file), and its quote is still good.
  for (let i = 0; i < 200 && partFiles(a.dataDir).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(partFiles(a.dataDir), []);
  const status = await a.api<{ state: string }>('GET', `/v1/uploads/${stalledQuote.id}`);
  assert.equal(status.body.state, 'paid');
  const newId = await put(a.api, stalledQuote, stalledBytes);
  const back = await fetch(`${url}/f/${newId}`);
  assert.equal(sha256(new Uint8Array(await back.arrayBuffer())), sha256(stalledBytes));
});

test('a download whose client stops reading is cut by the idle timeout and settled for the bytes sent', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_BODY_IDLE_TIMEOUT_MS: '1000' } });
  const size = 32 * 1024 * 1024;
  const fileId = await put(a.api, await paidQuote(a.api, { size, downloads: 2 }), bytesOf(size, 3));
  const c = await openStalled(a.agent.url, `GET /f/${fileId} HTTP/1.1\r\nhost: a\r\n\r\n`);
  c.socket.pause(); // reads nothing: the agent's writes fill the socket's buffers and stop
  const unsettled = () => (a.agent.db.prepare('SELECT count(*) AS n FROM downloads WHERE settled_at IS NULL').get() as { n: bigint }).n;
  const settled = () => (a.agent.db.prepare('SELECT count(*) AS n FROM downloads WHERE settled_at IS NOT NULL').get() as { n: bigint }).n;
  for (let i = 0; i < 600 && settled() === 0n; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled(), 1n, 'the stalled download was closed and settled');
  assert.equal(unsettled(), 0n);
  const row = a.agent.db.prepare('SELECT bytes_sent FROM downloads').get() as { bytes_sent: bigint };
  assert.ok(row.bytes_sent < BigInt(size), `charged for the bytes sent only (${row.bytes_sent})`);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
  c.destroy();
});

test('shutdown ends with clients that stopped sending or reading, and closes their connections', async (t) => {
  // Timeouts far longer than the test: only the shutdown's own bound can end these connections.
  const a = await startTestAgent(t, { env: { STORJ_SHUTDOWN_TIMEOUT_MS: '300', STORJ_HEADERS_TIMEOUT_MS: '600000', STORJ_BODY_IDLE_TIMEOUT_MS: '3600000', STORJ_REQUEST_TIMEOUT_MS: '3600000' } });
  const size = 32 * 1024 * 1024;
  const fileId = await put(a.api, await paidQuote(a.api, { size, downloads: 2 }), bytesOf(size, 4));
  const upBytes = bytesOf(1024 * 1024, 5);
  const q = await paidQuote(a.api, { size: upBytes.length });
  const url = a.agent.url;
  const headers = await openStalled(url, 'GET /v1/info HTTP/1.1\r\nhost: a\r\n');
  const body = await openStalled(url, 'POST /v1/uploads HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
  const upload = await openStalled(
    url,
    Buffer.concat([Buffer.from(`PUT /v1/uploads/${q.id} HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${q.uploadToken}\r\ncontent-length: ${upBytes.length}\r\n\r\n`), upBytes.subarray(0, 1000)]),
  );
  const download = await openStalled(url, `GET /f/${fileId} HTTP/1.1\r\nhost: a\r\n\r\n`);
  download.socket.pause();
  const all = [headers, body, upload, download];
  // Every request has reached the agent before it closes (the upload's temp file exists, the download is reserved).
  for (let i = 0; i < 400 && (partFiles(a.dataDir).length === 0 || a.agent.host.owedMsat(fileId) === 0n); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  const closedEvents = all.map((c) => new Promise((resolve) => c.socket.once('close', resolve)));

  await a.agent.close();
  download.socket.resume(); // let the client see the end of what the agent had sent
  await Promise.all(closedEvents);
  for (const c of all) assert.ok(c.socket.destroyed);
  for (let i = 0; i < 200 && partFiles(a.dataDir).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(partFiles(a.dataDir), [], 'the cut upload left no partial file');
});
