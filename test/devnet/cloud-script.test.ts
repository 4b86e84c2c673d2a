// The key proof: the provider script spawn-scripts/local-cloud.js, run in the sandbox with real HTTP, buys,
// watches, renews and destroys a server on the real local cloud, paid on the devnet chain. The script declares
// 127.0.0.1:8430; the test's cloud listens on a free port, so the script's source is given that port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet, openCloud, type OpenCloud } from '../../src/devnet/index.ts';
import { DAY_MS } from '../../src/devnet/cloud/cloud.ts';
import { netTransport, SandboxSession } from '../../src/sandbox/index.ts';
import { call, until } from './cloud-helpers.ts';

const SCRIPT = readFileSync(new URL('../../spawn-scripts/local-cloud.js', import.meta.url), 'utf8');
const T0 = Date.UTC(2026, 0, 1);
const USER_DATA = '#cloud-config\nwrite_files:\n  - path: /etc/storj/ticket\n    content: tkt_0e5d2c7a91b84f36\nruncmd:\n  - [storj, child, --ticket-file, /etc/storj/ticket]\n';

let dir: string;
let devnet: Devnet;
let cloud: OpenCloud;
let session: SandboxSession;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'storj-cloud-script-'));
  devnet = await Devnet.start();
  cloud = await openCloud({ dir, esploraUrl: devnet.url, port: 0, pollMs: 3_600_000, systemNow: () => T0 });
  const port = new URL(cloud.url).port;
  assert.ok(SCRIPT.includes('127.0.0.1:8430'));
  const opened = await SandboxSession.open({ source: SCRIPT.replaceAll('127.0.0.1:8430', `127.0.0.1:${port}`), transport: netTransport() });
  assert.ok(opened.ok, JSON.stringify(opened));
  session = opened.session;
});

after(async () => {
  session?.close();
  await cloud?.cloud.haltAll();
  await cloud?.close();
  await devnet?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A call's value, or a failure that names the sandbox's code and reason. */
async function run<T>(outcome: Promise<{ ok: true; value: T } | { ok: false; code: string; reason: string }>): Promise<T> {
  const out = await outcome;
  if (!out.ok) assert.fail(`${out.code}: ${out.reason}`);
  return out.value;
}

test('quote, create, pay, status, renew and destroy through the sandboxed script against the real cloud', async () => {
  assert.equal(session.meta.provider, 'local-cloud');
  assert.deepEqual(await run(session.call('quote', { plan: 'small', days: 2 })), { spawnSat: 2000n, monthlySat: 30000n, termDays: 2 });

  const created = await run(session.call('create', { userData: USER_DATA, plan: 'small', days: 2 }));
  assert.match(created.serverId, /^srv_[0-9a-f]{16}$/);
  assert.equal(created.pay?.length, 1);
  const invoice = created.pay?.[0];
  assert.ok(invoice);
  assert.equal(invoice.amountSat, 2000n);
  assert.deepEqual(await run(session.call('status', { serverId: created.serverId })), { state: 'pending' });

  const txid = await devnet.pay(invoice.address, invoice.amountSat);
  await devnet.mine(1);
  await until(
    async () => {
      await cloud.cloud.tick();
      return run(session.call('status', { serverId: created.serverId }));
    },
    (s) => s.state === 'running',
    200,
    'running',
  );
  const running = await run(session.call('status', { serverId: created.serverId }));
  assert.equal(running.state, 'running');
  assert.match(running.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(running.expiresAt, T0 + 2 * DAY_MS);
  // The payment's txid is in the cloud's records.
  assert.equal((await call(cloud.url, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice.txid, txid);

  const renewed = await run(session.call('renew', { serverId: created.serverId, days: 1 }));
  assert.equal(renewed.pay.length, 1);
  assert.equal(renewed.pay[0]?.amountSat, 1000n);
  await devnet.pay(renewed.pay[0]?.address ?? '', 1000n);
  await devnet.mine(1);
  await cloud.cloud.tick();
  assert.equal((await run(session.call('status', { serverId: created.serverId }))).expiresAt, T0 + 3 * DAY_MS);

  assert.deepEqual(await run(session.call('destroy', { serverId: created.serverId })), {});
  // Deleted: gone, with no url; its paid term is still reported (paid time is not refunded).
  assert.deepEqual(await run(session.call('status', { serverId: created.serverId })), { state: 'gone', expiresAt: T0 + 3 * DAY_MS });
  await assert.rejects(fetch(running.url ?? ''), 'the server process is stopped');
  // A server the cloud never made is gone too, and destroying it again is not an error.
  assert.deepEqual(await run(session.call('status', { serverId: 'srv_0000000000000000' })), { state: 'gone' });
  assert.deepEqual(await run(session.call('destroy', { serverId: 'srv_0000000000000000' })), {});
});
