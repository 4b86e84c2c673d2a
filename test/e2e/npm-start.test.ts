// The README's first command on a fresh data dir: `npm start` brings the agent up on the embedded devnet with
// no configuration and no prompt; /v1/info says regtest; /v1/dev/pay pays the wallet's address and
// `storj wallet balance` sees it. The data dir it creates is its owner's only (0700), and so is the database
// (agent.db, -wal, -shm: 0600), which holds every fileId. Everything here is a real process: npm, the agent,
// the devnet, the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listeningUrl, tempDir } from '../helpers/agent.ts';

const root = join(import.meta.dirname, '..', '..');

function storj(env: Record<string, string>, ...args: string[]): unknown {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', '--json', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `storj ${args.join(' ')} failed: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last);
}

test('npm start runs the agent on the devnet, and the wallet sees a devnet payment', async (t) => {
  // A dir that does not exist yet: `npm start` makes it (a temp dir is already 0700).
  const dataDir = join(tempDir(t, 'storj-e2e-start-'), 'data');
  // The local cloud starts beside the devnet (docs/local-cloud.md) on any free port, so runs in parallel do not clash.
  const env = { STORJ_DATA_DIR: dataDir, STORJ_LISTEN: '127.0.0.1:0', STORJ_CLOUD_PORT: '0' };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.STORJ_PASSPHRASE;
  const agent = spawn('npm', ['start'], { cwd: root, env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  agent.stdout.on('data', (d: Buffer) => (output += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-(agent.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  });

  const url = await listeningUrl(agent, () => output, exited, 120_000);

  const info = (await (await fetch(`${url}/v1/info`)).json()) as { network: string; nodeId: string };
  assert.equal(info.network, 'regtest');
  assert.match(info.nodeId, /^[0-9a-f]{64}$/);
  assert.ok(existsSync(join(dataDir, 'wallet', 'wallet.json')), 'the wallet was created on first start');
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
  assert.equal(mode(dataDir), '0700', 'the data dir');
  // -wal and -shm exist while the agent has the database open.
  for (const f of ['agent.db', 'agent.db-wal', 'agent.db-shm']) assert.equal(mode(join(dataDir, f)), '0600', f);

  const { address } = storj(env, 'wallet', 'address') as { address: string };
  assert.match(address, /^bcrt1q/);
  const pay = await fetch(`${url}/v1/dev/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, amountSat: 123_456 }) });
  assert.equal(pay.status, 200);
  const balance = storj(env, 'wallet', 'balance') as { confirmedSat: string; unconfirmedSat: string };
  assert.equal(BigInt(balance.unconfirmedSat) + BigInt(balance.confirmedSat), 123_456n);

  // A clean stop also stops the devnet the agent started.
  process.kill(-(agent.pid ?? 0), 'SIGTERM');
  await exited;
  // Bounded polling (150 looks, 200 ms apart) for the devnet's state file to go.
  for (let i = 0; i < 150 && existsSync(join(dataDir, 'devnet', 'devnet.json')); i++) await new Promise((r) => setTimeout(r, 200));
  assert.ok(!existsSync(join(dataDir, 'devnet', 'devnet.json')), 'the devnet process stopped with the agent');
  assert.ok(!existsSync(join(dataDir, 'cloud', 'cloud.json')), 'the local cloud stopped with it');
});
