// A full run of the investor's path in an agent process logging at debug: a proposal accepted and three refused,
// the accepted one funded on chain, evaluated in the sandbox and refunded. No response body and no log line holds the
// provider credentials, the agent's mnemonic, seed or private keys, or the proposer's key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mnemonicToSeedSync } from '@scure/bip39';
import { networks } from 'bitcoinjs-lib';
import { bip32 } from '../../wallet/keys.ts';
import { join } from 'node:path';
import { api, initTestDataDir, spawnAgent, startDevnet, tempDir } from '../helpers/agent.ts';
import { ProposerKey, Wallet } from '../../wallet/index.ts';

const root = join(import.meta.dirname, '..', '..');
const SECRET = 'cred-4b1d9e77c2a0f35e6d8b';
const payout = Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'regtest' }).deriveAddress(0, 7).address;

test('a full run of the investor\'s path: no credential, mnemonic or private key in any response body or log line', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  const { mnemonic, adminToken } = await initTestDataDir(dataDir);
  const agent = await spawnAgent(t, dataDir, devnet, { STORJ_LOG_LEVEL: 'debug' });
  t.after(() => agent.stop());
  const call = api(agent.url);
  const keyFile = join(tempDir(t), 'k');
  const { key } = ProposerKey.loadOrCreate(keyFile);
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
  // Funded on chain, evaluated in the sandbox, never selected, and refunded once the timeout has passed.
  const proposed = ok.body as { id: string; depositAddress: string; depositSat: number };
  assert.equal((await call('POST', '/v1/dev/pay', { address: proposed.depositAddress, amountSat: proposed.depositSat })).status, 200);
  await call('POST', '/v1/dev/mine', { blocks: 1 });
  const ran = async (job: string) => {
    const r = await call<{ outcome: string; detail: string }>('POST', `/v1/dev/jobs/${job}`);
    assert.equal(r.body.outcome, 'ok', r.text);
  };
  await ran('watcher');
  await ran('proposals.evaluate');
  const evaluated = await call<{ state: string; evaluation?: { checks: unknown[] } }>('GET', `/v1/proposals/${ok.body.id}`);
  assert.ok((evaluated.body.evaluation?.checks.length ?? 0) > 6, `evaluated in the sandbox: ${evaluated.text}`);
  bodies.push(evaluated.text);
  assert.equal((await call('POST', '/v1/dev/advance', { seconds: 31 * 86_400 })).status, 200);
  await ran('proposals.refund');
  await call('POST', '/v1/dev/mine', { blocks: 1 });
  await ran('watcher');
  const refunded = await call<{ state: string; refund?: { txid: string } }>('GET', `/v1/proposals/${ok.body.id}`);
  assert.equal(refunded.body.state, 'refunded', refunded.text);
  bodies.push(refunded.text, (await call('GET', '/v1/proposals')).text);
  bodies.push((await call('GET', '/v1/agent', undefined, { authorization: `Bearer ${adminToken}` })).text);
  await agent.stop();
  const log = agent.output();
  assert.ok(log.includes('"route":"/v1/proposals"'), 'the requests were logged');
  const seed = Buffer.from(mnemonicToSeedSync(mnemonic));
  const rootKey = bip32.fromSeed(seed, networks.regtest);
  const secrets: Record<string, string> = {
    'the credentials': SECRET,
    'the mnemonic': mnemonic,
    'the seed': seed.toString('hex'),
    'the root private key': rootKey.toBase58(),
    'the account private key': rootKey.derivePath("m/84'/1'/0'").toBase58(),
    "the proposer's key": readFileSync(keyFile, 'utf8').trim(),
    'the admin token': adminToken,
  };
  for (const [what, value] of Object.entries(secrets)) {
    for (const b of bodies) assert.ok(!b.includes(value), `${what} is in a response body`);
    assert.ok(!log.includes(value), `${what} is in the agent's log`);
  }
});
