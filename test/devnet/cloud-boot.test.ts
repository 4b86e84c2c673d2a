// The local cloud's image boots user data in the spawn contract's shape: its shell downloads a bundle from a
// loopback server, checks its sha256, unpacks it safely, links the dependencies, and starts the unit's ExecStart
// as the server's process. A wrong sha256, a missing bundle or an unsafe archive leaves the server stopped with
// the reason in its console; a tampered image changes an unpacked file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet, openCloud, type OpenCloud } from '../../src/devnet/index.ts';
import { boot, isServerProcess, STUB_ENTRY, stopServerProcess } from '../../src/devnet/cloud/image.ts';
import { AGENT_FILE, appBundle, contractUserData, rawBundle, serveBundles } from './cloud-bundle.ts';
import { call, until } from './cloud-helpers.ts';

interface Hello {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  agent: string;
}

let dir: string;
let devnet: Devnet;
let open: OpenCloud;
let parent: { url: string; server: HttpServer };
let good: { bytes: Buffer; sha256: string };
let release: () => void = () => undefined;
const bundles = new Map<string, Buffer>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'storj-cloud-boot-'));
  good = await appBundle(dir);
  bundles.set('/good/v1/bundle', good.bytes);
  bundles.set('/slow/v1/bundle', good.bytes);
  bundles.set('/dotdot/v1/bundle', rawBundle([{ path: 'package.json', type: 'File', body: '{}' }, { path: '../escaped', type: 'File', body: 'x' }]));
  bundles.set('/absolute/v1/bundle', rawBundle([{ path: '/tmp/absolute-from-a-bundle', type: 'File', body: 'x' }]));
  bundles.set('/link/v1/bundle', rawBundle([{ path: 'etc-passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }]));
  const released = new Promise<void>((resolve) => (release = resolve));
  parent = await serveBundles(bundles, { path: '/slow/v1/bundle', released });
  devnet = await Devnet.start();
  open = await openCloud({ dir: join(dir, 'cloud'), esploraUrl: devnet.url, port: 0, pollMs: 50 });
});
after(async () => {
  release();
  await open?.cloud.haltAll();
  await open?.close();
  await devnet?.close();
  parent?.server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Buys a server with `userData`, pays its invoice on the chain, and waits for the state `until` names. */
async function buy(userData: string, done: (state: string) => boolean): Promise<{ id: string; state: string; url: string | null; console: string }> {
  const made = await call(open.url, 'POST', '/v1/servers', { plan: 'small', days: 1, userData });
  assert.equal(made.status, 201);
  await devnet.pay(made.json.invoice.address, BigInt(made.json.invoice.amountSat));
  await devnet.mine(1);
  const server = await until(async () => (await call(open.url, 'GET', `/v1/servers/${made.json.server.id}`)).json.server, (s) => done(s.state), 2400, 'a settled boot');
  const log = join(dir, 'cloud', 'servers', server.id, 'console.log');
  return { id: server.id, state: server.state, url: server.url, console: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

test('user data in the contract shape boots the bundle: the unit runs under its env, paths in the root', async () => {
  const s = await buy(contractUserData(`${parent.url}/good`, good.sha256), (st) => st === 'running' || st === 'stopped');
  assert.equal(s.state, 'running', s.console);
  const hello = (await (await fetch(s.url ?? '')).json()) as Hello;
  const root = join(dir, 'cloud', 'servers', s.id, 'root');
  assert.deepEqual(hello.argv, ['run', '--spawn', join(root, 'etc/storj/spawn.json'), '--data-dir', join(root, 'var/lib/storj')]);
  assert.equal(hello.cwd, join(root, 'opt/storj/app'));
  assert.equal(hello.env.STORJ_PUBLIC_URL, s.url);
  assert.equal(hello.env.PORT, new URL(s.url ?? '').port);
  assert.equal(hello.env.STORJ_SERVER_ID, s.id);
  assert.equal(hello.env.NODE_ENV, 'production', "the unit's Environment=");
  assert.equal(hello.env.STORJ_IMAGE_TAMPERED, undefined);
  assert.equal(hello.agent, AGENT_FILE, 'the code as it was sent');
  assert.ok(lstatSync(join(root, 'opt/storj/app/node_modules')).isSymbolicLink(), 'npm ci is the linked dependencies');
  for (const step of ['ran: mkdir -p', 'ran: curl -fsS', 'sha256sum: /opt/storj/bundle.tgz: OK', 'ran: tar -xzf', 'skipped: npm ci', 'ran: systemctl enable --now storj-agent.service']) {
    assert.ok(s.console.includes(step), `console.log has "${step}":\n${s.console}`);
  }
});

test('a wrong sha256 or a missing bundle leaves the server stopped with the reason, and nothing started', async () => {
  const wrong = await buy(contractUserData(`${parent.url}/good`, '0'.repeat(64)), (st) => st === 'stopped' || st === 'running');
  assert.equal(wrong.state, 'stopped');
  assert.equal(wrong.url, null);
  assert.match(wrong.console, /sha256sum: \/opt\/storj\/bundle\.tgz: FAILED/);
  assert.match(wrong.console, /failed: sha256sum -c \/etc\/storj\/bundle\.sha256: 1 computed checksum did NOT match/);
  assert.doesNotMatch(wrong.console, /ran: tar/, 'set -e: nothing after the failure ran');

  const missing = await buy(contractUserData(`${parent.url}/nothing-here`, good.sha256), (st) => st === 'stopped' || st === 'running');
  assert.equal(missing.state, 'stopped');
  assert.match(missing.console, /failed: curl .*: the requested URL returned error: 404/);
});

test('the cloud answers while a boot downloads; the server is booting until its process answers', async () => {
  const made = await call(open.url, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: contractUserData(`${parent.url}/slow`, good.sha256) });
  await devnet.pay(made.json.invoice.address, BigInt(made.json.invoice.amountSat));
  await devnet.mine(1);
  const id = made.json.server.id;
  const booting = await until(async () => (await call(open.url, 'GET', `/v1/servers/${id}`)).json.server, (s) => s.state === 'booting', 600, 'booting');
  assert.match(booting.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  // The download is held back by the bundle's server: the cloud's API and its passes go on meanwhile.
  assert.equal((await call(open.url, 'GET', '/v1/plans')).status, 200);
  await open.cloud.tick();
  assert.equal((await call(open.url, 'GET', `/v1/servers/${id}`)).json.server.state, 'booting');
  release();
  const running = await until(async () => (await call(open.url, 'GET', `/v1/servers/${id}`)).json.server, (s) => s.state === 'running' || s.state === 'stopped', 2400, 'running');
  assert.equal(running.state, 'running');
});

test('an archive with .., an absolute path or a link is refused before anything is unpacked', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'storj-cloud-tar-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const cases: Array<[string, RegExp]> = [
    ['dotdot', /\.\.\/escaped climbs out with \.\./],
    ['absolute', /\/tmp\/absolute-from-a-bundle is an absolute path/],
    ['link', /etc-passwd is a SymbolicLink/],
  ];
  for (const [name, reason] of cases) {
    const bytes = bundles.get(`/${name}/v1/bundle`)!;
    const sha = createHash('sha256').update(bytes).digest('hex');
    const serverDir = join(base, name);
    await assert.rejects(boot(serverDir, contractUserData(`${parent.url}/${name}`, sha), 'srv_tar', { storjEntry: STUB_ENTRY, tampered: false }), reason);
    const consoleText = readFileSync(join(serverDir, 'console.log'), 'utf8');
    assert.match(consoleText, /failed: tar -xzf .*refused an unsafe archive/, consoleText);
    assert.equal(existsSync(join(serverDir, 'root', 'opt', 'storj', 'app', 'package.json')), false, `${name}: nothing unpacked`);
    assert.equal(existsSync(join(serverDir, 'root', 'opt', 'storj', 'escaped')), false);
  }
  assert.equal(existsSync('/tmp/absolute-from-a-bundle'), false);
});

test('a tampered image changes an unpacked file, so the code that runs is not the code sent', async (t) => {
  const serverDir = mkdtempSync(join(tmpdir(), 'storj-cloud-tampered-'));
  let pid = 0;
  t.after(async () => {
    await stopServerProcess(pid, serverDir);
    rmSync(serverDir, { recursive: true, force: true });
  });
  const booted = await boot(serverDir, contractUserData(`${parent.url}/good`, good.sha256), 'srv_tampered', { storjEntry: STUB_ENTRY, tampered: true });
  pid = booted.pid;
  assert.ok(isServerProcess(pid, serverDir));
  const hello = await until(
    () => fetch(`http://127.0.0.1:${booted.port}/`).then((r) => r.json() as Promise<Hello>, () => null),
    (v) => v !== null,
    600,
    'the tampered server answers',
  );
  assert.equal(hello?.env.STORJ_IMAGE_TAMPERED, '1');
  assert.ok(hello?.agent.startsWith(AGENT_FILE) && hello.agent !== AGENT_FILE, 'src/agent/index.ts was changed after unpacking');
  assert.equal(readFileSync(join(serverDir, 'root', 'etc', 'storj-image'), 'utf8'), 'local-cloud-image/1 (tampered)\n');
  assert.match(readFileSync(join(serverDir, 'console.log'), 'utf8'), /tampered image: changed \/opt\/storj\/app\/src\/agent\/index\.ts/);
});
