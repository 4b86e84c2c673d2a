// Money and files survive kill -9: the agent runs as its own process and is killed without warning in the
// middle of an upload, and while payments arrive; after a restart nothing partial is visible, the upload can
// be retried, payments made while it was down are found, and each is credited exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/modules.ts';
import { api, initTestDataDir, spawnAgent, startDevnet, tempDir } from '../helpers/agent.ts';
import { paidQuote, quote, runWatcher } from '../helpers/paid.ts';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

test('kill -9 in the middle of an upload leaves nothing partial visible, and the upload can be retried', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  let agent = await spawnAgent(t, dataDir, devnet);
  let a = api(agent.url);
  const size = 32 * 1024 * 1024;
  const q = await paidQuote(a, { size });
  assert.equal((await a<{ state: string }>('GET', `/v1/uploads/${q.id}`)).body.state, 'paid');

  // Send a quarter of the body, then kill the agent.
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const url = new URL(`${agent.url}/v1/uploads/${q.id}`);
  const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { authorization: `Bearer ${q.uploadToken}`, 'content-length': size } });
  const failed = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('response', () => resolve());
  });
  for (let i = 0; i < 8; i++) await new Promise<void>((resolve) => req.write(chunk, () => resolve()));
  // Wait until the agent has written some of it to its temp file.
  const tmp = join(dataDir, 'blobs', 'tmp');
  for (let i = 0; i < 100 && files(tmp).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(files(tmp).length, 1, 'the upload was in progress in a temp file');
  await agent.kill9();
  await failed;

  agent = await spawnAgent(t, dataDir, devnet);
  a = api(agent.url);
  assert.deepEqual(files(tmp), [], 'the temp file of the interrupted upload is gone');
  assert.deepEqual(files(join(dataDir, 'blobs', 'blobs')), [], 'no blob is visible');
  const status = await a<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`);
  assert.equal(status.body.state, 'paid', 'the payment is still there');
  assert.equal(status.body.fileId, undefined);

  const whole = Buffer.alloc(size, 0x5a);
  const retry = await a<{ fileId: string; size: number }>('PUT', `/v1/uploads/${q.id}`, whole, { authorization: `Bearer ${q.uploadToken}` });
  assert.equal(retry.status, 201, retry.text);
  assert.equal(retry.body.size, size);
  const file = await a<{ state: string; balanceMsat: string }>('GET', `/v1/files/${retry.body.fileId}`);
  assert.equal(file.body.state, 'active');
  assert.equal(BigInt(file.body.balanceMsat), BigInt(q.amountSat) * 1000n, 'credited once');
  await agent.stop();
});

test('payments made while the agent was down are found after a restart and credited exactly once across restarts', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  let agent = await spawnAgent(t, dataDir, devnet);
  let a = api(agent.url);
  const quotes = [await quote(a, { size: 100 }), await quote(a, { size: 200 })];
  // Let the watcher record the tip, so the payments below land in blocks it has not seen.
  await runWatcher(a);
  await agent.kill9();

  for (const q of quotes) await devnet.pay(q.address, BigInt(q.amountSat));
  await devnet.mine(2);

  agent = await spawnAgent(t, dataDir, devnet);
  a = api(agent.url);
  for (const q of quotes) {
    let s = (await a<{ state: string; confirmedSat: number }>('GET', `/v1/uploads/${q.id}`)).body;
    // The start-up catch-up runs the watcher; give it a moment if it has not finished yet.
    for (let i = 0; i < 100 && s.state !== 'paid'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = (await a<{ state: string; confirmedSat: number }>('GET', `/v1/uploads/${q.id}`)).body;
    }
    assert.equal(s.state, 'paid');
    assert.equal(s.confirmedSat, q.amountSat);
  }
  // Kill again right after, restart, and sync again: nothing is credited twice.
  await agent.kill9();
  agent = await spawnAgent(t, dataDir, devnet);
  a = api(agent.url);
  await runWatcher(a);
  for (const q of quotes) {
    const size = q === quotes[0] ? 100 : 200;
    const up = await a<{ fileId: string }>('PUT', `/v1/uploads/${q.id}`, new Uint8Array(size), { authorization: `Bearer ${q.uploadToken}` });
    assert.equal(up.status, 201, up.text);
    const f = await a<{ balanceMsat: string }>('GET', `/v1/files/${up.body.fileId}`);
    assert.equal(BigInt(f.body.balanceMsat), BigInt(q.amountSat) * 1000n);
  }
  await agent.stop();
  const db = openAgentDb(join(dataDir, 'agent.db'));
  t.after(() => db.close());
  const rows = db.prepare("SELECT count(*) AS n FROM ledger_entries WHERE kind = 'payment'").get() as { n: bigint };
  assert.equal(rows.n, 2n, 'one credit per payment');
  const payments = db.prepare('SELECT count(*) AS n FROM payments').get() as { n: bigint };
  assert.equal(payments.n, 2n, 'one row per outpoint');
});
