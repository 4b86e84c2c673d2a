// The log of a whole customer's and operator's session keeps every secret out. The agent runs as `storj run`
// does for an operator (its own process, logging at the most verbose level), and the test walks: init, a
// quote, the payment, the upload, its status, the download, a top-up, the operator's GET /v1/agent and
// /metrics with the admin token, and `storj wallet address`. The captured stdout and stderr then hold no
// upload token, admin token, passphrase, mnemonic, private key or fileId, checked by each one's exact string;
// and the log lines are JSON, each request's lines sharing a request id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { mnemonicToSeedSync } from '@scure/bip39';
import { networks } from 'bitcoinjs-lib';
import { bip32 } from '../../wallet/keys.ts';
import { agentEnv, api, spawnAgent, startDevnet, tempDir } from '../helpers/agent.ts';
import { payAndConfirm, quote } from '../helpers/paid.ts';

const root = join(import.meta.dirname, '..', '..');

interface LogLine {
  level: number;
  msg?: string;
  reqId?: string;
  component?: string;
  req?: { method: string; route: string };
  res?: { statusCode: number };
}

test("a whole customer's and operator's session logs JSON lines with request ids and no secret", async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t, 'storj-ops-logs-');
  const passphrase = `log test passphrase ${randomBytes(8).toString('hex')}`;
  const env = agentEnv(dataDir, devnet, { STORJ_PASSPHRASE: passphrase, STORJ_LOG_LEVEL: 'trace' });
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', '--json', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `storj ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return { json: JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, string>, output: r.stdout + r.stderr };
  };

  // The operator: init shows the mnemonic once (to the operator, not to the log), then the agent runs.
  const { mnemonic } = cli('init').json;
  assert.ok(mnemonic && mnemonic.split(' ').length >= 12, 'init shows the mnemonic');
  const agent = await spawnAgent(t, dataDir, devnet, { STORJ_PASSPHRASE: passphrase, STORJ_LOG_LEVEL: 'trace' });
  const a = api(agent.url);
  const { adminToken } = JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as { adminToken: string };

  // The customer: quote, pay, upload, status, download, top-up.
  assert.equal((await a('GET', '/v1/info')).status, 200);
  const bytes = randomBytes(20_000);
  const q = await quote(a, { size: bytes.length, filename: 'secret-plans.txt', contentType: 'text/plain' });
  const { id, uploadToken } = q;
  await payAndConfirm(a, [q]);
  assert.equal((await a<{ state: string }>('GET', `/v1/uploads/${id}`)).body.state, 'paid');
  assert.equal((await a('PUT', `/v1/uploads/${id}`, bytes, { authorization: `Bearer ${uploadToken}x` })).status, 401, 'a wrong token');
  const put = await a<{ fileId: string }>('PUT', `/v1/uploads/${id}`, bytes, { authorization: `Bearer ${uploadToken}` });
  assert.equal(put.status, 201, put.text);
  const fileId = put.body.fileId;
  assert.equal((await a('GET', `/v1/uploads/${id}`, undefined, { authorization: `Bearer ${uploadToken}` })).status, 200);
  const file = await a<{ address: string }>('GET', `/v1/files/${fileId}`);
  assert.equal(file.status, 200);
  // The file's first request goes through the routes, which log it; later plain GETs and HEADs of a file this
  // small may be answered from memory, which logs no request line (docs/metering.md, "The fast path").
  const got = await a('GET', `/f/${fileId}`);
  assert.equal(got.status, 200);
  assert.equal((await a('HEAD', `/f/${fileId}`)).status, 200);
  assert.equal((await a('GET', `/f/${fileId}/nothing-here?token=${uploadToken}`)).status, 404, 'an unmatched URL carrying secrets');
  await payAndConfirm(a, [{ address: file.body.address, amountSat: 5000 }]);
  assert.equal((await a<{ outcome: string }>('POST', '/v1/dev/jobs/sweep')).body.outcome, 'ok');

  // The operator again.
  assert.equal((await a('GET', '/v1/agent', undefined, { authorization: `Bearer ${adminToken}` })).status, 200);
  assert.equal((await a('GET', '/v1/agent', undefined, { authorization: `Bearer ${adminToken.slice(0, -1)}` })).status, 401);
  assert.equal((await a('GET', '/metrics', undefined, { authorization: `Bearer ${adminToken}` })).status, 200);
  // A damaged blob: the 500 names the file in its message, and the log line of that failure must not.
  const sha = createHash('sha256').update(bytes).digest('hex');
  truncateSync(join(dataDir, 'blobs', 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha), 100);
  // (With an If-None-Match, so that the routes read the blob: the fast path may still hold the bytes.)
  const broken = await a<{ error: { code: string } }>('GET', `/f/${fileId}`, undefined, { 'if-none-match': '"another"' });
  assert.equal(broken.status, 500);
  assert.equal(broken.body.error.code, 'BLOB_TRUNCATED');
  const wallet = cli('wallet', 'address');
  assert.match(wallet.json.address ?? '', /^bcrt1q/);
  await agent.stop();

  // Every secret, by its exact string: none is in what the agent printed, nor in the wallet command's output.
  const seed = Buffer.from(mnemonicToSeedSync(mnemonic));
  const rootKey = bip32.fromSeed(seed, networks.regtest);
  const secrets: Record<string, string> = {
    'the upload token': uploadToken,
    'the admin token': adminToken,
    'the passphrase': passphrase,
    'the mnemonic': mnemonic,
    'the seed': seed.toString('hex'),
    'the root private key': rootKey.toBase58(),
    'the account private key': rootKey.derivePath("m/84'/1'/0'").toBase58(),
    'the fileId': fileId,
    'the upload id': id,
  };
  const output = agent.output();
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(!output.includes(value), `${what} is in the agent's log`);
    assert.ok(!wallet.output.includes(value), `${what} is in storj wallet address's output`);
  }

  // The log is JSON lines; the few human lines `storj run` prints stay beside them.
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const human = lines.filter((l) => !l.startsWith('{'));
  for (const l of human) assert.match(l, /^(storj-agent \S+ on |listening on http|SIGTERM: shutting down)/, `a line that is neither JSON nor one of storj run's: ${l}`);
  const log = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  assert.ok(log.length > 20, `a log was written (${log.length} lines)`);
  const incoming = log.filter((l) => l.msg === 'incoming request');
  const download = incoming.find((l) => l.req?.method === 'GET' && l.req.route === '/f/:fileId');
  assert.ok(download?.reqId, 'the download is logged by route pattern, with a request id');
  const done = log.find((l) => l.msg === 'request completed' && l.reqId === download.reqId);
  assert.equal(done?.res?.statusCode, 200, "the download's completion carries the same request id");
  assert.ok(incoming.some((l) => l.req?.route === '/f/[id]/nothing-here'), 'an unmatched URL is logged with its ids replaced and no query');
  assert.equal(new Set(incoming.map((l) => l.reqId)).size, incoming.length, 'one request id per request');
  assert.ok(log.some((l) => l.component === 'scheduler' && typeof l.msg === 'string' && l.msg.includes('job')), "the scheduler's lines go through the same logger");
  // STORJ_LOG_LEVEL=trace lets the debug lines through (each job run; pino's level 20), which info would not.
  assert.ok(log.some((l) => l.level === 20 && l.component === 'scheduler'), 'the level follows the setting');
});
