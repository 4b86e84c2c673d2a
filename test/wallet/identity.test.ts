// Identity key (nodeId), and that a Wallet never shows a secret through JSON, util.inspect or its keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import nacl from 'tweetnacl';
import { verifyIdentity, Wallet } from '../../wallet/index.ts';
import { IDENTITY_DOMAIN } from '../../wallet/identity.ts';
import { bip32 } from '../../wallet/keys.ts';
import { mnemonicToSeed } from '../../wallet/mnemonic.ts';
import { bitcoinNetwork } from '../../wallet/networks.ts';
import { CHEAP_KDF, fakeRandom, tempDir } from './helpers.ts';

interface IdentityFixture { vectors: Array<{ mnemonic: string; bip39Passphrase: string; nodeId: string; message: string; signature: string }> }
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/wallet-identity.json', import.meta.url), 'utf8')) as IdentityFixture;

test('nodeId follows the documented derivation: ed25519 seed = HMAC-SHA256(domain, BIP39 seed)', () => {
  for (const v of FIXTURE.vectors) {
    const w = Wallet.fromMnemonic({ mnemonic: v.mnemonic, network: 'regtest', bip39Passphrase: v.bip39Passphrase });
    const seed = mnemonicToSeed(v.mnemonic, v.bip39Passphrase);
    const edSeed = createHmac('sha256', IDENTITY_DOMAIN).update(seed).digest();
    const independent = Buffer.from(nacl.sign.keyPair.fromSeed(new Uint8Array(edSeed)).publicKey).toString('hex');
    assert.equal(w.nodeId, independent);
    assert.equal(w.nodeId, v.nodeId, 'regression vector');
    // ed25519 signatures are deterministic (RFC 8032), so the signature is a vector too
    const sig = w.signIdentity(new TextEncoder().encode(v.message));
    assert.equal(Buffer.from(sig).toString('hex'), v.signature);
  }
});

test('the nodeId does not depend on the network but does on the BIP39 passphrase', () => {
  const m = FIXTURE.vectors[0]!.mnemonic;
  const a = Wallet.fromMnemonic({ mnemonic: m, network: 'mainnet' });
  const b = Wallet.fromMnemonic({ mnemonic: m, network: 'regtest' });
  const c = Wallet.fromMnemonic({ mnemonic: m, network: 'regtest', bip39Passphrase: 'x' });
  assert.equal(a.nodeId, b.nodeId);
  assert.notEqual(a.nodeId, c.nodeId);
});

test('signIdentity / verifyIdentity round trip, and every kind of mismatch is false', () => {
  const w = Wallet.fromMnemonic({ mnemonic: FIXTURE.vectors[0]!.mnemonic, network: 'regtest' });
  const other = Wallet.fromMnemonic({ mnemonic: FIXTURE.vectors[1]!.mnemonic, network: 'regtest' });
  const msg = new TextEncoder().encode('nonce 8c1f');
  const sig = w.signIdentity(msg);
  assert.equal(sig.length, 64);
  assert.equal(verifyIdentity(w.nodeId, msg, sig), true);
  assert.equal(verifyIdentity(w.nodeId.toUpperCase(), msg, sig), true);
  assert.equal(verifyIdentity(other.nodeId, msg, sig), false);
  assert.equal(verifyIdentity(w.nodeId, new TextEncoder().encode('nonce 8c1e'), sig), false);
  const bad = new Uint8Array(sig);
  bad[10] = (bad[10] ?? 0) ^ 1;
  assert.equal(verifyIdentity(w.nodeId, msg, bad), false);
  assert.equal(verifyIdentity('zz', msg, sig), false);
  assert.equal(verifyIdentity(w.nodeId.slice(2), msg, sig), false);
  assert.equal(verifyIdentity(w.nodeId, msg, sig.subarray(0, 63)), false);
  assert.equal(verifyIdentity(w.nodeId, 'nonce' as unknown as Uint8Array, sig), false);
});

test('JSON.stringify, util.inspect, String(), spread and keys of a Wallet show only public data', async (t) => {
  const dir = tempDir(t);
  const { wallet, mnemonic } = await Wallet.create({ dir, passphrase: 'pass phrase', network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('inspect') });
  const opened = await Wallet.open({ dir, passphrase: 'pass phrase' });
  const seed = Buffer.from(mnemonicToSeed(mnemonic));
  const root = bip32.fromSeed(seed, bitcoinNetwork('regtest'));
  const account = root.derivePath(wallet.accountPath);
  const edSeed = createHmac('sha256', IDENTITY_DOMAIN).update(seed).digest();
  const identitySecret = Buffer.from(nacl.sign.keyPair.fromSeed(new Uint8Array(edSeed)).secretKey);
  const words = mnemonic.split(' ');
  const secrets = [
    mnemonic, seed.toString('hex'), root.toBase58(), account.toBase58(), edSeed.toString('hex'), identitySecret.toString('hex'),
    Buffer.from(account.derive(0).derive(0).privateKey!).toString('hex'), account.derive(0).derive(0).toWIF(),
    ...words.slice(0, -1).map((wd, i) => `${wd} ${words[i + 1]}`),
  ];
  for (const w of [wallet, opened]) {
    const views: Record<string, string> = {
      json: JSON.stringify(w),
      jsonNested: JSON.stringify({ agent: { wallet: w } }),
      inspect: inspect(w, { depth: Infinity, showHidden: true }),
      inspectRaw: inspect(w, { depth: Infinity, showHidden: true, customInspect: false, getters: true }),
      inspectNested: inspect({ w }, { depth: Infinity }),
      string: String(w),
      spread: inspect({ ...w }, { depth: Infinity, showHidden: true }),
      keys: JSON.stringify(Object.getOwnPropertyNames(w)),
    };
    for (const [view, text] of Object.entries(views)) {
      for (const s of secrets) assert.ok(!text.includes(s), `${view} leaks ${s.slice(0, 12)}...`);
      assert.ok(!/[xtyzuv]prv/.test(text), `${view} shows an extended private key`);
      assert.ok(!/seed|mnemonic|privateKey|secret/i.test(text), `${view} names a secret field: ${text}`);
    }
    assert.ok(views.json!.includes(w.nodeId) && views.json!.includes(w.accountXpub()), 'public data is shown');
    assert.ok(views.inspect!.includes(w.nodeId));
  }
});
