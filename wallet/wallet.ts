/**
 * The Wallet: the one object in the agent that holds the seed. Everything else gets addresses, the
 * account xpub, the nodeId, identity signatures and signed transactions from it, never a key.
 */
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import type { Psbt } from 'bitcoinjs-lib';
import nacl from 'tweetnacl';
import { AgentError, isAgentError } from '../src/errors/index.ts';
import { identityKeyPair } from './identity.ts';
import { credentialsKey, open as openSealed, seal } from './sealer.ts';
import { AccountKeys } from './keys.ts';
import type { Chain, DerivedAddress } from './keys.ts';
import {
  decryptKeystore, keystorePath, readKeystore, readKeystoreSync, writeKeystore,
} from './keystore.ts';
import type { KdfParams } from './keystore.ts';
import { checkMnemonic, createMnemonic, defaultRandom, mnemonicToSeed } from './mnemonic.ts';
import type { RandomSource } from './mnemonic.ts';
import { isWalletNetwork } from './networks.ts';
import type { WalletNetwork } from './networks.ts';
import type { SpendPolicy } from './policy.ts';
import { buildTransaction, signOwnedInputs } from './tx.ts';
import type { BuildTransactionParams, BuiltTransaction, OwnedInput, WalletUtxo } from './tx.ts';

/** What can be read from a keystore without its passphrase. Not authenticated until the wallet is opened. */
export interface WalletMetadata {
  network: WalletNetwork;
  /** m/84'/coin'/0' */
  accountPath: string;
  /** Standard BIP32 serialization of the account (xpub on mainnet, tpub on test networks). */
  xpub: string;
  nodeId: string;
  createdAt: Date;
}

export interface CreateWalletOptions {
  /** The data directory; the keystore is `<dir>/wallet.json`. */
  dir: string;
  /** Encrypts the keystore. */
  passphrase: string;
  network: WalletNetwork;
  /** Restore from this BIP39 phrase instead of making a new one. */
  mnemonic?: string;
  /** Optional BIP39 passphrase ("25th word"); stored encrypted with the mnemonic. */
  bip39Passphrase?: string;
  /** scrypt cost; defaults to DEFAULT_KDF. Cheaper parameters are for tests. */
  kdf?: KdfParams;
  /** Source of entropy for the mnemonic, salt and nonce. Defaults to node:crypto. */
  random?: RandomSource;
  /** Clock for createdAt. */
  now?: () => Date;
}

export interface SendParams {
  to: string;
  amountSat: bigint;
  feeRateSatPerKvb: bigint;
  utxos: WalletUtxo[];
  changeIndex: number;
  /** Hands the raw transaction to the network and returns its txid. Called exactly once, never retried. */
  broadcast: (hex: string) => Promise<string>;
  policy?: SpendPolicy;
}

export interface SendResult {
  txid: string;
  hex: string;
  feeSat: bigint;
  changeSat: bigint;
}

/** Guards the constructor: wallets come only from create/open/fromMnemonic, which check what they are given. */
const CONSTRUCT = Symbol('Wallet.construct');

export class Wallet {
  readonly network: WalletNetwork;
  /** Hex ed25519 public key: the agent's identity. */
  readonly nodeId: string;
  readonly createdAt: Date;
  // Secrets live only in private fields, which JSON.stringify, Object.keys, spread and util.inspect never see.
  readonly #seed: Uint8Array;
  readonly #keys: AccountKeys;
  readonly #identitySecret: Uint8Array;
  readonly #credentialsKey: Uint8Array;

  private constructor(token: symbol, seed: Uint8Array, network: WalletNetwork, createdAt: Date) {
    if (token !== CONSTRUCT) throw new AgentError('INTERNAL', 'use Wallet.create, Wallet.open or Wallet.fromMnemonic');
    this.network = network;
    this.createdAt = createdAt;
    // The BIP39 seed is kept (privately) because later keys come from it too: the box key that receives
    // provider credentials at handover will be derived like the identity key.
    this.#seed = seed;
    this.#keys = new AccountKeys(this.#seed, network);
    const id = identityKeyPair(this.#seed);
    this.#identitySecret = id.secretKey;
    this.#credentialsKey = credentialsKey(this.#seed);
    this.nodeId = Buffer.from(id.publicKey).toString('hex');
  }

  /**
   * Makes a new wallet (or restores one from `mnemonic`) and writes its encrypted keystore.
   * Returns the mnemonic so the operator can write it down; it is not kept anywhere else in clear.
   * @throws AgentError WALLET_EXISTS when `<dir>/wallet.json` exists
   * @throws AgentError WALLET_BAD_MNEMONIC when an imported phrase is not valid BIP39
   * @throws AgentError WALLET_BAD_ARGUMENT for an unknown network, an empty passphrase or KDF parameters out of bounds
   */
  static async create(options: CreateWalletOptions): Promise<{ wallet: Wallet; mnemonic: string }> {
    if (!isWalletNetwork(options.network)) throw new AgentError('WALLET_BAD_ARGUMENT', 'network must be mainnet, testnet or regtest');
    if (existsSync(keystorePath(options.dir))) throw new AgentError('WALLET_EXISTS', `a wallet already exists at ${keystorePath(options.dir)}`);
    const random = options.random ?? defaultRandom;
    const mnemonic = options.mnemonic === undefined ? createMnemonic(random) : checkMnemonic(options.mnemonic);
    const bip39Passphrase = options.bip39Passphrase ?? '';
    const createdAt = new Date((options.now ?? (() => new Date()))().getTime());
    const wallet = new Wallet(CONSTRUCT, mnemonicToSeed(mnemonic, bip39Passphrase), options.network, createdAt);
    await writeKeystore({
      dir: options.dir,
      passphrase: options.passphrase,
      metadata: wallet.#metadata(),
      secrets: { mnemonic, bip39Passphrase },
      kdf: options.kdf,
      random,
    });
    return { wallet, mnemonic };
  }

  /**
   * Decrypts `<dir>/wallet.json`, re-derives the keys and checks them against the file's clear metadata.
   * @throws AgentError WALLET_NOT_FOUND when there is no keystore
   * @throws AgentError WALLET_BAD_PASSPHRASE when the passphrase is wrong
   * @throws AgentError WALLET_KEYSTORE_CORRUPT when the file does not parse, fails authentication, or its metadata disagrees with its keys
   */
  static async open(options: { dir: string; passphrase: string }): Promise<Wallet> {
    const path = keystorePath(options.dir);
    const file = await readKeystore(options.dir);
    const secrets = await decryptKeystore(file, options.passphrase, path);
    let mnemonic: string;
    try {
      mnemonic = checkMnemonic(secrets.mnemonic);
    } catch (e) {
      if (isAgentError(e, 'WALLET_BAD_MNEMONIC')) throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the keystore ${path} holds an invalid mnemonic`);
      throw e;
    }
    const wallet = new Wallet(CONSTRUCT, mnemonicToSeed(mnemonic, secrets.bip39Passphrase), file.network, new Date(file.createdAt));
    const derived = wallet.#metadata();
    for (const key of ['accountPath', 'xpub', 'nodeId'] as const) {
      if (derived[key] !== file[key]) throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the keystore ${path} was altered: its ${key} does not match its keys`);
    }
    return wallet;
  }

  /**
   * An in-memory wallet with no keystore, for tests and tools (e.g. checking a restored phrase).
   * @throws AgentError WALLET_BAD_MNEMONIC, WALLET_BAD_ARGUMENT
   */
  static fromMnemonic(options: { mnemonic: string; network: WalletNetwork; bip39Passphrase?: string; createdAt?: Date }): Wallet {
    if (!isWalletNetwork(options.network)) throw new AgentError('WALLET_BAD_ARGUMENT', 'network must be mainnet, testnet or regtest');
    const mnemonic = checkMnemonic(options.mnemonic);
    return new Wallet(CONSTRUCT, mnemonicToSeed(mnemonic, options.bip39Passphrase ?? ''), options.network, options.createdAt ?? new Date(0));
  }

  /** True when `<dir>/wallet.json` exists (whether or not it is valid). */
  static exists(dir: string): boolean {
    return existsSync(keystorePath(dir));
  }

  /**
   * Reads the keystore's clear metadata without the passphrase (at start-up, for `storj status`).
   * It is checked against the keys only by Wallet.open.
   * @throws AgentError WALLET_NOT_FOUND, WALLET_KEYSTORE_CORRUPT
   */
  static readMetadata(dir: string): WalletMetadata {
    const f = readKeystoreSync(dir);
    return { network: f.network, accountPath: f.accountPath, xpub: f.xpub, nodeId: f.nodeId, createdAt: new Date(f.createdAt) };
  }

  /** The BIP84 account's extended public key in the standard BIP32 serialization (xpub / tpub). */
  accountXpub(): string {
    return this.#keys.xpub();
  }

  /** The same key in SLIP-132 form (zpub / vpub), as BIP84 wallets display it. */
  accountZpub(): string {
    return this.#keys.zpub();
  }

  /** m/84'/coin'/0' */
  get accountPath(): string {
    return this.#keys.path;
  }

  /**
   * The P2WPKH address at m/84'/coin'/0'/chain/index (chain 0 receive, 1 change).
   * @throws AgentError WALLET_BAD_ARGUMENT for a chain other than 0/1 or an index outside 0..2^31-1
   */
  deriveAddress(chain: Chain, index: number): DerivedAddress {
    return this.#keys.address(chain, index);
  }

  /** Detached ed25519 signature (64 bytes) of `msg` by the identity key; check it with verifyIdentity(nodeId, msg, sig). */
  signIdentity(msg: Uint8Array): Uint8Array {
    if (!(msg instanceof Uint8Array)) throw new AgentError('WALLET_BAD_ARGUMENT', 'the message to sign must be bytes');
    return nacl.sign.detached(msg, this.#identitySecret);
  }

  /**
   * Seals a secret lent to the agent (an investor's provider credentials) under a key derived from the seed
   * (wallet/sealer.ts), with a fresh nonce: what is stored is useless without this wallet.
   * @throws AgentError WALLET_BAD_ARGUMENT when `plaintext` is not a string
   */
  sealCredentials(plaintext: string): string {
    return seal(this.#credentialsKey, plaintext);
  }

  /**
   * Opens what sealCredentials made.
   * @throws AgentError WALLET_BAD_ARGUMENT when it is malformed, altered or sealed by another wallet
   */
  openCredentials(sealed: string): string {
    return openSealed(this.#credentialsKey, sealed);
  }

  /**
   * Signs the listed inputs of `psbt` (mutated and returned) after checking each spends this wallet's script
   * for the key named; all other inputs are left alone. Does not finalize.
   * @throws AgentError WALLET_SIGN_FAILED when an input is missing, not ours, or its signature does not verify
   * @throws AgentError WALLET_BAD_ARGUMENT for a chain/index out of range
   */
  signPsbt(psbt: Psbt, owned: OwnedInput[]): Psbt {
    return signOwnedInputs(this.#keys, psbt, owned);
  }

  /**
   * Chooses inputs with coinselect, then builds and signs a transaction (it is not broadcast).
   * @throws AgentError WALLET_BAD_ADDRESS, WALLET_DUST, WALLET_INSUFFICIENT_FUNDS, WALLET_BAD_ARGUMENT, WALLET_SIGN_FAILED
   */
  buildTransaction(params: BuildTransactionParams): BuiltTransaction {
    return buildTransaction(this.#keys, params);
  }

  /**
   * Pays `amountSat` to `to`: builds and signs, asks the policy (amount + fee) BEFORE broadcasting,
   * broadcasts exactly once, records the spend, and checks the txid the network returned.
   *
   * The spend is recorded whenever it may have left: after a successful broadcast, and also after a
   * broadcast that failed in an unknown way (timeout, connection lost: the node may have accepted it).
   * Only a definite rejection (CHAIN_TX_REJECTED) records nothing. Counting a spend that did not happen
   * only lowers today's allowance; missing one that did would let the caps be exceeded.
   * @throws AgentError WALLET_POLICY_REFUSED (nothing broadcast), the errors of buildTransaction, whatever `broadcast` throws,
   *   CHAIN_BAD_RESPONSE when the returned txid is not the one built
   */
  async send(params: SendParams): Promise<SendResult> {
    const built = this.buildTransaction({
      utxos: params.utxos,
      outputs: [{ address: params.to, valueSat: params.amountSat }],
      feeRateSatPerKvb: params.feeRateSatPerKvb,
      change: { index: params.changeIndex },
    });
    const total = params.amountSat + built.feeSat;
    params.policy?.check(total);
    let returned: unknown;
    try {
      returned = await params.broadcast(built.hex);
    } catch (e) {
      if (!isAgentError(e, 'CHAIN_TX_REJECTED')) params.policy?.record(built.txid, total);
      throw e;
    }
    params.policy?.record(built.txid, total);
    if (typeof returned !== 'string' || returned.toLowerCase() !== built.txid) {
      throw new AgentError('CHAIN_BAD_RESPONSE', `the broadcast returned txid ${String(returned).slice(0, 80)} but the transaction sent is ${built.txid}`, { txid: built.txid });
    }
    return { txid: built.txid, hex: built.hex, feeSat: built.feeSat, changeSat: built.changeSat };
  }

  /** Public data only. */
  toJSON(): { network: WalletNetwork; nodeId: string; accountXpub: string; createdAt: string } {
    return { network: this.network, nodeId: this.nodeId, accountXpub: this.accountXpub(), createdAt: this.createdAt.toISOString() };
  }

  [inspect.custom](): string {
    return `Wallet ${inspect(this.toJSON())}`;
  }

  toString(): string {
    return `Wallet(${this.network}, ${this.nodeId})`;
  }

  #metadata(): { network: WalletNetwork; accountPath: string; xpub: string; nodeId: string; createdAt: string } {
    return { network: this.network, accountPath: this.#keys.path, xpub: this.#keys.xpub(), nodeId: this.nodeId, createdAt: this.createdAt.toISOString() };
  }
}
