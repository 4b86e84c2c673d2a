// The spawn end to end on real parts: a real devnet, a real local cloud, a proposal of spawn-scripts/local-cloud.js
// proposed, funded, evaluated in the sandbox and spawned by the agent (forced ready). The cloud's invoice is paid
// once from the deposit, the server boots (the image's stub: no child registers), and past the registration
// timeout, on the agent's devnet clock, the server is destroyed and the proposal ends terminated. Then a second
// proposal's child registers: a bad ticket, a bad signature, the good one, the same ticket again; and a battery
// that fails terminates it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.ts';
import { startAgent } from '../../src/agent/index.ts';
import { canonicalJson, Wallet } from '../../wallet/index.ts';
import { agentEnv, api, initTestDataDir, startDevnet, tempDir, TEST_PASSPHRASE, type TestAgent } from '../helpers/agent.ts';
import { fund, get, job, propose, received } from './helpers.ts';
import { cloudInvoice, cloudProposal, cloudServer, CODE_HASH, startCloud, until, userDataFor } from './spawn-helpers.ts';

const CHILD = Wallet.fromMnemonic({ mnemonic: 'legal winner thank year wave sausage worth useful legal winner thank yellow', network: 'regtest' });
const TIMEOUT_S = 600;

interface Spawned {
  state: string;
  receivedSat: number;
  payments: Array<{ purpose: string; amountSat: number; txid: string }>;
  child?: { nodeId: string; url: string };
  history: Array<{ state: string; reason: string }>;
}

test('the spawn: invoice paid once from the deposit, server booted, destroyed when no child registers; then registration', async (t) => {
  const devnet = await startDevnet(t);
  const cloud = await startCloud(t, devnet);
  const tickets: string[] = [];
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  const config = loadConfig({ env: agentEnv(dataDir, devnet, { STORJ_REPRODUCE_FORCE: 'true', STORJ_SPAWN_REGISTER_TIMEOUT_SECONDS: String(TIMEOUT_S) }) });
  // With runBattery's spentSat, a bigint: only passed and checks are stored, so JSON has nothing to refuse.
  const battery = (child: { nodeId: string; url: string }) => Promise.resolve({ passed: false, checks: [{ name: 'identity', passed: false, detail: `${child.nodeId.slice(0, 8)} did not sign` }], spentSat: 0n });
  const agent = await startAgent({ config, passphrase: TEST_PASSPHRASE, family: { userData: userDataFor(tickets), codeHash: () => CODE_HASH, battery } });
  t.after(() => agent.close());
  const a: TestAgent = { agent, devnet, config, dataDir, api: api(agent.url) };
  const view = async (id: string) => (await a.api<Spawned>('GET', `/v1/proposals/${id}`)).body;

  // 1. A proposal spawned: selected, quoted for the minimum term, its server made and its invoice paid.
  const p = await propose(a, cloudProposal(t, cloud.url));
  await fund(a, p);
  await job(a.api, 'proposals.evaluate');
  assert.equal((await get(a, p.id)).state, 'evaluated');
  await job(a.api, 'family.spawn');
  let v = await view(p.id);
  assert.equal(v.state, 'spawning', JSON.stringify(v.history));
  assert.deepEqual(v.history.map((h) => h.state).slice(-4, -2), ['selected', 'spawning']);
  assert.equal(tickets.length, 1);
  assert.equal(v.payments.length, 1, JSON.stringify(v));
  const payment = v.payments[0];
  assert.ok(payment);
  assert.equal(payment.amountSat, 1000, 'the minimum term (1 day of the small plan), not the 30 days the transcript quoted');
  const serverId = /server (srv_[0-9a-f]{16}) made/.exec(v.history.map((h) => h.reason).join('\n'))?.[1];
  assert.ok(serverId, JSON.stringify(v.history));
  const server = await cloudServer(cloud, serverId);
  assert.equal(server?.invoices.length, 1);
  const invoiceId = server?.invoices[0] ?? '';
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  const invoice = await until(async () => {
    await cloud.cloud.tick();
    return cloudInvoice(cloud, invoiceId);
  }, (i) => i.state === 'paid', 'the invoice paid');
  assert.equal(invoice.txid, payment.txid, 'the cloud saw the agent\'s payment');
  await until(async () => {
    await cloud.cloud.tick();
    return cloudServer(cloud, serverId);
  }, (s) => s?.state === 'running', 'the server running');

  // Running the job again pays nothing more, and notes the server's address.
  await job(a.api, 'family.spawn');
  await job(a.api, 'watcher');
  v = await view(p.id);
  assert.equal(v.payments.length, 1);
  assert.equal(v.receivedSat, 100_000, 'the change back to the deposit address is no new deposit');
  assert.equal(await received(a, invoice.address), 1000n, 'paid exactly once');
  assert.match(v.history.map((h) => h.reason).join('\n'), /running at http:\/\/127\.0\.0\.1:\d+/);

  // 2. No child registers (the stub image): past the timeout on the agent's clock, the server is destroyed.
  await a.api('POST', '/v1/dev/advance', { seconds: TIMEOUT_S + 60 });
  await job(a.api, 'family.spawn');
  v = await view(p.id);
  assert.equal(v.state, 'terminated');
  assert.match(v.history.at(-1)?.reason ?? '', new RegExp(`the child did not register within ${TIMEOUT_S} s.*server ${serverId} destroyed`));
  assert.equal((await cloudServer(cloud, serverId))?.state, 'deleted');
  // The server's process is gone: its address, which answered while it ran, answers no more.
  const ranAt = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(v.history.map((h) => h.reason).join('\n'))?.[1];
  assert.ok(ranAt, JSON.stringify(v.history));
  await assert.rejects(fetch(ranAt, { signal: AbortSignal.timeout(5000) }), "nothing answers where the server ran");
  await job(a.api, 'proposals.refund');
  assert.equal((await get(a, p.id)).refund, undefined, 'nothing is refunded from terminated');

  // 3. A second proposal, spawned; its child registers.
  const q = await propose(a, cloudProposal(t, cloud.url, 1));
  await fund(a, q);
  await job(a.api, 'proposals.evaluate');
  await job(a.api, 'family.spawn');
  assert.equal((await view(q.id)).state, 'spawning');
  const ticket = tickets.at(-1) ?? '';
  assert.equal(tickets.length, 2);
  const fields = { ticket, nodeId: CHILD.nodeId, url: 'http://127.0.0.1:9', codeHash: CODE_HASH, accountXpub: CHILD.accountXpub() };
  const sign = (f: Record<string, string>, w = CHILD) => ({ ...f, signature: Buffer.from(w.signIdentity(new TextEncoder().encode(canonicalJson(f)))).toString('hex') });
  const register = (body: unknown) => a.api<{ proposalId?: string; error?: { code: string } }>('POST', '/v1/family/register', body);

  let r = await register(sign({ ...fields, ticket: 'not-a-ticket-we-issued' }));
  assert.equal(r.status, 401);
  assert.equal(r.body.error?.code, 'FAMILY_BAD_TICKET');
  const other = Wallet.fromMnemonic({ mnemonic: 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', network: 'regtest' });
  r = await register(sign(fields, other));
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.error?.code, 'FAMILY_BAD_SIGNATURE');
  r = await register({ ...sign(fields), url: 'http://127.0.0.1:10' });
  assert.equal(r.body.error?.code, 'FAMILY_BAD_SIGNATURE', 'a field changed after signing');
  assert.equal((await view(q.id)).state, 'spawning', 'a bad signature does not spend the ticket');
  r = await register(sign(fields));
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.proposalId, q.id);
  v = await view(q.id);
  assert.equal(v.state, 'testing');
  assert.deepEqual(v.child, { nodeId: CHILD.nodeId, url: 'http://127.0.0.1:9' });
  r = await register(sign(fields));
  assert.equal(r.status, 401, 'a ticket is used once');
  assert.equal(r.body.error?.code, 'FAMILY_BAD_TICKET');
  assert.ok(!JSON.stringify(v).includes(ticket), 'the ticket is never shown');

  const fam = await a.api<{ self: { nodeId: string; url: string; codeHash?: string; parent?: unknown }; children: Array<{ proposalId: string; nodeId: string; state: string; codeHash: string }> }>('GET', '/v1/family');
  assert.equal(fam.status, 200);
  assert.equal(fam.body.self.nodeId, agent.wallet.nodeId);
  assert.equal(fam.body.self.codeHash, CODE_HASH);
  assert.equal(fam.body.self.parent, undefined);
  assert.deepEqual(fam.body.children.map((c) => [c.proposalId, c.nodeId, c.state, c.codeHash]), [[q.id, CHILD.nodeId, 'testing', CODE_HASH]]);

  // 4. The battery fails: the server is destroyed and the proposal terminated with the failed checks.
  const qServer = /server (srv_[0-9a-f]{16}) made/.exec(v.history.map((h) => h.reason).join('\n'))?.[1] ?? '';
  await job(a.api, 'family.test');
  v = await view(q.id);
  assert.equal(v.state, 'terminated');
  assert.match(v.history.at(-1)?.reason ?? '', /failed the battery: identity \(.* did not sign\)/);
  assert.equal((await cloudServer(cloud, qServer))?.state, 'deleted');
});

