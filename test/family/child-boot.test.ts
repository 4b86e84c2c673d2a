// A spawned child's boot (src/agent/child-boot.ts), as a real process: `storj run --spawn FILE --data-dir DIR` on a
// real devnet, registering with a small HTTP server that stands in for the parent's register endpoint and checks
// the signature as the parent does. Then its registration's retries, in-process, with the waits injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { META_PARENT, META_REGISTERED, openAgentDb } from '../../src/agent/index.ts';
import { registerWithParent } from '../../src/agent/child-boot.ts';
import { MetaStore } from '../../src/db/index.ts';
import type { SpawnSpec } from '../../src/family/index.ts';
import { signedRegistration, verifySignedFields, Wallet } from '../../wallet/index.ts';
import { api, listeningUrl, spawnCaptured, startDevnet, tempDir, type Ctx } from '../helpers/agent.ts';

const root = join(import.meta.dirname, '..', '..');
const PARENT_NODE_ID = 'ab'.repeat(32);
const CODE_HASH = 'cd'.repeat(32);

interface Registration {
  body: Record<string, unknown>;
  verified: boolean;
}

/** The parent's register endpoint, standing in: records each body, checks its signature, answers `answer(n)`. */
async function standInParent(t: Ctx, answer: (n: number) => number): Promise<{ url: string; registrations: Registration[] }> {
  const registrations: Registration[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/family/register') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(text) as Record<string, unknown>;
      const verified = typeof body.nodeId === 'string' && verifySignedFields(body, body.nodeId);
      registrations.push({ body, verified });
      const status = verified ? answer(registrations.length) : 400;
      const payload = status === 201 ? { proposalId: 'p1' } : { error: { code: status === 401 ? 'FAMILY_BAD_TICKET' : 'SOMETHING', message: 'no' } };
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, registrations };
}

/** A port free right now (the local cloud hands its servers a PORT the same way). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Polls `cond` until it holds, failing with `what` (and the child's output) after `ms`. */
async function until(cond: () => boolean, what: () => string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what()}`);
    await sleep(50);
  }
}

function writeSpawnFile(dir: string, spec: SpawnSpec): string {
  const file = join(dir, 'spawn.json');
  writeFileSync(file, `${JSON.stringify(spec)}\n`, { mode: 0o600 });
  return file;
}

/** `storj run --spawn FILE --data-dir DIR` with only what the local cloud's image gives a server's unit. */
async function startChildProcess(t: Ctx, spawnFile: string, dataDir: string, port: number) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), STORJ_PUBLIC_URL: `http://127.0.0.1:${port}`, STORJ_LOG_LEVEL: 'info', NODE_ENV: 'production' };
  const p = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run', '--spawn', spawnFile, '--data-dir', dataDir], { cwd: root, env }, 'SIGKILL');
  const url = await listeningUrl(p.child, p.output, p.exited, 120_000);
  return {
    ...p,
    url,
    async kill9() {
      p.child.kill('SIGKILL');
      await p.exited;
    },
  };
}

/** Every file under `dir` but `except`, as text. */
function filesUnder(dir: string, except: string): Array<{ path: string; text: string }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && join(e.parentPath, e.name) !== except)
    .map((e) => ({ path: join(e.parentPath, e.name), text: readFileSync(join(e.parentPath, e.name), 'latin1') }));
}

test('a spawned child boots on the spawn file, registers once, signed, and a kill -9 and restart keep it without registering again', async (t) => {
  const devnet = await startDevnet(t);
  const parent = await standInParent(t, () => 201);
  const dir = tempDir(t, 'storj-child-');
  const dataDir = join(dir, 'var-lib-storj');
  const spec: SpawnSpec = { parentUrl: parent.url, parentNodeId: PARENT_NODE_ID, ticket: randomBytes(32).toString('base64url'), codeHash: CODE_HASH, network: 'regtest', esploraUrl: devnet.url };
  const spawnFile = writeSpawnFile(dir, spec);
  const port = await freePort();

  const first = await startChildProcess(t, spawnFile, dataDir, port);
  assert.equal(first.url, `http://127.0.0.1:${port}`, 'it listens on PORT, on loopback since its public URL is loopback');
  await until(() => /registered with the parent/.test(first.output()), () => first.output());
  assert.equal(parent.registrations.length, 1);
  const [reg] = parent.registrations;
  assert.ok(reg?.verified, 'signed by the identity key named by its nodeId');
  const meta = Wallet.readMetadata(join(dataDir, 'wallet'));
  assert.deepEqual(Object.keys(reg.body).sort(), ['accountXpub', 'codeHash', 'nodeId', 'signature', 'ticket', 'url']);
  assert.equal(reg.body.nodeId, meta.nodeId);
  assert.equal(reg.body.accountXpub, meta.xpub);
  assert.equal(reg.body.url, `http://127.0.0.1:${port}`);
  assert.equal(reg.body.codeHash, CODE_HASH);
  assert.equal(reg.body.ticket, spec.ticket);
  const info = await api(first.url)<{ nodeId: string; network: string }>('GET', '/v1/info');
  assert.equal(info.status, 200);
  assert.equal(info.body.nodeId, meta.nodeId);
  assert.equal(info.body.network, 'regtest');
  assert.match(first.output(), new RegExp(`\\(${devnet.url.replace(/[.:/]/g, '\\$&')}\\)`), 'its chain is the spawn file\'s Esplora, not an embedded devnet');

  const passphraseFile = join(dataDir, 'passphrase');
  assert.equal(statSync(passphraseFile).mode & 0o777, 0o600);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  const passphrase = readFileSync(passphraseFile, 'utf8').trim();
  assert.match(passphrase, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  const config = JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.network, 'regtest');
  assert.equal(config.esploraUrl, devnet.url);
  assert.equal(config.listen, `127.0.0.1:${port}`);
  assert.equal(config.publicUrl, `http://127.0.0.1:${port}`);

  await first.kill9();
  const second = await startChildProcess(t, spawnFile, dataDir, port);
  await until(() => /already registered with the parent/.test(second.output()), () => second.output());
  assert.equal(parent.registrations.length, 1, 'a restart does not register again');
  assert.equal((await api(second.url)<{ nodeId: string }>('GET', '/v1/info')).body.nodeId, meta.nodeId, 'the same identity');
  assert.equal(readFileSync(passphraseFile, 'utf8').trim(), passphrase, 'the same passphrase');
  await second.kill9();

  // The passphrase and the ticket are nowhere else: not in what it printed or logged, not in its data dir.
  for (const out of [first.output(), second.output()]) {
    assert.ok(out.length > 0 && out.includes('"level"'), 'it logged JSON lines');
    assert.ok(!out.includes(passphrase), 'the passphrase is in its output');
    assert.ok(!out.includes(spec.ticket), 'the ticket is in its output');
  }
  for (const f of filesUnder(dataDir, passphraseFile)) {
    assert.ok(!f.text.includes(passphrase), `the passphrase is in ${f.path}`);
    assert.ok(!f.text.includes(spec.ticket), `the ticket is in ${f.path}`);
  }
  const db = openAgentDb(join(dataDir, 'agent.db'));
  try {
    const store = new MetaStore(db);
    assert.deepEqual(JSON.parse(store.get(META_PARENT) ?? 'null'), { nodeId: PARENT_NODE_ID, url: parent.url });
    assert.equal((JSON.parse(store.get(META_REGISTERED) ?? '{}') as { proposalId?: string }).proposalId, 'p1');
  } finally {
    db.close();
  }
});

test('a 401 from the parent stops the retries, logged as an error line without the ticket', async (t) => {
  const devnet = await startDevnet(t);
  const parent = await standInParent(t, () => 401);
  const dir = tempDir(t, 'storj-child-');
  const spec: SpawnSpec = { parentUrl: parent.url, parentNodeId: PARENT_NODE_ID, ticket: randomBytes(32).toString('base64url'), codeHash: CODE_HASH, network: 'regtest', esploraUrl: devnet.url };
  const child = await startChildProcess(t, writeSpawnFile(dir, spec), join(dir, 'data'), await freePort());
  await until(() => /registration refused/.test(child.output()), () => child.output());
  assert.equal(parent.registrations.length, 1, 'once, and the loop has ended');
  assert.ok(parent.registrations[0]?.verified);
  assert.match(child.output(), /registration refused: .* answered 401 FAMILY_BAD_TICKET; not trying again/);
  assert.ok(!child.output().includes(spec.ticket));
  assert.equal((await api(child.url)('GET', '/v1/info')).status, 200, 'the agent keeps running');
  await child.kill9();
  const db = openAgentDb(join(dir, 'data', 'agent.db'));
  try {
    assert.equal(new MetaStore(db).get(META_REGISTERED), undefined, 'a later boot will ask again');
  } finally {
    db.close();
  }
});

test('a spawn file that is missing or malformed, or no data dir, ends the boot with error CODE: message, before any wallet exists', async (t) => {
  const dir = tempDir(t, 'storj-child-');
  writeFileSync(join(dir, 'spawn.json'), JSON.stringify({ parentUrl: 'http://127.0.0.1:1', extra: 1 }));
  const runs = [join(dir, 'spawn.json'), join(dir, 'absent.json')].map((file) =>
    spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run', '--spawn', file, '--data-dir', join(dir, 'data')], { cwd: root, env: { PATH: process.env.PATH ?? '' } }, 'SIGKILL'),
  );
  const noDataDir = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run', '--spawn', join(dir, 'spawn.json')], { cwd: root, env: { PATH: process.env.PATH ?? '' } }, 'SIGKILL');
  for (const p of runs) {
    await p.exited;
    assert.equal(p.child.exitCode, 1);
    assert.match(p.output(), /^error FAMILY_BAD_SPAWN_SPEC: /m);
  }
  await noDataDir.exited;
  assert.equal(noDataDir.child.exitCode, 1);
  assert.match(noDataDir.output(), /^error BAD_REQUEST: --spawn needs --data-dir/m);
  assert.ok(!Wallet.exists(join(dir, 'data', 'wallet')));
});

test('registration retries 5xx, 429 and network errors with a capped, doubling backoff, and stops on abort', async (t) => {
  const answers = [503, 429, 502, 201];
  const parent = await standInParent(t, (n) => answers[n - 1] ?? 500);
  const wallet = Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'regtest' });
  const body = signedRegistration(wallet, { ticket: randomBytes(32).toString('base64url'), url: 'http://127.0.0.1:9', codeHash: CODE_HASH });
  const waits: number[] = [];
  const lines: string[] = [];
  const log = { info: (l: string) => lines.push(l), error: (l: string) => lines.push(`ERROR ${l}`) };
  const r = await registerWithParent({ parentUrl: parent.url, body, signal: new AbortController().signal, log, baseDelayMs: 1000, maxDelayMs: 3000, random: () => 1, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  assert.deepEqual(r, { outcome: 'registered', proposalId: 'p1' });
  assert.deepEqual(waits, [1000, 2000, 3000], 'doubling, capped');
  assert.equal(parent.registrations.length, 4);
  assert.ok(parent.registrations.every((x) => x.verified));
  assert.ok(lines.every((l) => !l.includes(body.ticket)));

  // Jitter takes up to half of each wait off.
  const closed = `http://127.0.0.1:${await freePort()}`;
  const stop = new AbortController();
  const jittered: number[] = [];
  const r2 = await registerWithParent({
    parentUrl: closed,
    body,
    signal: stop.signal,
    log,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    random: () => 0,
    sleep: (ms) => {
      jittered.push(ms);
      if (jittered.length === 3) stop.abort();
      return stop.signal.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve();
    },
  });
  assert.deepEqual(r2, { outcome: 'stopped' });
  assert.deepEqual(jittered, [500, 1000, 2000]);
  assert.ok(lines.every((l) => !l.includes(body.ticket)));

  // Any 4xx but 408 and 429 is final: trying again cannot change it.
  const refusing = await standInParent(t, () => 403);
  assert.deepEqual(await registerWithParent({ parentUrl: refusing.url, body, signal: new AbortController().signal, log, sleep: () => assert.fail('no retry') }), { outcome: 'refused' });
  assert.equal(refusing.registrations.length, 1);
});
