/**
 * Receive addresses from an account's public key alone: for a party that is paid but never spends from
 * the process that watches (the devnet's local cloud). Public derivation only: no private key passes here.
 */
import { AgentError } from '../src/errors/index.ts';
import { bip32, checkChainIndex, p2wpkhScript } from './keys.ts';
import { bitcoinNetwork, isWalletNetwork, type WalletNetwork } from './networks.ts';

/**
 * The P2WPKH receive address at `<account>/0/index` of a BIP84 account's xpub (tpub on test networks),
 * the same address `Wallet.deriveAddress(0, index)` gives for the wallet that owns the account.
 * @throws AgentError WALLET_BAD_ARGUMENT for an unknown network, a key that does not parse as a public
 * extended key of that network, or an index outside 0..2^31-1
 */
export function xpubReceiveAddress(xpub: string, network: WalletNetwork, index: number): string {
  if (!isWalletNetwork(network)) throw new AgentError('WALLET_BAD_ARGUMENT', 'network must be mainnet, testnet or regtest');
  checkChainIndex(0, index);
  let account;
  try {
    account = bip32.fromBase58(xpub, bitcoinNetwork(network));
  } catch {
    throw new AgentError('WALLET_BAD_ARGUMENT', `not an extended public key of ${network}`);
  }
  if (!account.isNeutered()) throw new AgentError('WALLET_BAD_ARGUMENT', 'an extended public key is expected, not a private one');
  return p2wpkhScript(account.derive(0).derive(index).publicKey, network).address;
}
