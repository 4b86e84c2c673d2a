// Signed messages (wallet/signed.ts): the canonical JSON both sides sign, a proposer's key file, and the check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { canonicalJson, ProposerKey, verifySignedFields } from '../../wallet/index.ts';
import { tempDir } from '../helpers/agent.ts';

test('canonical JSON sorts keys at every depth, has no whitespace, and refuses what JSON cannot say exactly', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ z: 'x', y: null }, true], 'é': 'ü', A: 2 }), '{"A":2,"a":[{"y":null,"z":"x"},true],"b":1,"é":"ü"}');
  assert.equal(canonicalJson({ a: undefined, b: 'quote "x"\n' }), '{"b":"quote \\"x\\"\\n"}', 'an undefined field is absent, as JSON.stringify leaves it');
  for (const bad of [1n, Number.NaN, Infinity, () => 1, new Date(0), new Map()]) {
    assert.throws(() => canonicalJson({ v: bad }), { code: 'WALLET_BAD_ARGUMENT' }, typeof bad);
  }
});

test('a signature covers every field but itself, by the key that made it', (t) => {
  const { key, created } = ProposerKey.loadOrCreate(join(tempDir(t, 'storj-signed-'), 'investor.key'));
  assert.ok(created);
  const signed = key.sign({ provider: 'local-cloud', investmentSat: 150_000, hosts: ['127.0.0.1:8430'], proposerKey: key.publicKeyHex });
  assert.match(signed.signature, /^[0-9a-f]{128}$/);
  assert.ok(verifySignedFields(signed, key.publicKeyHex));
  // The other side may order its fields any way: the canonical form is the same.
  const reordered = Object.fromEntries(Object.entries(signed).reverse());
  assert.ok(verifySignedFields(reordered, key.publicKeyHex));
  // The same signature, checked the plain way, over the canonical JSON of the other fields.
  const { signature, ...rest } = signed;
  assert.ok(nacl.sign.detached.verify(new TextEncoder().encode(canonicalJson(rest)), Buffer.from(signature, 'hex'), Buffer.from(key.publicKeyHex, 'hex')));

  assert.equal(verifySignedFields({ ...signed, investmentSat: 150_001 }, key.publicKeyHex), false, 'a changed field');
  assert.equal(verifySignedFields({ ...signed, extra: 1 }, key.publicKeyHex), false, 'an added field');
  const other = ProposerKey.loadOrCreate(join(tempDir(t, 'storj-signed-'), 'other.key')).key;
  assert.equal(verifySignedFields(signed, other.publicKeyHex), false, 'another key');
  for (const bad of ['', 'zz', signed.signature.slice(2), signed.signature.toUpperCase()]) assert.equal(verifySignedFields({ ...signed, signature: bad }, key.publicKeyHex), false, bad);
  assert.equal(verifySignedFields(signed, 'not a key'), false);
  assert.equal(verifySignedFields({ ...signed, n: 1n }, key.publicKeyHex), false, 'a field JSON cannot hold');
});

test('the key file is made 0600, read back as the same key, and refused when others may read it or it is damaged', (t) => {
  const path = join(tempDir(t, 'storj-signed-'), 'keys', 'investor.key');
  const first = ProposerKey.loadOrCreate(path).key;
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const again = ProposerKey.loadOrCreate(path);
  assert.equal(again.created, false);
  assert.equal(again.key.publicKeyHex, first.publicKeyHex);
  assert.equal(JSON.stringify(first), JSON.stringify({ publicKeyHex: first.publicKeyHex }), 'nothing secret in its JSON');
  assert.ok(!JSON.stringify(first).includes(readFileSync(path, 'utf8').trim()));
  chmodSync(path, 0o644);
  assert.throws(() => ProposerKey.loadOrCreate(path), { code: 'WALLET_KEYSTORE_CORRUPT' });
  writeFileSync(path, 'not hex\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  assert.throws(() => ProposerKey.loadOrCreate(path), { code: 'WALLET_KEYSTORE_CORRUPT' });
});
