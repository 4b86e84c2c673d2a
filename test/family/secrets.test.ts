// Credentials in a proposal appear in no response body and no log line of an agent process, logging at debug,
// whether the proposal is accepted or refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, initTestDataDir, spawnAgent, startDevnet, tempDir } from '../helpers/agent.ts';
import { ProposerKey, Wallet } from '../../wallet/index.ts';

const root = join(import.meta.dirname, '..', '..');
const SECRET = 'cred-4b1d9e77c2a0f35e6d8b';
const payout = Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'regtest' }).deriveAddress(0, 7).address;

test('the credentials are in no response body and no log line', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  const agent = await spawnAgent(t, dataDir, devnet, { STORJ_LOG_LEVEL: 'debug' });
  t.after(() => agent.stop());
  const call = api(agent.url);
  const { key } = ProposerKey.loadOrCreate(join(tempDir(t), 'k'));
  const fields = {
    provider: 'local-cloud',
    script: readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8'),
    hosts: ['127.0.0.1:8430'],
    transcript: JSON.parse(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8')) as unknown,
    credentials: { token: SECRET },
    quote: { spawnSat: 30_000, monthlySat: 30_000 },
    investmentSat: 100_000,
    interestBps: 0,
    payoutAddress: payout,
    variant: 'clone',
    proposerKey: key.publicKeyHex,
  };
  const bodies: string[] = [];
  const ok = await call<{ id: string }>('POST', '/v1/proposals', key.sign(fields));
  assert.equal(ok.status, 201, ok.text);
  bodies.push(ok.text);
  for (const bad of [{ ...key.sign(fields), interestBps: 1 }, key.sign({ ...fields, investmentSat: 1 }), { ...key.sign(fields), credentials: 5 }]) {
    const r = await call('POST', '/v1/proposals', bad);
    assert.equal(r.status, 400, r.text);
    bodies.push(r.text);
  }
  bodies.push((await call('GET', `/v1/proposals/${ok.body.id}`)).text, (await call('GET', '/v1/proposals')).text);
  await call('POST', '/v1/dev/jobs/proposals.evaluate');
  await call('POST', '/v1/dev/jobs/proposals.refund');
  await agent.stop();
  const log = agent.output();
  assert.ok(log.includes('"route":"/v1/proposals"'), 'the requests were logged');
  for (const b of bodies) assert.ok(!b.includes(SECRET), b);
  assert.ok(!log.includes(SECRET), 'no log line holds the credentials');
});
