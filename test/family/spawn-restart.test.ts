// kill -9 of a real agent process in the middle of a spawn, as soon as the payment intent is in its database, then
// a restart on the same data dir: the spawn resumes from what was recorded and the cloud's invoice is paid once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createChainBackend } from '../../src/chain/index.ts';
import { agentEnv, api, initTestDataDir, listeningUrl, spawnCaptured, startDevnet, tempDir, type Ctx } from '../helpers/agent.ts';
import type { Devnet } from '../../src/devnet/index.ts';
import { root } from './helpers.ts';
import { cloudInvoice, cloudProposal, cloudServer, startCloud, until } from './spawn-helpers.ts';

async function startProcess(t: Ctx, dataDir: string, devnet: Devnet) {
  const env = { ...process.env, ...agentEnv(dataDir, devnet, { STORJ_REPRODUCE_FORCE: 'true' }) };
  const { child, output, exited } = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'test/family/spawn-agent-main.ts'], { cwd: root, env }, 'SIGKILL');
  const url = await listeningUrl(child, output, exited, 60_000);
  return { url, api: api(url), kill9: async () => { child.kill('SIGKILL'); await exited; } };
}

test('kill -9 during the spawn, after the payment intent is recorded: the restart resumes and pays the invoice once', async (t) => {
  const devnet = await startDevnet(t);
  const cloud = await startCloud(t, devnet);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  let agent = await startProcess(t, dataDir, devnet);
  const job = async (name: string) => {
    const r = await agent.api<{ outcome: string; detail: string }>('POST', `/v1/dev/jobs/${name}`);
    assert.equal(r.body.outcome, 'ok', r.text);
    return r.body.detail;
  };

  const proposed = await agent.api<{ id: string; depositAddress: string; depositSat: number }>('POST', '/v1/proposals', cloudProposal(t, cloud.url));
  assert.equal(proposed.status, 201, proposed.text);
  const p = proposed.body;
  assert.equal((await agent.api('POST', '/v1/dev/pay', { address: p.depositAddress, amountSat: p.depositSat })).status, 200);
  await agent.api('POST', '/v1/dev/mine', { blocks: 1 });
  await job('watcher');
  await job('proposals.evaluate');
  assert.equal((await agent.api<{ state: string }>('GET', `/v1/proposals/${p.id}`)).body.state, 'evaluated');

  // The spawn starts; the moment its payment intent is written, the agent is killed.
  const db = new Database(join(dataDir, 'agent.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const intent = db.prepare<[string], { state: string; address: string; amount_sat: number }>('SELECT state, address, amount_sat FROM spawn_payments WHERE proposal_id = ?');
  void agent.api('POST', '/v1/dev/jobs/family.spawn').catch(() => undefined);
  let seen: { state: string; address: string; amount_sat: number } | undefined;
  for (let i = 0; i < 20_000 && !seen; i++) {
    seen = intent.get(p.id);
    if (!seen) await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(seen, 'the payment intent was recorded');
  await agent.kill9();
  const stateAtKill = seen.state;

  agent = await startProcess(t, dataDir, devnet);
  await job('family.spawn');
  await job('family.spawn');
  const v = await agent.api<{ state: string; payments: Array<{ amountSat: number; txid: string }>; history: Array<{ reason: string }> }>('GET', `/v1/proposals/${p.id}`);
  assert.equal(v.body.state, 'spawning', v.text);
  assert.equal(v.body.payments.length, 1, `one payment (killed with the intent ${stateAtKill}): ${v.text}`);
  const serverId = /server (srv_[0-9a-f]{16}) made/.exec(v.body.history.map((h) => h.reason).join('\n'))?.[1] ?? '';
  const server = await cloudServer(cloud, serverId);
  assert.equal(server?.invoices.length, 1);
  await agent.api('POST', '/v1/dev/mine', { blocks: 1 });
  const invoice = await until(async () => {
    await cloud.cloud.tick();
    return cloudInvoice(cloud, server?.invoices[0] ?? '');
  }, (i) => i.state === 'paid', 'the invoice paid');
  assert.equal(invoice.txid, v.body.payments[0]?.txid);
  const chain = createChainBackend({ esploraUrl: devnet.url, timeoutMs: 10_000 });
  const coins = await chain.getAddressUtxos(invoice.address);
  assert.deepEqual(coins.map((c) => c.valueSat), [BigInt(invoice.amountSat)], 'the invoice\'s address was paid exactly once');
  assert.equal(BigInt(seen.amount_sat), BigInt(invoice.amountSat));
});
