// The shared client's callers keep their own error codes: the CLI's AgentApi says AGENT_UNREACHABLE and
// AGENT_BAD_RESPONSE, the agent's devnet control client CHAIN_UNAVAILABLE and BAD_REQUEST, each after the
// one retry policy (a GET retried, a POST sent once), and neither repeats a credential of the URL it was given.
// (The Esplora client's mapping is test/chain/esplora.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentApi, RemoteError } from '../../src/cli/client/api.ts';
import { devControlClient } from '../../src/agent/dev-control.ts';
import { isNetError } from '../../src/net/index.ts';
import { json, routes, serve } from '../chain/helpers.ts';
import { rejectsWith } from '../helpers/errors.ts';
import { closedUrl } from './helpers.ts';

const noWait = { sleep: () => Promise.resolve() };

void test('AgentApi: a GET is retried through 503s to its answer; a POST answered 503 is sent once and is the API\'s error', async (t) => {
  const srv = await serve(
    routes({
      '/v1/info': (_req, n) => (n < 3 ? { status: 503 } : json({ network: 'regtest' })),
      '/v1/uploads': json({ error: { code: 'DEGRADED', message: 'low disk' } }, 503),
    }),
  );
  t.after(() => srv.close());
  const api = new AgentApi(srv.url, noWait);
  assert.deepEqual(await api.get('/v1/info'), { network: 'regtest' });
  assert.equal(srv.requests.filter((r) => r.path === '/v1/info').length, 3);
  await assert.rejects(api.post('/v1/uploads', { size: 1 }), (e: unknown) => e instanceof RemoteError && e.code === 'DEGRADED' && e.status === 503);
  assert.equal(srv.requests.filter((r) => r.path === '/v1/uploads').length, 1);
  assert.equal(srv.requests.at(-1)?.headers['content-type'], 'application/json');
  assert.equal(srv.requests.at(-1)?.body, '{"size":1}');
});

void test('AgentApi: GETs that stay at 503 end with the last answer as the API\'s error, after 3 tries', async (t) => {
  const srv = await serve(() => json({ error: { code: 'SHUTTING_DOWN', message: 'bye' } }, 503));
  t.after(() => srv.close());
  await assert.rejects(new AgentApi(srv.url, noWait).get('/v1/info'), (e: unknown) => e instanceof RemoteError && e.code === 'SHUTTING_DOWN');
  assert.equal(srv.requests.length, 3);
});

void test('AgentApi: no answer is AGENT_UNREACHABLE naming the agent without its credentials; a huge answer is AGENT_BAD_RESPONSE', async (t) => {
  const base = (await closedUrl()).replace('http://', 'http://alice:hunter2@');
  const e = await rejectsWith(new AgentApi(`${base}/prefix?key=s3cretkey`, noWait).get('/v1/info'), 'AGENT_UNREACHABLE');
  assert.match(e.message, /^no answer from the agent at http:\/\/127\.0\.0\.1:\d+\/prefix \(ECONNREFUSED\)/);
  assert.ok(isNetError(e.cause));
  for (const secret of ['alice', 'hunter2', 's3cretkey']) assert.ok(!e.message.includes(secret) && !JSON.stringify(e).includes(secret), secret);

  const srv = await serve(() => ({ body: 'x'.repeat(2 * 1024 * 1024) }));
  t.after(() => srv.close());
  const big = await rejectsWith(new AgentApi(srv.url, noWait).get('/v1/info'), 'AGENT_BAD_RESPONSE');
  assert.match(big.message, /larger than 1048576 bytes/);
  assert.equal(srv.requests.length, 1);
});

void test('devnet control: pay and mine are POSTed once; 400 is BAD_REQUEST, another status or no answer CHAIN_UNAVAILABLE', async (t) => {
  const srv = await serve(
    routes({
      '/pay': (req) => ((JSON.parse(req.body) as { amountSat?: unknown }).amountSat === 0 ? json({ error: { code: 'AMOUNT_INVALID', message: 'amount must be positive' } }, 400) : json({ txid: 'ab'.repeat(32) })),
      '/mine': { status: 503, body: '{"error":{"code":"X","message":"busy mining"}}' },
    }),
  );
  t.after(() => srv.close());
  const dev = devControlClient(srv.url);
  assert.equal(await dev.pay('bcrt1qexample', 5000n), 'ab'.repeat(32));
  assert.equal(srv.requests[0]?.body, '{"address":"bcrt1qexample","amountSat":5000}');
  const refused = await rejectsWith(dev.pay('bcrt1qexample', 0n), 'BAD_REQUEST');
  assert.equal(refused.message, 'amount must be positive');
  const busy = await rejectsWith(dev.mine(1), 'CHAIN_UNAVAILABLE');
  assert.match(busy.message, /answered 503: busy mining/);
  assert.equal(srv.requests.filter((r) => r.path === '/mine').length, 1, 'a mine call is not repeated');

  const down = await rejectsWith(devControlClient((await closedUrl()).replace('http://', 'http://alice:hunter2@')).pay('bcrt1qexample', 1n), 'CHAIN_UNAVAILABLE');
  assert.match(down.message, /ECONNREFUSED/);
  assert.ok(!down.message.includes('hunter2'));
});
