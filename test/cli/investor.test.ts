// The investor's CLI without an agent: what `storj propose` reads from a transcript (provider, hosts, quote) without
// running the script, the signed body it sends (which the agent's own check, verifySignedFields, accepts), how
// the agent's answers about proposals are parsed, and, as a process against a small stand-in server, that the
// body on the wire verifies and the credentials it carries never reach the screen, the --json lines or an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ProposerKey, verifySignedFields } from '../../wallet/index.ts';
import { AgentError } from '../../src/errors/index.ts';
import { RemoteError } from '../../src/cli/client/api.ts';
import { parseCreated, parseProposal, parseProposalList } from '../../src/cli/client/parse-proposal.ts';
import { credentialsFromText, isPlainHost, parseBps, parseHosts, readTranscript, signedProposal, type ProposalInput } from '../../src/cli/client/proposal.ts';
import { defaultKeyPath, redacted } from '../../src/cli/commands/investor.ts';
import { tempDir, type Ctx } from '../helpers/agent.ts';
import { runStorj, type Run } from '../helpers/cli.ts';

const root = join(import.meta.dirname, '..', '..');
const scripts = join(root, 'spawn-scripts');
const PAYOUT = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';
const DEPOSIT = 'bcrt1qlmu8mnxx3v86e8n48hqlul8afmktt4zg8rh0ef';

const transcript = (name: string) => readFileSync(join(scripts, `${name}.transcript.json`), 'utf8');
const badRequest = (re: RegExp) => (e: unknown) => e instanceof AgentError && e.code === 'BAD_REQUEST' && re.test(e.message);

test("a transcript gives the provider, its first quote call's spawnSat and monthlySat, and the hosts of its requests (each script's meta.hosts)", () => {
  const cases: [string, string[], bigint, bigint][] = [
    ['local-cloud', ['127.0.0.1:8430'], 30_000n, 30_000n],
    ['bitlaunch', ['app.bitlaunch.io', 'mempool.space'], 7_210n, 7_210n],
    // hetzner's second quote call (10 days) is not the proposal's quote: the first one is.
    ['hetzner', ['api.hetzner.cloud'], 0n, 0n],
  ];
  for (const [name, hosts, spawnSat, monthlySat] of cases) {
    const t = readTranscript(transcript(name), name);
    assert.equal(t.provider, name);
    assert.deepEqual(t.hosts, hosts, name);
    assert.deepEqual(t.quote, { spawnSat, monthlySat }, name);
    const declared = /hosts:\s*\[([^\]]*)\]/.exec(readFileSync(join(scripts, `${name}.js`), 'utf8'))?.[1];
    assert.deepEqual(t.hosts, [...(declared ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]), `${name}: the hosts its meta declares`);
  }
});

test('a transcript that is not a storj-transcript/1 with a quote, or that requests a host that is not plain, is refused', () => {
  const good = JSON.parse(transcript('local-cloud')) as { calls: { call: string; result: Record<string, unknown>; exchanges: { request: { url: string } }[] }[] };
  const variant = (f: (t: typeof good) => void) => {
    const t = structuredClone(good);
    f(t);
    return JSON.stringify(t);
  };
  const cases: [string, RegExp][] = [
    ['{"format": ', /not JSON/],
    ['[]', /not a JSON object/],
    [variant((t) => Object.assign(t, { format: 'other/1' })), /"format"/],
    [variant((t) => Object.assign(t, { provider: 'Local Cloud' })), /"provider"/],
    [variant((t) => (t.calls = t.calls.filter((c) => c.call !== 'quote'))), /no quote call/],
    [variant((t) => (t.calls[0]!.result.spawnSat = 1.5)), /spawnSat is not a whole number/],
    [variant((t) => (t.calls[0]!.result.monthlySat = '30000')), /monthlySat is not a whole number/],
    [variant((t) => (t.calls[0]!.exchanges[0]!.request.url = 'ftp://127.0.0.1:8430/v1/plans')), /without an http\(s\) URL/],
    [variant((t) => (t.calls[0]!.exchanges[0]!.request.url = 'http://[::1]:8430/v1/plans')), /not a plain host/],
  ];
  for (const [text, re] of cases) assert.throws(() => readTranscript(text, 't.json'), badRequest(re), text.slice(0, 80));
});

test('hosts: plain lowercase host[:port] only; --interest: whole basis points 0..100000; credentials lose one final line break', () => {
  for (const h of ['api.hetzner.cloud', '127.0.0.1:8430', 'localhost', 'a-b.example:65535']) assert.ok(isPlainHost(h), h);
  for (const h of ['API.hetzner.cloud', 'https://x.io', 'x.io/path', 'u@x.io', '*.x.io', '[::1]', 'x.io:0', 'x.io:65536', 'x.io:080', '-x.io', 'x..io', '']) assert.ok(!isPlainHost(h), h);
  assert.deepEqual(parseHosts('a.io, 127.0.0.1:8430,a.io'), ['a.io', '127.0.0.1:8430']);
  for (const raw of ['', 'a.io,', 'https://a.io']) assert.throws(() => parseHosts(raw), badRequest(/--hosts/), raw);
  assert.equal(parseBps('0'), 0);
  assert.equal(parseBps(' 500 '), 500);
  assert.equal(parseBps('100000'), 100_000);
  for (const raw of ['100001', '5%', '1.5', '-1', '', '007']) assert.throws(() => parseBps(raw), badRequest(/--interest/), raw);
  assert.equal(credentialsFromText('Bearer: tok\n'), 'Bearer: tok');
  assert.equal(credentialsFromText('tok\r\n'), 'tok');
  assert.equal(credentialsFromText(' tok \n\n'), ' tok \n', 'opaque: only one line break goes');
  assert.throws(() => credentialsFromText('\n'), badRequest(/empty/));
});

function input(over: Partial<ProposalInput> = {}): ProposalInput {
  const t = readTranscript(transcript('local-cloud'), 'local-cloud');
  return { provider: t.provider, script: readFileSync(join(scripts, 'local-cloud.js'), 'utf8'), hosts: t.hosts, transcript: t.transcript, quote: t.quote, investmentSat: 100_000n, interestBps: 500, payoutAddress: PAYOUT, ...over };
}

test('the body of POST /v1/proposals: every field of the contract, variant clone, signed so that verifySignedFields accepts it and no changed field', (t) => {
  const dir = tempDir(t, 'storj-investor-');
  const keyFile = join(dir, 'keys', 'investor.key');
  const { key, created } = ProposerKey.loadOrCreate(keyFile);
  assert.ok(created);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is private');
  assert.equal(ProposerKey.loadOrCreate(keyFile).key.publicKeyHex, key.publicKeyHex, 'reused, not replaced');

  const body = signedProposal(input({ credentials: 'hunter2-token' }), key);
  assert.deepEqual(Object.keys(body).sort(), ['credentials', 'hosts', 'interestBps', 'investmentSat', 'payoutAddress', 'proposerKey', 'provider', 'quote', 'script', 'signature', 'transcript', 'variant']);
  assert.equal(body.variant, 'clone');
  assert.equal(body.proposerKey, key.publicKeyHex);
  assert.deepEqual(body.quote, { spawnSat: 30_000, monthlySat: 30_000 }, 'satoshis as JSON integers');
  assert.equal(body.investmentSat, 100_000);
  assert.deepEqual(body.hosts, ['127.0.0.1:8430']);
  assert.equal((body.transcript as { provider: string }).provider, 'local-cloud', 'the transcript goes as JSON');
  // Over the wire and back, as the agent receives it.
  const received = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  assert.ok(verifySignedFields(received, key.publicKeyHex), 'the signature verifies');
  for (const [k, v] of Object.entries({ investmentSat: 100_001, payoutAddress: DEPOSIT, credentials: 'other', hosts: ['evil.example'], variant: 'mutant', interestBps: 501 })) {
    assert.ok(!verifySignedFields({ ...received, [k]: v }, key.publicKeyHex), `a changed ${k} does not verify`);
  }
  const other = ProposerKey.loadOrCreate(join(dir, 'other.key')).key;
  assert.ok(!verifySignedFields(received, other.publicKeyHex), "another key's check fails");
  const without = signedProposal(input(), key);
  assert.ok(!('credentials' in without), 'no credentials field when none are given');
  assert.ok(verifySignedFields(JSON.parse(JSON.stringify(without)) as Record<string, unknown>, key.publicKeyHex));
});

test('the key file defaults to <dataDir>/investor.key: --data-dir, else STORJ_DATA_DIR', () => {
  assert.equal(defaultKeyPath('/srv/a', { STORJ_DATA_DIR: '/srv/b' }), '/srv/a/investor.key');
  assert.equal(defaultKeyPath(undefined, { STORJ_DATA_DIR: '/srv/b' }), '/srv/b/investor.key');
  assert.match(defaultKeyPath(undefined, {}), /\/\.storj-agent\/investor\.key$/);
});

const proposalBody = (over: Record<string, unknown> = {}) => ({
  id: 'prop_1',
  state: 'evaluated',
  provider: 'local-cloud',
  investmentSat: 100_000,
  depositSat: 100_000,
  receivedSat: 100_000,
  evaluation: { passed: true, checks: [{ name: 'static', passed: true, detail: 'meta valid\u001b[2J' }, { name: 'replay', passed: true, detail: null }] },
  payments: [],
  payback: { owedSat: 0, paidSat: 0, txids: [] },
  history: [{ state: 'awaiting_deposit', at: 1767225600000, reason: 'proposed' }, { state: 'funded', at: '2026-01-01T00:10:00.000Z', reason: 'deposit confirmed' }],
  ...over,
});

test("the agent's answers about proposals are parsed: a deposit URI for another address, an unknown state or a bad amount is refused; text is cleaned", () => {
  const c = parseCreated({ id: 'prop_1', depositAddress: DEPOSIT, depositSat: 100_000, bip21: `bitcoin:${DEPOSIT}?amount=0.001`, state: 'awaiting_deposit' });
  assert.equal(c.depositSat, 100_000n);
  const bad = (e: unknown) => e instanceof AgentError && e.code === 'AGENT_BAD_RESPONSE';
  assert.throws(() => parseCreated({ ...c, depositSat: 100_000, bip21: `bitcoin:${PAYOUT}?amount=0.001` }), bad, "a QR code of someone else's address");
  const p = parseProposal(proposalBody());
  assert.equal(p.evaluation?.checks[0]?.detail, 'meta valid[2J', 'no escape sequence reaches the terminal');
  assert.equal(p.evaluation?.checks[1]?.detail, '');
  assert.deepEqual(p.history?.map((h) => h.at), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:10:00.000Z'], 'milliseconds or ISO 8601, shown as ISO 8601');
  assert.throws(() => parseProposal(proposalBody({ state: 'vanished' })), bad);
  assert.throws(() => parseProposal(proposalBody({ receivedSat: -1 })), bad);
  assert.throws(() => parseProposal(proposalBody({ history: undefined })), bad, 'GET /v1/proposals/:id has a history');
  assert.throws(() => parseProposal(proposalBody({ refund: { amountSat: 1, txid: 'nope' } })), bad);
  const { history: _h, ...listed } = proposalBody();
  assert.equal(parseProposalList({ proposals: [listed] })[0]?.history, undefined, 'the list has none');
});

test('an error the agent answers with loses any copy of the credentials before it is shown', () => {
  const e = new RemoteError('BAD_REQUEST', 'bad body: {"credentials":"s3cret"}', 400, { error: {}, echo: 'x s3cret y' });
  const r = redacted(e, 's3cret') as RemoteError;
  assert.ok(!JSON.stringify([r.message, r.body]).includes('s3cret'));
  assert.equal(r.code, 'BAD_REQUEST');
  assert.equal(redacted(e, undefined), e);
});

/** A stand-in agent: records POST /v1/proposals, and answers it with `reply` (status, body). */
async function standIn(t: Ctx, reply: (body: Record<string, unknown>) => [number, unknown]): Promise<{ base: string; posted: Record<string, unknown>[] }> {
  const posted: Record<string, unknown>[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/proposals') {
        const body = JSON.parse(text) as Record<string, unknown>;
        posted.push(body);
        return json(...reply(body));
      }
      if (req.method === 'GET' && req.url === '/v1/proposals/prop_1') return json(200, proposalBody());
      if (req.method === 'GET' && req.url === '/v1/proposals') return json(200, { proposals: [{ ...proposalBody(), history: undefined }] });
      json(404, { error: { code: 'NOT_FOUND', message: 'no such thing' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posted };
}

const storj = (args: string[], env: Record<string, string> = {}) => runStorj(args, env, { clear: ['STORJ_URL', 'STORJ_LISTEN', 'STORJ_DATA_DIR'], timeoutMs: 120_000 });
const lastJson = (r: Run) => JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;

test('storj propose as a process: the body on the wire verifies, the key file is made in the data dir, and the credentials appear nowhere on screen', async (t) => {
  const secret = 'tok-7d1f0c5e-credentials';
  const { base, posted } = await standIn(t, () => [201, { id: 'prop_1', depositAddress: DEPOSIT, depositSat: 100_000, bip21: `bitcoin:${DEPOSIT}?amount=0.001&label=storj+proposal`, state: 'awaiting_deposit' }]);
  const dir = tempDir(t, 'storj-investor-');
  const creds = join(dir, 'token');
  writeFileSync(creds, `${secret}\n`);
  const args = ['propose', '--script', join(scripts, 'local-cloud.js'), '--transcript', join(scripts, 'local-cloud.transcript.json'), '--investment', '100000', '--interest', '500', '--payout', PAYOUT, '--credentials', creds, '--url', base];
  const human = await storj(args, { STORJ_DATA_DIR: dir });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^ {2}bitcoin:${DEPOSIT}\\?amount=0\\.001`, 'm'), 'the deposit as a BIP21 URI');
  assert.ok(human.stdout.split('\n').filter((l) => /^[█▀▄ ]{20,}$/.test(l)).length >= 10, `and its QR code:\n${human.stdout}`);
  assert.match(human.stdout, /^follow it: storj proposal prop_1/m);
  const json = await storj(['--json', ...args], { STORJ_DATA_DIR: dir });
  assert.equal(json.code, 0, json.stderr);
  const lines = json.stdout.trim().split('\n');
  assert.equal(lines.length, 2, 'the new proposal, then the result');
  assert.deepEqual((JSON.parse(lines[0] ?? '') as { proposal: { id: string } }).proposal.id, 'prop_1');
  const out = lastJson(json);
  assert.equal(out.keyFile, join(dir, 'investor.key'));
  assert.equal(out.keyCreated, false, 'the second run reuses the key');
  assert.equal(out.withCredentials, true);

  assert.equal(posted.length, 2);
  for (const body of posted) {
    assert.ok(verifySignedFields(body, body.proposerKey as string), 'the signature verifies on the agent\'s side');
    assert.equal(body.credentials, secret, 'sent once per proposal, without the file\'s line break');
  }
  assert.equal(posted[0]?.proposerKey, out.proposerKey, 'the same key both times');
  assert.equal(statSync(join(dir, 'investor.key')).mode & 0o777, 0o600);
  for (const r of [human, json]) assert.ok(!(r.stdout + r.stderr).includes(secret), 'the credentials are never shown');
});

test('storj propose: an agent that echoes the credentials in its error shows the error, not them; --pay needs a devnet; storj proposal and proposals show every part', async (t) => {
  const secret = 'tok-echoed-3b9a';
  const { base, posted } = await standIn(t, (body) => [400, { error: { code: 'PROPOSAL_BAD_PAYOUT', message: `bad payout for ${String(body.credentials)}` }, body }]);
  const dir = tempDir(t, 'storj-investor-');
  const creds = join(dir, 'token');
  writeFileSync(creds, secret);
  const r = await storj(['--json', 'propose', '--script', join(scripts, 'local-cloud.js'), '--transcript', join(scripts, 'local-cloud.transcript.json'), '--investment', '100000', '--interest', '0', '--payout', PAYOUT, '--credentials', creds, '--key', join(dir, 'k'), '--url', base]);
  assert.equal(posted.length, 1);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error PROPOSAL_BAD_PAYOUT: bad payout for \[credentials\]$/m);
  assert.ok(!(r.stdout + r.stderr).includes(secret));

  // --pay against an agent that is not a devnet: refused before anything is signed or sent.
  const p = await storj(['propose', '--script', join(scripts, 'local-cloud.js'), '--transcript', join(scripts, 'local-cloud.transcript.json'), '--investment', '100000', '--interest', '0', '--payout', PAYOUT, '--key', join(dir, 'k2'), '--url', base, '--pay']);
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /^error DEVNET_ONLY: --pay works only with a devnet agent/m);
  assert.equal(posted.length, 1, 'no proposal was sent');
  assert.ok(!existsSync(join(dir, 'k2')), 'no key was made');

  const shown = await storj(['proposal', 'prop_1', '--url', base]);
  assert.equal(shown.code, 0, shown.stderr);
  for (const re of [/^state\s+evaluated$/m, /^deposit\s+100000 of 100000 sat received$/m, /^evaluation\s+passed \(2 of 2 checks passed\)$/m, /^ {2}pass {2}static: meta valid\[2J$/m, /^ {2}pass {2}replay$/m, /^payback\s+0 of 0 sat paid$/m, /^ {2}2026-01-01T00:00:00\.000Z {2}awaiting_deposit +proposed$/m]) {
    assert.match(shown.stdout, re);
  }
  const j = lastJson(await storj(['--json', 'proposal', 'prop_1', '--url', base]));
  assert.equal(j.state, 'evaluated');
  assert.equal((j.history as unknown[]).length, 2);
  const list = lastJson(await storj(['--json', 'proposals', '--url', base])) as { proposals: { id: string; history?: unknown }[] };
  assert.deepEqual(list.proposals.map((p) => p.id), ['prop_1']);
  assert.equal(list.proposals[0]?.history, undefined);
});
