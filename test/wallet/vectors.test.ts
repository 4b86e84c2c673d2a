// Official test vectors: BIP39 (trezor/python-mnemonic), BIP32 (vectors 1-3), BIP84 (all), through the wallet's own code paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ecc from 'tiny-secp256k1';
import { Psbt } from 'bitcoinjs-lib';
import { checkMnemonic, createMnemonic, mnemonicToSeed } from '../../wallet/mnemonic.ts';
import { AccountKeys, base58checkEncode, bip32, serializePublic } from '../../wallet/keys.ts';
import { Wallet } from '../../wallet/index.ts';
import { rejectsWith } from '../helpers/errors.ts';

interface Bip39Vector { entropy: string; mnemonic: string; seed: string; xprv: string }
interface Bip39Fixture { passphrase: string; english: Bip39Vector[]; invalid: { cases: Array<{ mnemonic: string; why: string }> } }
interface Bip32Fixture { vectors: Array<{ name: string; seed: string; chains: Array<{ path: string; xpub: string; xprv: string }> }> }
interface Bip84Address { name: string; chain: 0 | 1; index: number; path: string; privkey: string; pubkey: string; address: string }
interface Bip84Fixture {
  mnemonic: string; rootpriv: string; rootpub: string;
  account: { path: string; xpriv: string; xpub: string };
  versions: { zpub: string; zprv: string };
  addresses: Bip84Address[];
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}
const BIP39 = fixture<Bip39Fixture>('wallet-bip39.json');
const BIP32 = fixture<Bip32Fixture>('wallet-bip32.json');
const BIP84 = fixture<Bip84Fixture>('wallet-bip84.json');

test('BIP39: the fixture holds all 24 English reference vectors', () => {
  assert.equal(BIP39.english.length, 24);
});

test('BIP39: entropy -> mnemonic (createMnemonic with an injected random source) for every 256-bit vector', () => {
  const full = BIP39.english.filter((v) => v.entropy.length === 64);
  assert.ok(full.length >= 8);
  for (const v of full) {
    const m = createMnemonic((size) => {
      assert.equal(size, 32);
      return new Uint8Array(Buffer.from(v.entropy, 'hex'));
    });
    assert.equal(m, v.mnemonic);
  }
});

test('BIP39: every vector validates, gives the reference seed with passphrase TREZOR, and that seed the reference BIP32 root', () => {
  for (const v of BIP39.english) {
    assert.equal(checkMnemonic(v.mnemonic), v.mnemonic);
    const seed = mnemonicToSeed(v.mnemonic, BIP39.passphrase);
    assert.equal(Buffer.from(seed).toString('hex'), v.seed, v.mnemonic);
    assert.equal(bip32.fromSeed(seed).toBase58(), v.xprv, v.mnemonic);
  }
});

test('BIP39: a phrase typed with capitals and extra spaces is normalised to the same mnemonic', () => {
  const v = BIP39.english[12]!;
  const messy = `  ${v.mnemonic.toUpperCase().split(' ').join('   ')}\n`;
  assert.equal(checkMnemonic(messy), v.mnemonic);
});

test('BIP39: invalid phrases are refused with WALLET_BAD_MNEMONIC and the message does not echo the phrase', async () => {
  for (const c of BIP39.invalid.cases) {
    const err = await rejectsWith(() => checkMnemonic(c.mnemonic), 'WALLET_BAD_MNEMONIC');
    if (c.mnemonic !== '') assert.ok(!err.message.includes(c.mnemonic), c.why);
  }
  await rejectsWith(() => checkMnemonic(42), 'WALLET_BAD_MNEMONIC');
});

test('BIP32: test vectors 1, 2 and 3, every chain, public and private serialization', () => {
  assert.equal(BIP32.vectors.length, 3);
  for (const v of BIP32.vectors) {
    const root = bip32.fromSeed(Buffer.from(v.seed, 'hex'));
    for (const c of v.chains) {
      const node = c.path === 'm' ? root : root.derivePath(c.path);
      assert.equal(node.toBase58(), c.xprv, `${v.name} ${c.path} xprv`);
      assert.equal(node.neutered().toBase58(), c.xpub, `${v.name} ${c.path} xpub`);
      // the wallet's own public serializer, with the standard xpub version, agrees with the library
      assert.equal(serializePublic(node, 0x0488b21e), c.xpub, `${v.name} ${c.path} serializePublic`);
    }
  }
});

/** Test-only: the private BIP32 serialization with arbitrary version bytes (the wallet itself never serializes private keys). */
function serializePrivate(node: ReturnType<typeof bip32.fromSeed>, version: number): string {
  const b = Buffer.alloc(78);
  b.writeUInt32BE(version >>> 0, 0);
  b.writeUInt8(node.depth, 4);
  b.writeUInt32BE(node.parentFingerprint >>> 0, 5);
  b.writeUInt32BE(node.index >>> 0, 9);
  Buffer.from(node.chainCode).copy(b, 13);
  Buffer.from(node.privateKey!).copy(b, 46);
  return base58checkEncode(b);
}

test('BIP84: root and account keys in SLIP-132 form (zprv/zpub) match the BIP', () => {
  const seed = mnemonicToSeed(BIP84.mnemonic);
  const root = bip32.fromSeed(seed);
  const zpub = parseInt(BIP84.versions.zpub, 16);
  const zprv = parseInt(BIP84.versions.zprv, 16);
  assert.equal(serializePrivate(root, zprv), BIP84.rootpriv);
  assert.equal(serializePublic(root, zpub), BIP84.rootpub);
  const account = root.derivePath(BIP84.account.path);
  assert.equal(serializePrivate(account, zprv), BIP84.account.xpriv);
  assert.equal(new AccountKeys(seed, 'mainnet').zpub(), BIP84.account.xpub);
});

test('BIP84: the wallet\'s account path, zpub, and its xpub is the same key in standard form', () => {
  const w = Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'mainnet' });
  assert.equal(w.accountPath, BIP84.account.path);
  assert.equal(w.accountZpub(), BIP84.account.xpub);
  const x = bip32.fromBase58(w.accountXpub());
  assert.ok(w.accountXpub().startsWith('xpub'));
  assert.equal(serializePublic(x, parseInt(BIP84.versions.zpub, 16)), BIP84.account.xpub);
  assert.equal(x.depth, 3);
});

test('BIP84: every address vector: address, script, path and public key', () => {
  const w = Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'mainnet' });
  const x = bip32.fromBase58(w.accountXpub());
  assert.equal(BIP84.addresses.length, 3);
  for (const v of BIP84.addresses) {
    const d = w.deriveAddress(v.chain, v.index);
    assert.equal(d.address, v.address, v.name);
    assert.equal(d.path, v.path, v.name);
    const pub = x.derive(v.chain).derive(v.index).publicKey;
    assert.equal(Buffer.from(pub).toString('hex'), v.pubkey, v.name);
    // scriptPubKey = 0x0014 {HASH160(pubkey)} (BIP141)
    assert.match(d.scriptHex, /^0014[0-9a-f]{40}$/);
  }
});

test('BIP84: the key the wallet signs with for each vector address is the BIP\'s private key', () => {
  const w = Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'mainnet' });
  const root = bip32.fromSeed(mnemonicToSeed(BIP84.mnemonic));
  for (const v of BIP84.addresses) {
    // the BIP's WIF is the key at the BIP's path, and its public key the BIP's pubkey
    const node = root.derivePath(v.path);
    assert.equal(node.toWIF(), v.privkey, v.name);
    assert.equal(Buffer.from(node.publicKey).toString('hex'), v.pubkey, v.name);
    const d = w.deriveAddress(v.chain, v.index);
    const psbt = new Psbt();
    psbt.addInput({ hash: '11'.repeat(32), index: 0, witnessUtxo: { script: Buffer.from(d.scriptHex, 'hex'), value: 10_000n } });
    psbt.addOutput({ address: v.address, value: 9_000n });
    w.signPsbt(psbt, [{ inputIndex: 0, chain: v.chain, index: v.index }]);
    const sig = psbt.data.inputs[0]?.partialSig?.[0];
    assert.ok(sig, v.name);
    assert.equal(Buffer.from(sig.pubkey).toString('hex'), v.pubkey, v.name);
    assert.ok(psbt.validateSignaturesOfInput(0, (pk, h, s) => ecc.verify(h, node.publicKey, s) && Buffer.compare(Buffer.from(pk), Buffer.from(node.publicKey)) === 0));
  }
});

test('regtest and testnet use coin type 1, tpub/vpub and their own address prefixes', () => {
  const r = Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'regtest' });
  const t = Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'testnet' });
  assert.equal(r.accountPath, "m/84'/1'/0'");
  assert.equal(r.deriveAddress(0, 0).path, "m/84'/1'/0'/0/0");
  assert.match(r.deriveAddress(0, 0).address, /^bcrt1q/);
  assert.match(t.deriveAddress(0, 0).address, /^tb1q/);
  assert.equal(r.deriveAddress(0, 0).scriptHex, t.deriveAddress(0, 0).scriptHex, 'same key, different prefix');
  assert.notEqual(r.deriveAddress(0, 0).scriptHex, Wallet.fromMnemonic({ mnemonic: BIP84.mnemonic, network: 'mainnet' }).deriveAddress(0, 0).scriptHex);
  assert.ok(r.accountXpub().startsWith('tpub'));
  assert.ok(r.accountZpub().startsWith('vpub'));
  assert.equal(r.accountXpub(), t.accountXpub());
});
