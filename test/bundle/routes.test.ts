// What an agent says about its code and its identity over HTTP: GET /v1/bundle (ETag, 304, HEAD), the codeHash in
// /v1/info and the operator's view, and POST /v1/identity, whose signature a stranger checks with the wallet's
// verifyIdentity over identityMessage(nonce). A real agent on a real devnet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { buildBundle, packageRoot } from '../../src/bundle/index.ts';
import { identityMessage, verifyIdentity } from '../../wallet/index.ts';
import { AgentError } from '../../src/errors/index.ts';
import { startTestAgent } from '../helpers/agent.ts';

void test('GET /v1/bundle serves the bundle with the codeHash of /v1/info as its ETag, 304 on a match, HEAD alike', async (t) => {
  const a = await startTestAgent(t);
  const info = await a.api<{ codeHash: string; nodeId: string }>('GET', '/v1/info');
  assert.equal(info.status, 200);
  assert.match(info.body.codeHash, /^[0-9a-f]{64}$/);
  assert.equal(info.body.codeHash, a.agent.codeHash);

  const res = await fetch(`${a.agent.url}/v1/bundle`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/gzip');
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.headers.get('content-length'), String(body.length));
  assert.equal(createHash('sha256').update(body).digest('hex'), info.body.codeHash, 'the body hashes to the codeHash');
  assert.equal(res.headers.get('etag'), `"${info.body.codeHash}"`);
  assert.ok(body.equals((await buildBundle(packageRoot())).bytes), 'the bundle of the running code');

  for (const condition of [`"${info.body.codeHash}"`, `W/"${info.body.codeHash}"`, `"other", "${info.body.codeHash}"`, '*']) {
    const again = await fetch(`${a.agent.url}/v1/bundle`, { headers: { 'if-none-match': condition } });
    assert.equal(again.status, 304, condition);
    assert.equal(again.headers.get('etag'), `"${info.body.codeHash}"`);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
  for (const condition of ['"0000"', 'not an etag', `${info.body.codeHash}`]) {
    const full = await fetch(`${a.agent.url}/v1/bundle`, { headers: { 'if-none-match': condition } });
    assert.equal(full.status, 200, condition);
    assert.equal((await full.arrayBuffer()).byteLength, body.length);
  }

  const head = await fetch(`${a.agent.url}/v1/bundle`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), `"${info.body.codeHash}"`);
  assert.equal(head.headers.get('content-type'), 'application/gzip');
  assert.equal(head.headers.get('content-length'), String(body.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const headMatch = await fetch(`${a.agent.url}/v1/bundle`, { method: 'HEAD', headers: { 'if-none-match': `"${info.body.codeHash}"` } });
  assert.equal(headMatch.status, 304);

  const operator = await a.api<{ codeHash: string }>('GET', '/v1/agent', undefined, { authorization: `Bearer ${a.config.adminToken}` });
  assert.equal(operator.status, 200);
  assert.equal(operator.body.codeHash, info.body.codeHash);

  const doc = await a.api<{ paths: Record<string, unknown> }>('GET', '/v1/openapi.json');
  assert.ok('/v1/bundle' in doc.body.paths && '/v1/identity' in doc.body.paths, 'both routes are in the OpenAPI document');
});

void test('POST /v1/identity signs the nonce with the identity key; a bad nonce is 400; it and the bundle take the shared free budget', async (t) => {
  // A budget of 12 free requests per client in an hour: this test makes exactly that many before the last two.
  const a = await startTestAgent(t, { env: { STORJ_RATE_LIMIT_MAX: '12', STORJ_RATE_LIMIT_WINDOW_SECONDS: '3600' } });
  const nonce = randomBytes(32).toString('hex');
  const r = await a.api<{ nodeId: string; signature: string }>('POST', '/v1/identity', { nonce });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['nodeId', 'signature']);
  assert.equal(r.body.nodeId, a.agent.wallet.nodeId);
  const sig = new Uint8Array(Buffer.from(r.body.signature, 'hex'));
  assert.ok(verifyIdentity(r.body.nodeId, identityMessage(nonce), sig), 'verifies over identityMessage(nonce)');
  // The message is the domain string and the nonce, nothing else: an independent construction.
  assert.ok(verifyIdentity(r.body.nodeId, new TextEncoder().encode(`storj-agent/identity-nonce/v1:${nonce}`), sig));
  const other = randomBytes(32).toString('hex');
  assert.ok(!verifyIdentity(r.body.nodeId, identityMessage(other), sig), 'not over another nonce');
  assert.ok(!verifyIdentity(r.body.nodeId, new TextEncoder().encode(nonce), sig), 'not over the bare nonce');

  for (const body of [{ nonce: nonce.slice(2) }, { nonce: `${nonce}00` }, { nonce: nonce.toUpperCase() }, { nonce: `${nonce.slice(1)}g` }, { nonce: 42 }, {}, { nonce, extra: 1 }]) {
    const bad = await a.api<{ error: { code: string; message: string } }>('POST', '/v1/identity', body);
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.equal(bad.body.error.code, 'BAD_REQUEST');
  }
  // 1 + 7 so far; /v1/info and the bundle count against the same budget.
  assert.equal((await a.api('POST', '/v1/identity', { nonce: other })).status, 200);
  assert.equal((await a.api('GET', '/v1/info')).status, 200);
  assert.equal((await fetch(`${a.agent.url}/v1/bundle`)).status, 200);
  assert.equal((await a.api('POST', '/v1/identity', { nonce })).status, 200);
  const limited = await a.api<{ error: { code: string } }>('POST', '/v1/identity', { nonce });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, 'RATE_LIMITED');
  const bundleLimited = await fetch(`${a.agent.url}/v1/bundle`);
  assert.equal(bundleLimited.status, 429);
  assert.ok(bundleLimited.headers.get('retry-after'));
});

void test('identityMessage refuses a nonce that is not 64 lowercase hex characters', () => {
  assert.equal(Buffer.from(identityMessage('ab'.repeat(32))).toString('utf8'), `storj-agent/identity-nonce/v1:${'ab'.repeat(32)}`);
  for (const nonce of ['', 'ab'.repeat(31), 'AB'.repeat(32), `${'ab'.repeat(31)}zz`, ` ${'ab'.repeat(32)}`]) {
    assert.throws(() => identityMessage(nonce), (e: unknown) => e instanceof AgentError && e.code === 'WALLET_BAD_ARGUMENT', JSON.stringify(nonce));
  }
});
