// Metered downloads over HTTP on a real agent and a real regtest chain (docs/metering.md): concurrent downloads
// never spend more than the balance, HEAD and 304 write nothing, and a download cut off mid-way is charged the
// bytes that left the agent, not a whole chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { egressMsat } from '../../src/ledger/index.ts';
import { getAlone, startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { paidFile } from '../helpers/paid.ts';

const execFileP = promisify(execFile);

function egressPrice(a: TestAgent): bigint {
  const p = a.agent.host.currentPrices();
  assert.ok(p);
  return p.egressMsatPerGib;
}

/** What a file's downloads moved in the database: its balance, its egress entries and its download rows. */
function written(a: TestAgent, fileId: string): { balance: bigint; egress: bigint; downloads: bigint } {
  const b = a.agent.db.prepare('SELECT balance_msat AS v FROM file_accounts WHERE file_id = ?').get(fileId) as { v: bigint };
  const e = a.agent.db.prepare("SELECT count(*) AS v FROM ledger_entries WHERE file_id = ? AND kind = 'egress'").get(fileId) as { v: bigint };
  const d = a.agent.db.prepare('SELECT count(*) AS v FROM downloads WHERE file_id = ?').get(fileId) as { v: bigint };
  return { balance: b.v, egress: e.v, downloads: d.v };
}

test('concurrent small downloads against a balance that covers N of them: at most N are served', async (t) => {
  // Egress dear enough that the prepaid downloads, not the quote's minimum, make the balance.
  const a = await startTestAgent(t, { env: { STORJ_BANDWIDTH_COST_SAT_PER_GIB: '1000000000', STORJ_METER_BATCH_MS: '60000' } });
  const body = randomBytes(4096);
  const { fileId } = await paidFile(a.api, body, { downloads: 6 });
  const cost = egressMsat(BigInt(body.length), egressPrice(a));
  const before = written(a, fileId);
  const n = Number(before.balance / cost);
  assert.ok(n >= 6 && n < 40, `the balance covers ${n} downloads`);

  const answers = await Promise.all(Array.from({ length: n + 20 }, () => getAlone(`${a.agent.url}/f/${fileId}`)));
  const served = answers.filter((r) => r.status === 200);
  assert.ok(served.every((r) => r.length === body.length), 'every 200 carried the whole file');
  assert.equal(answers.filter((r) => r.status === 402).length, answers.length - served.length, 'the rest were refused with 402');
  assert.ok(served.length <= n, `${served.length} served, at most ${n}`);
  // Storage accrues by the second, so the last of the N may not fit any more.
  assert.ok(served.length >= n - 1, `${served.length} served, at least ${n - 1}`);

  a.agent.host.retryPendingWrites();
  const after = written(a, fileId);
  assert.equal(after.egress - before.egress, BigInt(served.length), 'one charge per download served');
  assert.equal(before.balance - after.balance, BigInt(served.length) * cost);
  assert.ok(after.balance >= 0n);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), [], 'the balance is the sum of its entries');
});

test('HEAD, a 304 and a refused download write nothing', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_METER_BATCH_BYTES: '0' } });
  const body = randomBytes(4096);
  const { fileId, sha256 } = await paidFile(a.api, body, { downloads: 5 });
  const link = `${a.agent.url}/f/${fileId}`;
  const before = written(a, fileId);
  for (let i = 0; i < 20; i++) {
    const head = await fetch(link, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(body.length));
    for (const method of ['GET', 'HEAD']) {
      const r = await fetch(link, { method, headers: { 'if-none-match': `"${sha256}"` } });
      assert.equal(r.status, 304);
      await r.arrayBuffer();
    }
    const bad = await fetch(link, { headers: { range: `bytes=${body.length + 5}-` } });
    assert.equal(bad.status, 416);
    await bad.arrayBuffer();
  }
  assert.equal(a.agent.host.owedMsat(fileId), 0n, 'nothing reserved or charged');
  assert.equal(a.agent.host.pendingSettlements, 0);
  assert.deepEqual(written(a, fileId), before, 'no balance moved, no entry, no download row');

  // The same measurement sees a download: it is written (at once here, meterBatchBytes being 0).
  const r = await getAlone(link);
  assert.equal(r.status, 200);
  for (let i = 0; i < 200 && written(a, fileId).downloads === before.downloads; i++) await new Promise((r2) => setTimeout(r2, 25));
  const after = written(a, fileId);
  assert.equal(after.downloads, before.downloads + 1n);
  assert.equal(after.egress, before.egress + 1n);
});

/**
 * A raw client in its own process (python3, as src/family/user-data.ts uses): a receive buffer of 64 KiB set
 * before it connects, so the kernel does not grow its window beyond that; it asks for `path`, reads the headers
 * and `k` bytes of the body, and resets the connection.
 */
const CUT_CLIENT = `
import socket, struct, sys
host, port, path, k = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect((host, port))
s.sendall(("GET %s HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n" % path).encode())
buf = b""
while b"\\r\\n\\r\\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\\r\\n\\r\\n")
n = len(body)
while n < k:
    d = s.recv(min(65536, k - n))
    if not d:
        break
    n += len(d)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print(head.split(b"\\r\\n")[0].decode(), n)
`;

async function readAndHangUp(url: string, path: string, k: number): Promise<{ status: string; read: number }> {
  const { hostname, port } = new URL(url);
  const r = await execFileP('python3', ['-c', CUT_CLIENT, hostname, port, path, String(k)]);
  const m = /^(HTTP\/1\.1 \d+).* (\d+)$/.exec(r.stdout.trim());
  assert.ok(m, r.stdout);
  return { status: m[1] ?? '', read: Number(m[2]) };
}

test('a download cut off after k bytes is charged within one socket buffer of k, not a whole chunk', async (t) => {
  const a = await startTestAgent(t);
  const size = 16 * 1024 * 1024;
  const { fileId } = await paidFile(a.api, randomBytes(size), { downloads: 3 });
  const price = egressPrice(a);
  const k = 1024 * 1024 + 12_345; // past the first 1 MiB read from the blob, inside the second
  const got = await readAndHangUp(a.agent.url, `/f/${fileId}`, k);
  assert.deepEqual(got, { status: 'HTTP/1.1 200', read: k });
  for (let i = 0; i < 400 && a.agent.host.owedMsat(fileId) > 0n && a.agent.host.pendingSettlements === 0; i++) await new Promise((r) => setTimeout(r, 25));
  a.agent.host.retryPendingWrites();
  const row = a.agent.db.prepare('SELECT bytes_sent FROM downloads WHERE file_id = ?').get(fileId) as { bytes_sent: bigint } | undefined;
  assert.ok(row, 'the download was settled and written');
  const sent = Number(row.bytes_sent);
  const over = sent - k;
  // What the kernel's buffers held when the client hung up counts as sent (docs/metering.md): the client's
  // window is held to 64 KiB, but the agent's send buffer grows as the kernel sees fit, up to tcp_wmem's
  // maximum, and how far it grew depends on the machine's load (CI saw 1.2 MB over once, 53 KB here most runs).
  // So the bound is one socket buffer, as docs/metering.md states it; and the charge counts whole 64 KiB pieces
  // written, where before pieces it counted whole 1 MiB chunks queued. At most one piece being written is not
  // counted.
  const sendBufferMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
  assert.ok(sendBufferMax > 0, 'the kernel says how large a send buffer grows');
  assert.ok(over >= -64 * 1024, `charged ${sent} bytes for ${k} received: less than a piece under`);
  assert.ok(over < sendBufferMax + 64 * 1024, `charged ${sent} bytes for ${k} received: ${over} over, within one socket buffer (${sendBufferMax}) and the client's 64 KiB`);
  assert.equal(sent % (64 * 1024), 0, `charged whole 64 KiB pieces written (${sent})`);
  const egress = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
  assert.deepEqual(
    egress.map((e) => e.amountMsat),
    [-egressMsat(BigInt(sent), price)],
  );
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});
