// The encrypted keystore: round trip, errors, file mode, atomic write, and no key material in the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from '../../wallet/index.ts';
import { bip32 } from '../../wallet/keys.ts';
import { DEFAULT_KDF, KEYSTORE_FILE } from '../../wallet/keystore.ts';
import type { KeystoreFile } from '../../wallet/keystore.ts';
import { mnemonicToSeed } from '../../wallet/mnemonic.ts';
import { bitcoinNetwork } from '../../wallet/networks.ts';
import { CHEAP_KDF, fakeRandom, tempDir } from './helpers.ts';
import { rejectsWith } from '../helpers/errors.ts';

const PASS = 'correct horse battery staple';
const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

function keystoreText(dir: string): string {
  return readFileSync(join(dir, KEYSTORE_FILE), 'utf8');
}

function rewrite(dir: string, edit: (j: KeystoreFile) => void): void {
  const j = JSON.parse(keystoreText(dir)) as KeystoreFile;
  edit(j);
  writeFileSync(join(dir, KEYSTORE_FILE), JSON.stringify(j));
}

test('create writes a keystore that opens with the passphrase to the same keys', async (t) => {
  const dir = tempDir(t);
  const now = new Date('2024-05-01T12:00:00.000Z');
  const { wallet, mnemonic } = await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('roundtrip'), now: () => now });
  assert.equal(mnemonic.split(' ').length, 24);
  assert.ok(Wallet.exists(dir));
  const opened = await Wallet.open({ dir, passphrase: PASS });
  assert.equal(opened.nodeId, wallet.nodeId);
  assert.equal(opened.accountXpub(), wallet.accountXpub());
  assert.equal(opened.network, 'regtest');
  assert.equal(opened.createdAt.toISOString(), now.toISOString());
  assert.deepEqual(opened.deriveAddress(0, 7), wallet.deriveAddress(0, 7));
  // the mnemonic handed back really is this wallet's
  assert.equal(Wallet.fromMnemonic({ mnemonic, network: 'regtest' }).nodeId, wallet.nodeId);
});

test('create with an injected random source is deterministic, and a different source gives another wallet', async (t) => {
  const a = await Wallet.create({ dir: tempDir(t), passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('same') });
  const b = await Wallet.create({ dir: tempDir(t), passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('same') });
  const c = await Wallet.create({ dir: tempDir(t), passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('other') });
  assert.equal(a.mnemonic, b.mnemonic);
  assert.notEqual(a.mnemonic, c.mnemonic);
  assert.notEqual(a.wallet.nodeId, c.wallet.nodeId);
});

test('an imported mnemonic is restored (BIP84 vector) and survives the keystore', async (t) => {
  const dir = tempDir(t);
  const { wallet, mnemonic } = await Wallet.create({ dir, passphrase: PASS, network: 'mainnet', mnemonic: `  ${ABANDON.toUpperCase()} `, kdf: CHEAP_KDF });
  assert.equal(mnemonic, ABANDON);
  assert.equal(wallet.deriveAddress(0, 0).address, 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
  const opened = await Wallet.open({ dir, passphrase: PASS });
  assert.equal(opened.deriveAddress(1, 0).address, 'bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el');
});

test('a BIP39 passphrase is kept encrypted and changes the keys', async (t) => {
  const dir = tempDir(t);
  const { wallet } = await Wallet.create({ dir, passphrase: PASS, network: 'regtest', mnemonic: ABANDON, bip39Passphrase: 'TREZOR', kdf: CHEAP_KDF });
  const plain = Wallet.fromMnemonic({ mnemonic: ABANDON, network: 'regtest' });
  assert.notEqual(wallet.accountXpub(), plain.accountXpub());
  const opened = await Wallet.open({ dir, passphrase: PASS });
  assert.equal(opened.accountXpub(), wallet.accountXpub());
  assert.ok(!keystoreText(dir).includes('TREZOR'));
});

test('an invalid mnemonic on create is WALLET_BAD_MNEMONIC and writes nothing', async (t) => {
  const dir = tempDir(t);
  await rejectsWith(() => Wallet.create({ dir, passphrase: PASS, network: 'regtest', mnemonic: ABANDON.replace('about', 'abandon'), kdf: CHEAP_KDF }), 'WALLET_BAD_MNEMONIC');
  assert.equal(Wallet.exists(dir), false);
});

test('bad arguments: unknown network, empty passphrase, KDF out of bounds', async (t) => {
  const dir = tempDir(t);
  await rejectsWith(() => Wallet.create({ dir, passphrase: PASS, network: 'signet' as 'regtest', kdf: CHEAP_KDF }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => Wallet.create({ dir, passphrase: '', network: 'regtest', kdf: CHEAP_KDF }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: { N: 1000, r: 8, p: 1 } }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: { N: 2 ** 4, r: 8, p: 1 } }), 'WALLET_BAD_ARGUMENT');
  assert.equal(Wallet.exists(dir), false);
});

test('create over an existing wallet is WALLET_EXISTS and leaves the old keystore intact', async (t) => {
  const dir = tempDir(t);
  const { wallet } = await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('first') });
  const before = keystoreText(dir);
  await rejectsWith(() => Wallet.create({ dir, passphrase: 'other', network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('second') }), 'WALLET_EXISTS');
  assert.equal(keystoreText(dir), before);
  assert.equal((await Wallet.open({ dir, passphrase: PASS })).nodeId, wallet.nodeId);
});

test('two creates racing in one directory: exactly one wins, the other gets WALLET_EXISTS', async (t) => {
  const dir = tempDir(t);
  const results = await Promise.allSettled([
    Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('race-a') }),
    Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('race-b') }),
  ]);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(ok.length, 1);
  assert.equal(failed.length, 1);
  assert.equal(((failed[0] as PromiseRejectedResult).reason as { code?: string }).code, 'WALLET_EXISTS');
  const winner = (ok[0] as PromiseFulfilledResult<{ wallet: Wallet }>).value.wallet;
  assert.equal((await Wallet.open({ dir, passphrase: PASS })).nodeId, winner.nodeId);
});

test('the keystore file has mode 0600 and no temp file is left behind', async (t) => {
  const dir = tempDir(t);
  await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  assert.equal(statSync(join(dir, KEYSTORE_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), [KEYSTORE_FILE]);
});

test('the keystore records its KDF parameters; by default N=2^17, r=8, p=1', async (t) => {
  const dir = tempDir(t);
  await Wallet.create({ dir, passphrase: PASS, network: 'regtest', random: fakeRandom('default-kdf') });
  const j = JSON.parse(keystoreText(dir)) as { version: number; kdf: { name: string; N: number; r: number; p: number; salt: string }; cipher: { nonce: string } };
  assert.deepEqual({ N: j.kdf.N, r: j.kdf.r, p: j.kdf.p }, { ...DEFAULT_KDF });
  assert.equal(j.kdf.N, 131072);
  assert.equal(j.kdf.name, 'scrypt');
  assert.equal(j.version, 1);
  assert.match(j.kdf.salt, /^[0-9a-f]{64}$/);
  assert.match(j.cipher.nonce, /^[0-9a-f]{48}$/);
  assert.ok(await Wallet.open({ dir, passphrase: PASS }));
});

test('the keystore holds no plaintext key material', async (t) => {
  const dir = tempDir(t);
  const { wallet, mnemonic } = await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF, random: fakeRandom('secrets') });
  const text = keystoreText(dir);
  const words = mnemonic.split(' ');
  assert.ok(!text.includes(mnemonic), 'the whole mnemonic');
  for (let i = 0; i + 1 < words.length; i++) assert.ok(!text.includes(`${words[i]} ${words[i + 1]}`), `word pair ${i}`);
  assert.ok(!text.includes(PASS), 'the passphrase');
  const seed = Buffer.from(mnemonicToSeed(mnemonic));
  for (const enc of ['hex', 'base64'] as const) assert.ok(!text.includes(seed.toString(enc)), `seed as ${enc}`);
  const root = bip32.fromSeed(seed, bitcoinNetwork('regtest'));
  assert.ok(!text.includes(root.toBase58()), 'root tprv');
  const account = root.derivePath(wallet.accountPath);
  assert.ok(!text.includes(account.toBase58()), 'account tprv');
  assert.ok(!/[xtyzuv]prv/.test(text), 'no extended private key of any kind');
  for (const chain of [0, 1]) {
    for (let index = 0; index < 5; index++) {
      const node = account.derive(chain).derive(index);
      const key = Buffer.from(node.privateKey!);
      assert.ok(!text.includes(node.toWIF()), `WIF ${chain}/${index}`);
      assert.ok(!text.includes(key.toString('hex')), `hex key ${chain}/${index}`);
      assert.ok(!text.includes(key.toString('base64')), `base64 key ${chain}/${index}`);
      assert.ok(!text.includes(bip32.fromPrivateKey(key, node.chainCode, bitcoinNetwork('mainnet')).toWIF()), `mainnet WIF ${chain}/${index}`);
    }
  }
  // and the public metadata is there in clear, as intended
  assert.ok(text.includes(wallet.accountXpub()));
  assert.ok(text.includes(wallet.nodeId));
});

test('readMetadata gives network, xpub and nodeId without the passphrase', async (t) => {
  const dir = tempDir(t);
  const now = new Date('2025-01-02T03:04:05.000Z');
  const { wallet } = await Wallet.create({ dir, passphrase: PASS, network: 'testnet', kdf: CHEAP_KDF, now: () => now });
  const meta = Wallet.readMetadata(dir);
  assert.deepEqual(meta, { network: 'testnet', accountPath: "m/84'/1'/0'", xpub: wallet.accountXpub(), nodeId: wallet.nodeId, createdAt: now });
});

test('a wrong passphrase is WALLET_BAD_PASSPHRASE with a clear message', async (t) => {
  const dir = tempDir(t);
  await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  const err = await rejectsWith(() => Wallet.open({ dir, passphrase: 'Correct horse battery staple' }), 'WALLET_BAD_PASSPHRASE');
  assert.match(err.message, /wrong passphrase/);
  assert.ok(!err.message.includes('Correct horse'));
  await rejectsWith(() => Wallet.open({ dir, passphrase: '' }), 'WALLET_BAD_ARGUMENT');
});

test('the passphrase is Unicode-normalised: a composed and a decomposed accent open the same keystore', async (t) => {
  const dir = tempDir(t);
  const composed = 'caf\u00e9 au lait';
  const decomposed = 'cafe\u0301 au lait';
  assert.notEqual(composed, decomposed);
  const { wallet } = await Wallet.create({ dir, passphrase: composed, network: 'regtest', kdf: CHEAP_KDF });
  assert.equal((await Wallet.open({ dir, passphrase: decomposed })).nodeId, wallet.nodeId);
});

test('a missing keystore is WALLET_NOT_FOUND (open and readMetadata)', async (t) => {
  const dir = tempDir(t);
  assert.equal(Wallet.exists(dir), false);
  await rejectsWith(() => Wallet.open({ dir, passphrase: PASS }), 'WALLET_NOT_FOUND');
  await rejectsWith(() => Wallet.readMetadata(dir), 'WALLET_NOT_FOUND');
});

test('a tampered ciphertext is WALLET_KEYSTORE_CORRUPT (the passphrase is right, so it says the file was altered)', async (t) => {
  const dir = tempDir(t);
  await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  rewrite(dir, (j) => {
    const ct = Buffer.from(j.cipher.ciphertext, 'base64');
    ct[40] = (ct[40] ?? 0) ^ 0x01;
    j.cipher.ciphertext = ct.toString('base64');
  });
  const err = await rejectsWith(() => Wallet.open({ dir, passphrase: PASS }), 'WALLET_KEYSTORE_CORRUPT');
  assert.match(err.message, /altered or damaged/);
});

test('a tampered nonce is WALLET_KEYSTORE_CORRUPT; a tampered salt or check is WALLET_BAD_PASSPHRASE (indistinguishable from a wrong passphrase)', async (t) => {
  const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  const dirA = tempDir(t);
  await Wallet.create({ dir: dirA, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  rewrite(dirA, (j) => { j.cipher.nonce = flip(j.cipher.nonce); });
  await rejectsWith(() => Wallet.open({ dir: dirA, passphrase: PASS }), 'WALLET_KEYSTORE_CORRUPT');
  const dirB = tempDir(t);
  await Wallet.create({ dir: dirB, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  rewrite(dirB, (j) => { j.kdf.salt = flip(j.kdf.salt); });
  await rejectsWith(() => Wallet.open({ dir: dirB, passphrase: PASS }), 'WALLET_BAD_PASSPHRASE');
  const dirC = tempDir(t);
  await Wallet.create({ dir: dirC, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
  rewrite(dirC, (j) => { j.cipher.check = flip(j.cipher.check); });
  await rejectsWith(() => Wallet.open({ dir: dirC, passphrase: PASS }), 'WALLET_BAD_PASSPHRASE');
});

test('altered clear metadata (xpub, nodeId, network) is detected on open as WALLET_KEYSTORE_CORRUPT', async (t) => {
  const other = Wallet.fromMnemonic({ mnemonic: ABANDON, network: 'regtest' });
  const edits: Array<(j: KeystoreFile) => void> = [
    (j) => { j.xpub = other.accountXpub(); },
    (j) => { j.nodeId = other.nodeId; },
    (j) => { j.network = 'mainnet'; },
  ];
  for (const edit of edits) {
    const dir = tempDir(t);
    await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
    rewrite(dir, edit);
    await rejectsWith(() => Wallet.open({ dir, passphrase: PASS }), 'WALLET_KEYSTORE_CORRUPT');
  }
});

test('unparseable, foreign, truncated or future-version files are WALLET_KEYSTORE_CORRUPT', async (t) => {
  const cases: Array<[string, (dir: string) => void]> = [
    ['not JSON', (dir) => writeFileSync(join(dir, KEYSTORE_FILE), '{"format": "storj-agent-wal')],
    ['empty', (dir) => writeFileSync(join(dir, KEYSTORE_FILE), '')],
    ['foreign JSON', (dir) => writeFileSync(join(dir, KEYSTORE_FILE), '{"crypto": {}}')],
    ['future version', (dir) => rewrite(dir, (j) => { Reflect.set(j, 'version', 2); })],
    ['truncated ciphertext', (dir) => rewrite(dir, (j) => { j.cipher.ciphertext = j.cipher.ciphertext.slice(0, 40); })],
    ['absurd scrypt N', (dir) => rewrite(dir, (j) => { j.kdf.N = 2 ** 30; })],
    ['missing nonce', (dir) => rewrite(dir, (j) => { Reflect.deleteProperty(j.cipher, 'nonce'); })],
  ];
  for (const [name, damage] of cases) {
    const dir = tempDir(t);
    await Wallet.create({ dir, passphrase: PASS, network: 'regtest', kdf: CHEAP_KDF });
    damage(dir);
    const err = await rejectsWith(() => Wallet.open({ dir, passphrase: PASS }), 'WALLET_KEYSTORE_CORRUPT');
    assert.ok(err.message.length > 0, name);
    await rejectsWith(() => Wallet.readMetadata(dir), 'WALLET_KEYSTORE_CORRUPT');
  }
});
