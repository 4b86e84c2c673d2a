// Receive addresses from the account xpub alone are the wallet's own receive addresses, and nothing private is taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIP32Factory } from 'bip32';
import * as ecc from 'tiny-secp256k1';
import { Wallet, xpubReceiveAddress } from '../../wallet/index.ts';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

test('xpubReceiveAddress derives the same receive addresses as the wallet that owns the account', () => {
  for (const network of ['regtest', 'testnet', 'mainnet'] as const) {
    const wallet = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network });
    for (const index of [0, 1, 7, 2 ** 31 - 1]) {
      assert.equal(xpubReceiveAddress(wallet.accountXpub(), network, index), wallet.deriveAddress(0, index).address, `${network} ${index}`);
    }
  }
  // BIP84's test vector: the first receive address of this phrase's mainnet account.
  assert.equal(xpubReceiveAddress(Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'mainnet' }).accountXpub(), 'mainnet', 0), 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
});

test('a key of another network, a private key, garbage or an index out of range is refused', () => {
  const xpub = Wallet.fromMnemonic({ mnemonic: MNEMONIC, network: 'mainnet' }).accountXpub();
  assert.throws(() => xpubReceiveAddress(xpub, 'regtest', 0), { code: 'WALLET_BAD_ARGUMENT' });
  const xprv = BIP32Factory(ecc).fromSeed(new Uint8Array(32).fill(7)).toBase58();
  assert.match(xprv, /^xprv/);
  assert.throws(() => xpubReceiveAddress(xprv, 'mainnet', 0), { code: 'WALLET_BAD_ARGUMENT', message: /not a private one/ });
  assert.throws(() => xpubReceiveAddress('not a key', 'mainnet', 0), { code: 'WALLET_BAD_ARGUMENT' });
  assert.throws(() => xpubReceiveAddress(xpub, 'mainnet', 2 ** 31), { code: 'WALLET_BAD_ARGUMENT' });
  assert.throws(() => xpubReceiveAddress(xpub, 'mainnet', -1), { code: 'WALLET_BAD_ARGUMENT' });
});
