// The local cloud as its own process under the supervisor: it outlives a kill -9 of the process that started it,
// keeps watching its invoices, and keeps its servers and invoices across a kill -9 of itself and a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { advanceCloudClock, Devnet, ensureCloudProcess, readCloudInfo, stopCloudProcess } from '../../src/devnet/index.ts';
import { isGone } from '../../src/process/index.ts';
import { stopServerProcess } from '../../src/devnet/cloud/image.ts';
import { loadState } from '../../src/devnet/cloud/state.ts';
import { call, until } from './cloud-helpers.ts';

const PARENT = fileURLToPath(new URL('./cloud-parent.ts', import.meta.url));
const USER_DATA = '#cloud-config\nruncmd:\n  - [storj, child]\n';

test('the cloud outlives a kill -9 of its parent and keeps its state across a kill -9 of itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-cloud-'));
  const devnet = await Devnet.start();
  const parent = spawn(process.execPath, ['--import', 'tsx', PARENT, dir, devnet.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  // One clean-up, in order (a test that fails half-way leaves no process behind): the parent, the servers' processes,
  // the cloud, the chain, then the files.
  t.after(async () => {
    parent.kill('SIGKILL');
    for (const server of Object.values(loadState(dir)?.servers ?? {})) {
      if (server.pid !== null) await stopServerProcess(server.pid, join(dir, 'servers', server.id));
    }
    await stopCloudProcess(dir, { timeoutMs: 5000 });
    await devnet.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const first = JSON.parse(line.toString()) as { pid: number; url: string; started: boolean };
  assert.equal(first.started, true);
  assert.deepEqual(await readCloudInfo(dir), { url: first.url, pid: first.pid });

  const { server, invoice } = (await call(first.url, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: USER_DATA })).json;
  const exited = once(parent, 'exit');
  parent.kill('SIGKILL');
  await exited;
  assert.equal(isGone(first.pid), false, 'the cloud outlived its parent');

  // Still watching the chain on its own: paid and mined after its parent died, the server boots.
  await devnet.pay(invoice.address, BigInt(invoice.amountSat));
  await devnet.mine(1);
  const running = await until(async () => (await call(first.url, 'GET', `/v1/servers/${server.id}`)).json.server, (s) => s.state === 'running', 400, 'running');
  assert.ok(running.url);

  // A kill -9 of the cloud itself: its server (a VPS) keeps running, and a new cloud finds everything as it was.
  process.kill(first.pid, 'SIGKILL');
  await until(() => Promise.resolve(isGone(first.pid)), (gone) => gone, 400, 'the cloud gone');
  const second = await ensureCloudProcess(dir, { esploraUrl: devnet.url, port: 0, pollMs: 50 });
  assert.equal(second.started, true);
  assert.notEqual(second.pid, first.pid);
  const again = (await call(second.url, 'GET', `/v1/servers/${server.id}`)).json.server;
  assert.deepEqual(again, running);
  const paid = (await call(second.url, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice;
  assert.equal(paid.state, 'paid');
  assert.equal((await fetch(running.url)).status, 200, 'the server kept running');

  // The agent's advance moves the cloud's clock: a day past the term, the server is expired and its process gone.
  const now = await advanceCloudClock(dir, 2 * 86_400);
  assert.ok(now !== null && now >= (running.paidUntil ?? Infinity));
  assert.equal((await call(second.url, 'GET', `/v1/servers/${server.id}`)).json.server.state, 'expired');
  await assert.rejects(fetch(running.url));
  assert.equal(await advanceCloudClock(join(dir, 'elsewhere'), 1), null, 'no cloud runs there');

  // Adopted, not started twice.
  assert.equal((await ensureCloudProcess(dir, { esploraUrl: devnet.url })).started, false);

  // A clean stop leaves no pid file.
  assert.equal(await stopCloudProcess(dir), true);
  assert.equal(existsSync(join(dir, 'cloud.json')), false);
});

test('a cloud started with tamperedImage boots every server from the tampered image', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-cloud-'));
  const devnet = await Devnet.start();
  t.after(async () => {
    for (const server of Object.values(loadState(dir)?.servers ?? {})) {
      if (server.pid !== null) await stopServerProcess(server.pid, join(dir, 'servers', server.id));
    }
    await stopCloudProcess(dir, { timeoutMs: 5000 });
    await devnet.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const cloud = await ensureCloudProcess(dir, { esploraUrl: devnet.url, port: 0, pollMs: 50, tamperedImage: true });
  const { server, invoice } = (await call(cloud.url, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: USER_DATA })).json;
  await devnet.pay(invoice.address, BigInt(invoice.amountSat));
  await devnet.mine(1);
  const running = await until(async () => (await call(cloud.url, 'GET', `/v1/servers/${server.id}`)).json.server, (s) => s.state === 'running', 400, 'running');
  const hello = (await (await fetch(running.url ?? '')).json()) as { image: string };
  assert.equal(hello.image, 'local-cloud-image/1 (tampered)');
});
