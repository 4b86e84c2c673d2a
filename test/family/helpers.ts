// The investor's path as tests take it: a signed proposal of the local cloud's script, its deposit paid on the devnet
// and confirmed, its jobs run by hand, and its view read back, checking on every answer that the credentials never
// come back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type Api, type TestAgent } from '../helpers/agent.ts';
import { ProposerKey, Wallet } from '../../wallet/index.ts';

export const root = join(import.meta.dirname, '..', '..');
export const SECRET = 'cred-7f3a9c1e5b2d4f60a8e7c6b5';
export const INVESTOR = Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'regtest' });

export interface Proposed { id: string; depositAddress: string; depositSat: number; bip21: string; state: string }
export interface View {
  id: string; state: string; receivedSat: number; depositSat: number;
  evaluation?: { passed: boolean; checks: Array<{ name: string; passed: boolean; detail: string }> };
  refund?: { amountSat: number; txid: string };
  history?: Array<{ state: string; at: string; reason: string }>;
}

export function proposal(t: { after(fn: () => unknown): void }, over: Record<string, unknown> = {}, payoutIndex = 0): Record<string, unknown> {
  const { key } = ProposerKey.loadOrCreate(join(tempDir(t), 'proposer.key'));
  const fields = {
    provider: 'local-cloud',
    script: readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8'),
    hosts: ['127.0.0.1:8430'],
    transcript: JSON.parse(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8')) as unknown,
    credentials: SECRET,
    quote: { spawnSat: 30_000, monthlySat: 30_000 },
    investmentSat: 100_000,
    interestBps: 500,
    payoutAddress: INVESTOR.deriveAddress(0, payoutIndex).address,
    variant: 'clone',
    proposerKey: key.publicKeyHex,
    ...over,
  };
  return key.sign(fields);
}

/**
 * Runs job `name` now and returns its detail. The agent's own schedule runs the same jobs (every 10 or 30 s), and a
 * job never overlaps itself: a run asked for while a scheduled one is under way is 'skipped', so it is asked for
 * again until one of its own has run.
 */
export async function job(api: Api, name: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const r = await api<{ outcome: string; detail: string }>('POST', `/v1/dev/jobs/${name}`);
    if (r.body.outcome !== 'skipped') {
      assert.equal(r.body.outcome, 'ok', r.text);
      return r.body.detail;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`job ${name} was still running after a minute of asking`);
}

export async function propose(a: TestAgent, body: Record<string, unknown>): Promise<Proposed> {
  const r = await a.api<Proposed>('POST', '/v1/proposals', body);
  assert.equal(r.status, 201, r.text);
  assert.ok(!r.text.includes(SECRET));
  return r.body;
}

export async function fund(a: TestAgent, p: Proposed): Promise<void> {
  assert.equal((await a.api('POST', '/v1/dev/pay', { address: p.depositAddress, amountSat: p.depositSat })).status, 200);
  await job(a.api, 'watcher');
  assert.equal((await get(a, p.id)).state, 'awaiting_deposit', 'a deposit in the mempool does not count');
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  await job(a.api, 'watcher');
}

export async function get(a: TestAgent, id: string): Promise<View> {
  const r = await a.api<View>('GET', `/v1/proposals/${id}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.text.includes(SECRET), 'credentials are never returned');
  return r.body;
}

export async function received(a: TestAgent, address: string): Promise<bigint> {
  return (await a.agent.chain.getAddressUtxos(address)).reduce((s, u) => s + u.valueSat, 0n);
}
