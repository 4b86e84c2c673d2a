// The local cloud's HTTP API (docs/local-cloud.md) against a real devnet chain: plans, a server bought with an
// on-chain invoice that boots from its #cloud-config, renewal, expiry on the cloud's clock, deletion, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../src/devnet/index.ts';
import { openCloud, type OpenCloud } from '../../src/devnet/index.ts';
import { DAY_MS } from '../../src/devnet/cloud/cloud.ts';
import { call, until } from './cloud-helpers.ts';

/** The system clock, frozen: the cloud's time moves only by POST /v1/dev/advance. */
const T0 = Date.UTC(2026, 0, 1);

const USER_DATA = '#cloud-config\nwrite_files:\n  - path: /etc/storj/ticket\n    content: tkt_0e5d2c7a91b84f36\n  - path: /../../escape\n    content: |\n      line one\n      line two\nruncmd:\n  - [apt-get, install, -y, nodejs]\n  - [storj, child, --ticket-file, /etc/storj/ticket]\n';

let devnet: Devnet;
let open: OpenCloud;
let base: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'storj-cloud-'));
  devnet = await Devnet.start();
});
after(async () => {
  await open?.cloud.haltAll();
  await open?.close();
  await devnet?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the local cloud', async (t) => {
  // The test drives every pass itself (cloud.tick()); the background loop waits an hour between passes.
  open = await openCloud({ dir, esploraUrl: devnet.url, port: 0, pollMs: 3_600_000, systemNow: () => T0 });
  base = open.url;
  const tick = (): Promise<void> => open.cloud.tick();

  await t.test('plans', async () => {
    const res = await call(base, 'GET', '/v1/plans');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      network: 'regtest',
      minDays: 1,
      plans: [
        { id: 'small', vcpus: 1, memoryMb: 1024, diskGb: 25, satPerDay: 1000 },
        { id: 'medium', vcpus: 2, memoryMb: 2048, diskGb: 50, satPerDay: 2000 },
      ],
    });
  });

  let serverId = '';
  let paidUntil = 0;
  await t.test('create -> invoice -> paid on chain -> booting -> running from its user data', async () => {
    const made = await call(base, 'POST', '/v1/servers', { plan: 'small', days: 2, userData: USER_DATA });
    assert.equal(made.status, 201);
    const { server, invoice } = made.json;
    assert.match(server.id, /^srv_[0-9a-f]{16}$/);
    assert.match(invoice.id, /^inv_[0-9a-f]{16}$/);
    assert.equal(server.state, 'awaiting_payment');
    assert.equal(server.paidUntil, null);
    assert.equal(server.url, null);
    assert.deepEqual(server.invoices, [invoice.id]);
    assert.equal(Object.keys(server).length, 7, 'nothing but the documented fields');
    assert.equal(invoice.purpose, 'create');
    assert.equal(invoice.amountSat, 2000);
    assert.equal(invoice.state, 'unpaid');
    assert.equal(invoice.txid, null);
    assert.match(invoice.address, /^bcrt1q/);
    assert.equal(invoice.expiresAt, server.createdAt + 3_600_000);
    serverId = server.id;

    // Short by one satoshi: kept, and nothing changes.
    await devnet.pay(invoice.address, 1999n);
    await devnet.mine(1);
    await tick();
    assert.equal((await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice.state, 'unpaid');

    const txid = await devnet.pay(invoice.address, 2000n);
    await tick();
    const seen = (await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice;
    assert.equal(seen.state, 'seen');
    assert.equal(seen.txid, txid);
    assert.equal((await call(base, 'GET', `/v1/servers/${serverId}`)).json.server.state, 'awaiting_payment');

    await devnet.mine(1);
    await tick();
    const paid = (await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice;
    assert.equal(paid.state, 'paid');
    assert.equal(paid.txid, txid);
    const running = await until(
      async () => {
        await tick();
        return (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server;
      },
      (s) => s.state === 'running',
      200,
      'running',
    );
    assert.match(running.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(running.createdAt, T0);
    assert.equal(running.paidUntil, T0 + 2 * DAY_MS);
    paidUntil = T0 + 2 * DAY_MS;

    // The image ran `storj` from runcmd with its file paths inside the server's root, and wrote its files there.
    const hello = (await (await fetch(running.url ?? '')).json()) as { image: string; serverId: string; args: string[] };
    const root = join(dir, 'servers', serverId, 'root');
    assert.equal(hello.image, 'local-cloud-image/1');
    assert.equal(hello.serverId, serverId);
    assert.deepEqual(hello.args, ['child', '--ticket-file', join(root, 'etc/storj/ticket')]);
    assert.equal(readFileSync(join(root, 'etc/storj/ticket'), 'utf8'), 'tkt_0e5d2c7a91b84f36');
    // `..` cannot climb out of the root.
    assert.equal(readFileSync(join(root, 'escape'), 'utf8'), 'line one\nline two\n');
    assert.equal(existsSync(join(dir, 'escape')), false);
  });

  await t.test('a renewal extends paidUntil by its days from the current paidUntil', async () => {
    const made = await call(base, 'POST', `/v1/servers/${serverId}/renewals`, { days: 3 });
    assert.equal(made.status, 201);
    const invoice = made.json.invoice;
    assert.equal(invoice.purpose, 'renew');
    assert.equal(invoice.amountSat, 3000);
    assert.equal(invoice.serverId, serverId);
    await devnet.pay(invoice.address, 3000n);
    await devnet.mine(1);
    await tick();
    assert.equal((await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice.state, 'paid');
    const server = (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server;
    assert.equal(server.paidUntil, paidUntil + 3 * DAY_MS);
    assert.equal(server.state, 'running');
    assert.deepEqual(server.invoices.length, 2);
  });

  await t.test('past paidUntil the server is expired and its process stopped; a paid renewal starts it again', async () => {
    const url = (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server.url as string;
    const adv = await call(base, 'POST', '/v1/dev/advance', { seconds: 6 * 86_400 });
    assert.equal(adv.status, 200);
    assert.equal(adv.json.now, T0 + 6 * DAY_MS);
    const server = (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server;
    assert.equal(server.state, 'expired');
    await assert.rejects(fetch(url), 'the process no longer answers');

    const invoice = (await call(base, 'POST', `/v1/servers/${serverId}/renewals`, { days: 1 })).json.invoice;
    await devnet.pay(invoice.address, 1000n);
    await devnet.mine(1);
    const back = await until(
      async () => {
        await tick();
        return (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server;
      },
      (s) => s.state === 'running',
      200,
      'running again',
    );
    // From now, since the old term had run out.
    assert.equal(back.paidUntil, T0 + 7 * DAY_MS);
  });

  await t.test('delete stops the process; deleted answers for a day, then 404; renewal of a deleted one is 409', async () => {
    const before = (await call(base, 'GET', `/v1/servers/${serverId}`)).json.server;
    const del = await call(base, 'DELETE', `/v1/servers/${serverId}`);
    assert.equal(del.status, 200);
    assert.equal(del.json.server.state, 'deleted');
    assert.ok(before.url);
    await assert.rejects(fetch(before.url));
    assert.equal((await call(base, 'DELETE', `/v1/servers/${serverId}`)).json.server.state, 'deleted');
    const renew = await call(base, 'POST', `/v1/servers/${serverId}/renewals`, { days: 1 });
    assert.equal(renew.status, 409);
    assert.equal(renew.json.error.code, 'SERVER_DELETED');
    await call(base, 'POST', '/v1/dev/advance', { seconds: 86_400 });
    const gone = await call(base, 'GET', `/v1/servers/${serverId}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'NOT_FOUND');
    assert.equal(existsSync(join(dir, 'servers', serverId)), false, 'a forgotten server leaves no files');
  });

  await t.test('an unpaid first invoice expires after an hour and its server is deleted', async () => {
    const { server, invoice } = (await call(base, 'POST', '/v1/servers', { plan: 'medium', days: 1, userData: '#cloud-config\n' })).json;
    assert.equal(invoice.amountSat, 2000);
    await call(base, 'POST', '/v1/dev/advance', { seconds: 3600 });
    assert.equal((await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice.state, 'expired');
    assert.equal((await call(base, 'GET', `/v1/servers/${server.id}`)).json.server.state, 'deleted');
  });

  await t.test('a seen payment that is double-spent out of the mempool leaves the invoice unpaid again', async () => {
    const { invoice } = (await call(base, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: '#cloud-config\n' })).json;
    const txid = await devnet.pay(invoice.address, 1000n);
    await tick();
    assert.equal((await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice.state, 'seen');
    await devnet.reorg({ depth: 0, doubleSpend: [txid] });
    await tick();
    const again = (await call(base, 'GET', `/v1/invoices/${invoice.id}`)).json.invoice;
    assert.equal(again.state, 'unpaid');
    assert.equal(again.txid, null);
  });

  await t.test('errors per the doc', async () => {
    const cases: Array<[string, 'GET' | 'POST', string, unknown, string | undefined, number, string]> = [
      ['not JSON', 'POST', '/v1/servers', undefined, '{', 400, 'BAD_REQUEST'],
      ['not an object', 'POST', '/v1/servers', [1], undefined, 400, 'BAD_REQUEST'],
      ['no userData', 'POST', '/v1/servers', { plan: 'small', days: 1 }, undefined, 400, 'BAD_REQUEST'],
      ['days a string', 'POST', '/v1/servers', { plan: 'small', days: '1', userData: '' }, undefined, 400, 'BAD_REQUEST'],
      ['unknown plan', 'POST', '/v1/servers', { plan: 'huge', days: 1, userData: '' }, undefined, 400, 'UNKNOWN_PLAN'],
      ['zero days', 'POST', '/v1/servers', { plan: 'small', days: 0, userData: '' }, undefined, 400, 'TERM_TOO_SHORT'],
      ['half a day', 'POST', '/v1/servers', { plan: 'small', days: 1.5, userData: '' }, undefined, 400, 'TERM_TOO_SHORT'],
      ['user data over 32 KiB', 'POST', '/v1/servers', { plan: 'small', days: 1, userData: 'x'.repeat(32 * 1024 + 1) }, undefined, 400, 'USER_DATA_TOO_LARGE'],
      ['no such server', 'GET', '/v1/servers/srv_0000000000000000', undefined, undefined, 404, 'NOT_FOUND'],
      ['no such invoice', 'GET', '/v1/invoices/inv_0000000000000000', undefined, undefined, 404, 'NOT_FOUND'],
      ['renewal of no server', 'POST', '/v1/servers/srv_0000000000000000/renewals', { days: 1 }, undefined, 404, 'NOT_FOUND'],
      ['an own property name', 'GET', '/v1/servers/constructor', undefined, undefined, 404, 'NOT_FOUND'],
    ];
    for (const [name, method, path, body, raw, status, code] of cases) {
      const res = await call(base, method, path, body, raw);
      assert.equal(res.status, status, name);
      assert.equal(res.json.error.code, code, name);
      assert.equal(typeof res.json.error.message, 'string', name);
    }
    // 32 KiB exactly is accepted.
    assert.equal((await call(base, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: 'x'.repeat(32 * 1024) })).status, 201);
  });
});
