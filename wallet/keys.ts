/**
 * BIP32/BIP84 key tree of one account, with the nodes the agent uses all the time cached.
 *
 * Path: m / 84' / coin' / 0' / chain / index (BIP84, which reuses BIP44's levels), coin from SLIP-44.
 * chain 0 = receive (one address per upload), chain 1 = change (BIP44 "internal chain").
 */
import { createHash } from 'node:crypto';
import { BIP32Factory } from 'bip32';
import type { BIP32Interface } from 'bip32';
import { payments } from 'bitcoinjs-lib';
import * as ecc from 'tiny-secp256k1';
import { AgentError } from '../src/errors/index.ts';
import { bitcoinNetwork, coinType, slip132PublicVersion } from './networks.ts';
import type { WalletNetwork } from './networks.ts';

export const bip32 = BIP32Factory(ecc);

/** BIP84's purpose level. */
const BIP84_PURPOSE = 84;
/** BIP32: indices at or above 2^31 are hardened; chain and address indices must be below it. */
const HARDENED_OFFSET = 0x80000000;

export type Chain = 0 | 1;

export interface DerivedAddress {
  address: string;
  /** The output script (scriptPubKey), hex: `0014{20-byte key hash}` (BIP141 P2WPKH). */
  scriptHex: string;
  /** Full derivation path, e.g. m/84'/1'/0'/0/7. */
  path: string;
}

function accountPath(network: WalletNetwork): string {
  return `m/${BIP84_PURPOSE}'/${coinType(network)}'/0'`;
}

/** @throws AgentError WALLET_BAD_ARGUMENT unless chain is 0 or 1 and index is an integer in 0..2^31-1 */
export function checkChainIndex(chain: unknown, index: unknown): asserts chain is Chain {
  if (chain !== 0 && chain !== 1) throw new AgentError('WALLET_BAD_ARGUMENT', 'chain must be 0 (receive) or 1 (change)');
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= HARDENED_OFFSET) {
    throw new AgentError('WALLET_BAD_ARGUMENT', 'address index must be an integer from 0 to 2^31-1');
  }
}

/** Base58Check (Bitcoin's: payload + first 4 bytes of double SHA-256). Written here rather than importing a transitive dependency for ten lines. */
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
export function base58checkEncode(payload: Uint8Array): string {
  const check = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest().subarray(0, 4);
  const bytes = Buffer.concat([payload, check]);
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`; // each leading zero byte is a leading '1'
  }
  return out;
}

/**
 * BIP32 serialization of a public node with other version bytes (SLIP-132):
 * version(4) depth(1) parent fingerprint(4) child index(4) chain code(32) public key(33).
 */
export function serializePublic(node: BIP32Interface, version: number): string {
  const b = Buffer.alloc(78);
  b.writeUInt32BE(version >>> 0, 0);
  b.writeUInt8(node.depth, 4);
  b.writeUInt32BE(node.parentFingerprint >>> 0, 5);
  b.writeUInt32BE(node.index >>> 0, 9);
  Buffer.from(node.chainCode).copy(b, 13);
  Buffer.from(node.publicKey).copy(b, 45);
  return base58checkEncode(b);
}

/** The P2WPKH output script of a compressed public key. */
export function p2wpkhScript(publicKey: Uint8Array, network: WalletNetwork): { address: string; script: Uint8Array } {
  const p = payments.p2wpkh({ pubkey: publicKey, network: bitcoinNetwork(network) });
  if (!p.address || !p.output) throw new AgentError('INTERNAL', 'could not build a P2WPKH output');
  return { address: p.address, script: p.output };
}

/**
 * One BIP84 account. Holds the account node and its two chain nodes (private, for signing) plus their
 * neutered twins (for addresses), so deriving address n is one non-hardened step, not five.
 * Nothing here is exported beyond wallet/: the private nodes never leave this folder.
 */
export class AccountKeys {
  readonly network: WalletNetwork;
  readonly path: string;
  readonly #account: BIP32Interface;
  readonly #chains: readonly [BIP32Interface, BIP32Interface];
  readonly #publicChains: readonly [BIP32Interface, BIP32Interface];

  constructor(seed: Uint8Array, network: WalletNetwork) {
    this.network = network;
    this.path = accountPath(network);
    const root = bip32.fromSeed(seed, bitcoinNetwork(network));
    this.#account = root.derivePath(this.path);
    this.#chains = [this.#account.derive(0), this.#account.derive(1)];
    this.#publicChains = [this.#chains[0].neutered(), this.#chains[1].neutered()];
  }

  /** Standard BIP32 serialization of the account's public node: xpub on mainnet, tpub on test networks. */
  xpub(): string {
    return this.#account.neutered().toBase58();
  }

  /** SLIP-132 serialization of the same node: zpub on mainnet, vpub on test networks (as BIP84 wallets show it). */
  zpub(): string {
    return serializePublic(this.#account, slip132PublicVersion(this.network));
  }

  /** @throws AgentError WALLET_BAD_ARGUMENT for a chain other than 0/1 or an index out of range */
  address(chain: Chain, index: number): DerivedAddress {
    checkChainIndex(chain, index);
    const node = this.#publicChains[chain].derive(index);
    const { address, script } = p2wpkhScript(node.publicKey, this.network);
    return { address, scriptHex: Buffer.from(script).toString('hex'), path: `${this.path}/${chain}/${index}` };
  }

  /** The private node of one address, for signing inside wallet/ only. */
  signer(chain: Chain, index: number): BIP32Interface {
    checkChainIndex(chain, index);
    return this.#chains[chain].derive(index);
  }
}
