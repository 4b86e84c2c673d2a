// Reproduction end to end, as the README's "Watch a child being born" runs it: a real parent (`storj run` on the
// embedded devnet, with its local cloud on a free port), an investor's `storj propose --pay`, and the parent's own
// jobs: it evaluates, selects, pays the cloud the minimum term, the cloud boots the child from the parent's bundle
// as an OS process of its own, the child registers, the battery passes and the child is `proxied`. Then a customer
// uploads to the child and downloads from it with the CLI, paying on chain. No secret appears in the user data, in a
// response body or in a log line of the parent, the cloud or the child.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicToSeedSync } from '@scure/bip39';
import { networks } from 'bitcoinjs-lib';
import type { CloudState } from '../../src/devnet/cloud/state.ts';
import { bip32 } from '../../wallet/keys.ts';
import { initTestDataDir, listeningUrl, spawnCaptured, TEST_PASSPHRASE } from '../helpers/agent.ts';
import { runStorj, type Run } from '../helpers/cli.ts';
import { stopAgentWithCloud } from '../devnet/cloud-helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const CLEAR = ['STORJ_URL', 'STORJ_LISTEN', 'STORJ_DATA_DIR', 'STORJ_ESPLORA_URL', 'STORJ_DEV_CONTROL_URL', 'STORJ_PASSPHRASE', 'STORJ_NETWORK'];
const storj = (args: string[]) => runStorj(args, {}, { clear: CLEAR, timeoutMs: 180_000 });
const PAYOUT = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';
const CREDENTIALS = 'cred-reproduction-7f3a91c2e5d04b68';
/** Each round runs the parent's jobs once (and mines a block): this bounds the rounds, not the time. */
const MAX_ROUNDS = 150;

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}
const lastJson = <T,>(r: Run): T => JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;

interface Proposal {
  id: string;
  state: string;
  payments: Array<{ purpose: string; amountSat: number; txid: string }>;
  child?: { nodeId: string; url: string };
  history: Array<{ state: string; reason: string }>;
}
interface Info { nodeId: string; codeHash: string; network: string }
interface FamilyView { self: { nodeId: string; codeHash?: string; parent?: { nodeId: string; url: string } }; children: Array<{ proposalId: string; nodeId: string; url: string; state: string; codeHash: string }> }

/** Every regular file under `dir` but those under `skip`, recursively, without following links. */
function files(dir: string, skip: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (skip.includes(p)) continue;
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...files(p, skip));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/**
 * A real parent (`storj run` on its embedded devnet, its local cloud on a free port, `extraEnv` added), its wallet
 * funded, and an investor's `storj propose --pay` with the local cloud's script; then the parent's jobs run round by
 * round until the proposal reaches `proxied` or an exit. Everything it started is stopped after the test.
 */
async function parentWithProposal(t: TestContext, extraEnv: NodeJS.ProcessEnv = {}) {
  const base = mkdtempSync(join(tmpdir(), 'storj-reproduction-'));
  const dataDir = join(base, 'parent');
  const cloudDir = join(dataDir, 'cloud');
  const { mnemonic, adminToken } = await initTestDataDir(dataDir);
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, STORJ_DATA_DIR: dataDir, STORJ_LISTEN: '127.0.0.1:0', STORJ_CLOUD_PORT: '0', STORJ_PASSPHRASE: TEST_PASSPHRASE, STORJ_LOG_LEVEL: 'debug' };
  for (const k of ['STORJ_ESPLORA_URL', 'STORJ_DEV_CONTROL_URL', 'STORJ_NETWORK', 'STORJ_LOCAL_CLOUD', 'STORJ_URL']) delete env[k];
  const parent = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run'], { cwd: root, env }, 'SIGKILL');
  // Nothing outlives the test: the parent, the cloud's servers (the child), the cloud and the devnet, then the files.
  t.after(() => stopAgentWithCloud(parent, dataDir, base));
  const url = await listeningUrl(parent.child, parent.output, parent.exited, 120_000);
  const cloudUrl = /local cloud on (http:\/\/127\.0\.0\.1:\d+)/.exec(parent.output())?.[1];
  assert.ok(cloudUrl, parent.output());
  const cloudHost = new URL(cloudUrl).host;
  assert.notEqual(cloudHost, '127.0.0.1:8430', 'a free port');

  const bodies: string[] = [];
  const get = async <T,>(u: string): Promise<T> => {
    const r = await fetch(u);
    const text = await r.text();
    bodies.push(text);
    assert.equal(r.status, 200, `GET ${u}: ${text}`);
    return JSON.parse(text) as T;
  };
  const post = async (path: string, body?: unknown): Promise<void> => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    const text = await r.text();
    bodies.push(text);
    assert.equal(r.status, 200, `POST ${path}: ${text}`);
  };
  const parentInfo = await get<Info>(`${url}/v1/info`);
  assert.match(parentInfo.codeHash, /^[0-9a-f]{64}$/);

  // 0. The operator funds the parent's own wallet: the battery pays the child for its paid upload from it.
  const address = lastJson<{ address: string }>(ok(await runStorj(['--json', 'wallet', 'address'], { STORJ_DATA_DIR: dataDir, STORJ_PASSPHRASE: TEST_PASSPHRASE }, { clear: CLEAR, timeoutMs: 180_000 }), 'wallet address')).address;
  ok(await storj(['dev', 'pay', address, '200000', '--url', url]), 'dev pay to the parent');
  ok(await storj(['dev', 'mine', '--url', url]), 'dev mine');

  // 1. The investor: the local cloud's script and transcript, for the cloud's port, with a credentials file.
  const investor = join(base, 'investor');
  const port = (s: string) => s.replaceAll('127.0.0.1:8430', cloudHost);
  const script = join(base, 'local-cloud.js');
  const transcript = join(base, 'local-cloud.transcript.json');
  const credentials = join(base, 'credentials');
  writeFileSync(script, port(readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8')));
  writeFileSync(transcript, port(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8')));
  writeFileSync(credentials, `${CREDENTIALS}\n`, { mode: 0o600 });
  const proposed = ok(await storj(['--json', '-d', investor, 'propose', '--script', script, '--transcript', transcript, '--credentials', credentials, '--investment', '100000', '--interest', '500', '--payout', PAYOUT, '--url', url, '--pay']), 'propose --pay');
  bodies.push(proposed.stdout, proposed.stderr);
  const out = lastJson<{ id: string; hosts: string[]; withCredentials: boolean; txid: string }>(proposed);
  assert.deepEqual(out.hosts, [cloudHost]);
  assert.equal(out.withCredentials, true);

  // 2. The parent's own jobs move it on (each run now rather than at its next 10 s), a block mined each round.
  const seen: string[] = [];
  let p: Proposal | undefined;
  for (let i = 0; i < MAX_ROUNDS; i++) {
    p = await get<Proposal>(`${url}/v1/proposals/${out.id}`);
    if (seen.at(-1) !== p.state) seen.push(p.state);
    if (['proxied', 'terminated', 'rejected', 'refunded'].includes(p.state)) break;
    await post('/v1/dev/mine', { blocks: 1 });
    for (const job of ['watcher', 'proposals.evaluate', 'family.spawn', 'family.test']) await post(`/v1/dev/jobs/${job}`);
    if (p.state === 'spawning' || p.state === 'testing') await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(p);
  return { base, cloudDir, mnemonic, adminToken, parent, url, cloudUrl, bodies, get, out, parentInfo, p, seen };
}

test('a child is born: storj propose --pay, the parent spawns it on its local cloud from its bundle, the battery passes, a customer uses the child', async (t) => {
  const { base, cloudDir, mnemonic, adminToken, parent, url, cloudUrl, bodies, get, out, parentInfo, p, seen } = await parentWithProposal(t);
  assert.equal(p.state, 'proxied', `states: ${seen.join(' -> ')}; history: ${JSON.stringify(p.history, null, 1)}\n${parent.output().slice(-4000)}`);
  const order = ['awaiting_deposit', 'funded', 'evaluating', 'evaluated', 'selected', 'spawning', 'testing', 'proxied'];
  assert.deepEqual([...new Set(p.history.map((h) => h.state))], order, 'each state in order, none after a later one');
  const ranks = p.history.map((h) => order.indexOf(h.state));
  assert.ok(ranks.every((r, i) => i === 0 || r >= (ranks[i - 1] ?? 0)), `the history never goes back: ${p.history.map((h) => h.state).join(' -> ')}`);

  // 3. The cloud was paid the minimum term, once: the parent's txid is the invoice's.
  assert.equal(p.payments.length, 1, JSON.stringify(p.payments));
  const payment = p.payments[0];
  assert.ok(payment);
  assert.equal(payment.amountSat, 1000, 'one day of the small plan: the minimum term');
  const serverId = /server (srv_[0-9a-f]{16}) made/.exec(p.history.map((h) => h.reason).join('\n'))?.[1];
  assert.ok(serverId, JSON.stringify(p.history));
  const server = (await get<{ server: { state: string; url: string; invoices: string[] } }>(`${cloudUrl}/v1/servers/${serverId}`)).server;
  assert.equal(server.state, 'running');
  assert.equal(server.invoices.length, 1);
  const invoice = (await get<{ invoice: { state: string; txid: string; amountSat: number } }>(`${cloudUrl}/v1/invoices/${server.invoices[0] ?? ''}`)).invoice;
  assert.equal(invoice.state, 'paid');
  assert.equal(invoice.txid, payment.txid, "the cloud's invoice was paid by the parent's transaction");

  // 4. The child: a process of its own, from the bundle, with its own data dir and identity.
  const childUrl = p.child?.url ?? '';
  assert.equal(childUrl, server.url);
  const state = JSON.parse(readFileSync(join(cloudDir, 'cloud-state.json'), 'utf8')) as CloudState;
  const pid = state.servers[serverId]?.pid;
  assert.ok(pid && pid !== parent.child.pid, `the child runs as its own process (${pid})`);
  process.kill(pid, 0);
  const serverRoot = join(cloudDir, 'servers', serverId, 'root');
  const childData = join(serverRoot, 'var/lib/storj');
  assert.ok(existsSync(join(childData, 'config.json')), 'the child has its own data dir');
  assert.ok(existsSync(join(serverRoot, 'opt/storj/app/src/cli/storj.ts')), 'the bundle was unpacked');
  const childInfo = await get<Info>(`${childUrl}/v1/info`);
  assert.equal(childInfo.codeHash, parentInfo.codeHash, "the child runs the parent's code");
  assert.notEqual(childInfo.nodeId, parentInfo.nodeId);
  assert.equal(p.child?.nodeId, childInfo.nodeId);
  const bundle = Buffer.from(await (await fetch(`${url}/v1/bundle`)).arrayBuffer());
  assert.equal(createHash('sha256').update(bundle).digest('hex'), parentInfo.codeHash);

  const fam = await get<FamilyView>(`${url}/v1/family`);
  const kid = fam.children.find((c) => c.proposalId === out.id);
  assert.deepEqual(kid && [kid.nodeId, kid.url, kid.state, kid.codeHash], [childInfo.nodeId, childUrl, 'proxied', parentInfo.codeHash]);
  const childFam = await get<FamilyView>(`${childUrl}/v1/family`);
  assert.deepEqual(childFam.self.parent, { nodeId: parentInfo.nodeId, url });
  const shown = ok(await storj(['family', '--url', url]), 'family');
  bodies.push(shown.stdout);
  assert.ok(shown.stdout.includes(childUrl) && /proxied/.test(shown.stdout), shown.stdout);
  const shownProposal = ok(await storj(['proposal', out.id, '--url', url]), 'proposal');
  bodies.push(shownProposal.stdout);
  assert.match(shownProposal.stdout, /^state\s+proxied$/m);

  // 5. A customer uploads to the child and downloads from it, paying on chain (the devnet's miner, through the parent).
  const bytes = new Uint8Array(100_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
  const file = join(base, 'hello.bin');
  writeFileSync(file, bytes);
  const up = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', '--json', 'upload', file, '--days', '1', '--url', childUrl], { cwd: root, env: { ...process.env, STORJ_URL: '' } }, 'SIGKILL');
  let quote: { address: string; amountSat: number } | undefined;
  for (let i = 0; i < 600 && !quote; i++) {
    const line = up.output().split('\n').find((l) => l.startsWith('{"quote"'));
    if (line) quote = (JSON.parse(line) as { quote: { address: string; amountSat: number } }).quote;
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(quote, `a quote from the child:\n${up.output()}`);
  ok(await storj(['dev', 'pay', quote.address, String(quote.amountSat), '--url', url]), 'dev pay');
  for (let i = 0; i < 120 && up.child.exitCode === null; i++) {
    ok(await storj(['dev', 'mine', '--url', url]), 'dev mine');
    await new Promise((r) => setTimeout(r, 500));
  }
  await up.exited;
  assert.equal(up.child.exitCode, 0, up.output());
  bodies.push(up.output());
  const done = JSON.parse(up.output().trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '') as { url: string; sha256: string };
  assert.ok(done.url.startsWith(`${childUrl}/f/`), done.url);
  const copy = join(base, 'copy.bin');
  ok(await storj(['download', done.url, '-o', copy]), 'download');
  assert.deepEqual(new Uint8Array(readFileSync(copy)), bytes, 'the bytes the child served are the bytes uploaded');

  // 6. Secrets: none in the user data, the cloud's files and logs, the child's console, the bodies or the parent's log.
  const seed = Buffer.from(mnemonicToSeedSync(mnemonic));
  const rootKey = bip32.fromSeed(seed, networks.regtest);
  const secrets: Record<string, string> = {
    'the credentials': CREDENTIALS,
    "the parent's mnemonic": mnemonic,
    "the parent's seed": seed.toString('hex'),
    "the parent's root private key": rootKey.toBase58(),
    "the parent's account private key": rootKey.derivePath("m/84'/1'/0'").toBase58(),
    "the parent's passphrase": TEST_PASSPHRASE,
    "the parent's admin token": adminToken,
    "the child's passphrase": readFileSync(join(childData, 'passphrase'), 'utf8').trim(),
  };
  const userData = state.servers[serverId]?.userData ?? '';
  assert.match(userData, /^#cloud-config\n/);
  // The cloud's own files: its state (with the user data), its log, each server's console and written files; not the
  // unpacked code, nor the child's data dir, which holds its own passphrase file by design.
  const cloudFiles = files(cloudDir, [join(serverRoot, 'opt'), childData]).filter((f) => !f.endsWith('.tgz'));
  assert.ok(cloudFiles.some((f) => f.endsWith('console.log')), cloudFiles.join('\n'));
  const texts: Array<[string, string]> = [['the user data', userData], ["the parent's log", parent.output()], ...bodies.map((b, i): [string, string] => [`response ${i}`, b]), ...cloudFiles.map((f): [string, string] => [f, readFileSync(f, 'latin1')])];
  assert.ok(parent.output().includes('/v1/family/register'), 'the parent logged at debug');
  for (const [where, text] of texts) {
    for (const [what, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `${what} is in ${where}`);
    assert.doesNotMatch(text, /\b[xt]prv[1-9A-HJ-NP-Za-km-z]{100,}/, `an extended private key is in ${where}`);
  }
});

test('a tampered image fails the battery: the child is destroyed through the script, its process is gone, and the proposal ends terminated with the reason', async (t) => {
  const { cloudDir, cloudUrl, get, p, seen } = await parentWithProposal(t, { STORJ_CLOUD_TAMPERED_IMAGE: 'true' });
  assert.equal(p.state, 'terminated', `states: ${seen.join(' -> ')}; history: ${JSON.stringify(p.history, null, 1)}`);
  assert.ok(p.history.some((h) => h.state === 'testing'), `the child booted and registered before its tests: ${JSON.stringify(p.history, null, 1)}`);
  const last = p.history.at(-1);
  assert.equal(last?.state, 'terminated');
  assert.match(last?.reason ?? '', /codeHash/, 'the reason names the failed check');
  const serverId = /server (srv_[0-9a-f]{16}) made/.exec(p.history.map((h) => h.reason).join('\n'))?.[1];
  assert.ok(serverId, JSON.stringify(p.history));
  const server = (await get<{ server: { state: string; url: string | null } }>(`${cloudUrl}/v1/servers/${serverId}`)).server;
  assert.equal(server.state, 'deleted', 'destroyed through the script');
  assert.equal(server.url, null);
  // No process works in the server's root any more (the cloud's own test of a server's process: src/devnet/cloud).
  const serverRoot = realpathSync(join(cloudDir, 'servers', serverId, 'root'));
  const inRoot = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const cwd = readlinkSync(`/proc/${d}/cwd`);
      return cwd === serverRoot || cwd.startsWith(`${serverRoot}/`);
    } catch {
      return false;
    }
  });
  assert.deepEqual(inRoot, [], "the server's processes are gone");
  const marker = readFileSync(join(cloudDir, 'servers', serverId, 'root', 'etc', 'storj-image'), 'utf8');
  assert.match(marker, /tampered/, 'the cloud booted its tampered image');
});
