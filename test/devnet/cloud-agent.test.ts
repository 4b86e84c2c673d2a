// The local cloud beside the agent: `storj run` on the embedded devnet (what `npm start` runs) starts it too, on a
// free port here (cloudPort 0), says where, shows it in the operator view, moves its clock with POST
// /v1/dev/advance, and stops it with the devnet. Agents on an external chain (the tests' agents) run none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { readCloudInfo } from '../../src/devnet/index.ts';
import { listeningUrl, spawnCaptured } from '../helpers/agent.ts';
import { runStorj } from '../helpers/cli.ts';
import { call, stopAgentWithCloud, until } from './cloud-helpers.ts';

const root = join(import.meta.dirname, '..', '..');

/** `npm start`'s settings on a fresh data dir: the embedded devnet, no passphrase; any free ports here. */
function agentEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, STORJ_DATA_DIR: dataDir, STORJ_LISTEN: '127.0.0.1:0', STORJ_CLOUD_PORT: '0', STORJ_LOG_LEVEL: 'silent' };
  for (const k of ['STORJ_ESPLORA_URL', 'STORJ_DEV_CONTROL_URL', 'STORJ_PASSPHRASE', 'STORJ_NETWORK', 'STORJ_LOCAL_CLOUD']) delete env[k];
  return env;
}

test('localCloud is on by default only with the embedded devnet, and only on regtest', () => {
  const env = { STORJ_DATA_DIR: '/nonexistent-storj-data' };
  const embedded = loadConfig({ env, readFile: false });
  assert.equal(embedded.localCloud, true);
  assert.equal(embedded.cloudPort, 8430);
  assert.equal(loadConfig({ env: { ...env, STORJ_ESPLORA_URL: 'http://127.0.0.1:1' }, readFile: false }).localCloud, false, "the tests' agents run none");
  assert.equal(loadConfig({ env: { ...env, STORJ_ESPLORA_URL: 'http://127.0.0.1:1', STORJ_LOCAL_CLOUD: 'true', STORJ_CLOUD_PORT: '0' }, readFile: false }).cloudPort, 0);
  assert.throws(() => loadConfig({ env: { ...env, STORJ_NETWORK: 'testnet', STORJ_ESPLORA_URL: 'http://127.0.0.1:1', STORJ_LOCAL_CLOUD: 'true' }, readFile: false }), { code: 'CONFIG_INVALID' });
});

test('storj run on the embedded devnet runs the local cloud; /v1/dev/advance ends a server term; a stop stops it', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'storj-cloud-agent-'));
  const dataDir = join(base, 'data');
  const cloudDir = join(dataDir, 'cloud');
  const { child, output, exited } = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run'], { cwd: root, env: agentEnv(dataDir) }, 'SIGKILL');
  // Whatever happens, nothing outlives the test, in this order: the agent, the servers, the cloud and the devnet
  // (a kill -9 of the agent leaves them), then their files.
  t.after(() => stopAgentWithCloud({ child, exited }, dataDir, base));
  const url = await listeningUrl(child, output, exited, 120_000);
  const cloudUrl = /local cloud on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
  assert.ok(cloudUrl, output());
  assert.notEqual(new URL(cloudUrl).port, '8430', 'cloudPort 0: any free port');
  assert.equal((await readCloudInfo(cloudDir))?.url, cloudUrl);

  const token = (JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as { adminToken: string }).adminToken;
  const view = (await (await fetch(`${url}/v1/agent`, { headers: { authorization: `Bearer ${token}` } })).json()) as { localCloud?: string };
  assert.equal(view.localCloud, cloudUrl);

  // A server bought from the cloud, paid with the agent's devnet controls (the cloud watches the same chain).
  const dev = (path: string, body: unknown): Promise<Response> => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const made = await call(cloudUrl, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: '#cloud-config\nruncmd:\n  - [storj, child]\n' });
  assert.equal(made.status, 201);
  assert.equal((await dev('/v1/dev/pay', { address: made.json.invoice.address, amountSat: made.json.invoice.amountSat })).status, 200);
  assert.equal((await dev('/v1/dev/mine', { blocks: 1 })).status, 200);
  const id = made.json.server.id;
  const running = await until(async () => (await call(cloudUrl, 'GET', `/v1/servers/${id}`)).json.server, (s) => s.state === 'running', 2400, 'running');
  assert.ok(running.paidUntil);

  // The agent's clock moves by two days, and the cloud's with it: the one-day term has run out.
  const adv = await dev('/v1/dev/advance', { seconds: 2 * 86_400 });
  assert.equal(adv.status, 200);
  const agentNow = Date.parse(((await adv.json()) as { now: string }).now);
  const expired = (await call(cloudUrl, 'GET', `/v1/servers/${id}`)).json.server;
  assert.equal(expired.state, 'expired');
  assert.ok(agentNow >= running.paidUntil, 'the agent moved past the term too');
  await assert.rejects(fetch(running.url ?? ''), 'its process was stopped');

  // `storj dev advance` is the same call from the command line; the cloud's clock follows it too.
  const cli = await runStorj(['--json', 'dev', 'advance', '3600', '--url', url], {}, { clear: ['STORJ_URL'], timeoutMs: 60_000 });
  assert.equal(cli.code, 0, cli.stderr);
  const cliNow = Date.parse((JSON.parse(cli.stdout.trim()) as { now: string }).now);
  assert.ok(cliNow >= agentNow + 3_600_000);
  const cloudNow = (await call(cloudUrl, 'POST', '/v1/dev/advance', { seconds: 0 })).json.now;
  assert.ok(cloudNow >= running.paidUntil + 86_400_000 + 3_600_000, 'the cloud moved by both advances');
  const bad = await runStorj(['dev', 'advance', 'soon', '--url', url], {}, { clear: ['STORJ_URL'], timeoutMs: 60_000 });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^error BAD_REQUEST: SECONDS must be a whole number/m);

  // A clean stop of the agent stops the cloud and the devnet it started.
  child.kill('SIGTERM');
  await exited;
  assert.equal(await readCloudInfo(cloudDir), null, 'the cloud stopped with the agent');
  assert.equal(existsSync(join(cloudDir, 'cloud.json')), false);
  assert.equal(existsSync(join(dataDir, 'devnet', 'devnet.json')), false);
});
