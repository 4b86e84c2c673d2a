// The operator's side and the devnet guard: /healthz, GET /v1/agent behind the admin token, the devnet
// endpoints refused on an agent that is not on the embedded devnet, and quotes honoured until they expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevnet, startTestAgent } from '../helpers/agent.ts';

test('GET /v1/agent needs the admin token and shows balances, how prices were derived and every job run', async (t) => {
  const a = await startTestAgent(t);
  assert.equal((await a.api('GET', '/healthz')).status, 200);
  const token = (JSON.parse(readFileSync(join(a.dataDir, 'config.json'), 'utf8')) as { adminToken: string }).adminToken;
  assert.ok(token.length >= 16);
  const none = await a.api<{ error: { code: string } }>('GET', '/v1/agent');
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'UNAUTHORIZED');
  assert.equal((await a.api('GET', '/v1/agent', undefined, { authorization: `Bearer ${token}x` })).status, 401);
  await a.api('POST', '/v1/dev/jobs/sweep');
  const r = await a.api<{ wallet: { confirmedSat: number }; prices: { derivation: Record<string, string> }; jobs: Array<{ job: string; outcome: string }> }>('GET', '/v1/agent', undefined, { authorization: `Bearer ${token}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.wallet.confirmedSat, 0);
  assert.equal(r.body.prices.derivation.hostingCostSatPerMonth, '6000');
  assert.ok(r.body.jobs.some((j) => j.job === 'sweep' && j.outcome === 'ok'));
  assert.ok(!r.text.includes(token), 'the token is never echoed');
});

test('devnet endpoints answer 404 DEVNET_ONLY on an agent that is not on the embedded devnet', async (t) => {
  const devnet = await startDevnet(t);
  // The chain is a regtest node, but this agent has no devnet controls (as on testnet or mainnet).
  const a = await startTestAgent(t, { devnet, env: { STORJ_DEV_CONTROL_URL: '' } });
  for (const [path, body] of [
    ['/v1/dev/pay', { address: devnet.faucetAddress, amountSat: 1000 }],
    ['/v1/dev/mine', { blocks: 1 }],
    ['/v1/dev/advance', { seconds: 60 }],
    ['/v1/dev/jobs/sweep', undefined],
    ['/v1/dev/pay', { nonsense: true }],
  ] as const) {
    const r = await a.api<{ error: { code: string } }>('POST', path, body);
    assert.equal(r.status, 404, path);
    assert.equal(r.body.error.code, 'DEVNET_ONLY', path);
  }
});

test('a quote is honoured at its price until it expires, then the upload is due at the current price', async (t) => {
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000', STORJ_QUOTE_TTL_SECONDS: '3600' } });
  const size = 8 * 1024 * 1024;
  const q = (await a.api<{ id: string; amountSat: number }>('POST', '/v1/uploads', { size, days: 10 })).body;
  // The start-up catch-up runs the pricing job, whose new price set could land after the one written below.
  await a.agent.scheduler.idle();
  // Prices triple (as the pricing job would after the disk filled up).
  a.agent.db
    .prepare('INSERT INTO price_sets (computed_at, storage_msat_per_gib_day, egress_msat_per_gib, minimum_deposit_sat, fee_rate_sat_per_kvb, inputs) SELECT computed_at + 1, storage_msat_per_gib_day * 3, egress_msat_per_gib * 3, minimum_deposit_sat, fee_rate_sat_per_kvb, inputs FROM price_sets ORDER BY id DESC LIMIT 1')
    .run();
  const fresh = (await a.api<{ amountSat: number }>('POST', '/v1/uploads', { size, days: 10 })).body;
  assert.ok(fresh.amountSat > 2 * q.amountSat, 'a new quote is at the new price');
  assert.equal((await a.api<{ amountSat: number }>('GET', `/v1/uploads/${q.id}`)).body.amountSat, q.amountSat, 'the old quote keeps its price');
  await a.api('POST', '/v1/dev/advance', { seconds: 3601 });
  // The pricing job may have run during the advance and recomputed from config; either way the old quote is
  // now due at whatever the current price is, not the quoted one.
  const expired = (await a.api<{ state: string; amountSat: number }>('GET', `/v1/uploads/${q.id}`)).body;
  assert.equal(expired.state, 'expired');
  const current = (await a.api<{ amountSat: number }>('POST', '/v1/uploads', { size, days: 10 })).body.amountSat;
  assert.equal(expired.amountSat, current);
});
