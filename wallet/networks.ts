/**
 * The three networks the agent runs on, and what each one means for keys and addresses.
 */
import { networks } from 'bitcoinjs-lib';
import type { Network } from 'bitcoinjs-lib';

export type WalletNetwork = 'mainnet' | 'testnet' | 'regtest';

const WALLET_NETWORKS: readonly WalletNetwork[] = ['mainnet', 'testnet', 'regtest'];

export function isWalletNetwork(x: unknown): x is WalletNetwork {
  return typeof x === 'string' && (WALLET_NETWORKS as readonly string[]).includes(x);
}

/**
 * bitcoinjs-lib's parameters. regtest differs from testnet only in its bech32 prefix (`bcrt`, as
 * in Bitcoin Core's chainparams); both use the testnet base58 prefixes and tpub/tprv.
 */
export function bitcoinNetwork(network: WalletNetwork): Network {
  switch (network) {
    case 'mainnet': return networks.bitcoin;
    case 'testnet': return networks.testnet;
    case 'regtest': return networks.regtest;
  }
}

/** BIP44 coin_type as registered in SLIP-44: 0 for bitcoin, 1 for every test network (testnet and regtest alike). */
export function coinType(network: WalletNetwork): 0 | 1 {
  return network === 'mainnet' ? 0 : 1;
}

/**
 * SLIP-132 version bytes for BIP84 (P2WPKH) account keys, as given in BIP84 "Extended Key Version":
 * zpub 0x04b24746 / zprv 0x04b2430c on mainnet, vpub 0x045f1cf6 / vprv 0x045f18bc on test networks.
 */
export function slip132PublicVersion(network: WalletNetwork): number {
  return network === 'mainnet' ? 0x04b24746 : 0x045f1cf6;
}
