/**
 * The encrypted keystore `<dir>/wallet.json`.
 *
 * Secret part: the mnemonic and the BIP39 passphrase, as JSON padded to a multiple of 256 bytes (so the
 * ciphertext's length does not tell 12 words from 24), sealed with tweetnacl secretbox
 * (XSalsa20-Poly1305) under a key stretched from the operator's passphrase with scrypt.
 * Clear part: what the agent needs before anyone types a passphrase (network, account xpub, nodeId,
 * created-at) and every parameter needed to decrypt (KDF N/r/p/salt, nonce, format version).
 *
 * scrypt yields 64 bytes: the first 32 are the secretbox key; a SHA-256 of the last 32 is stored as
 * `check`. With it a wrong passphrase (check differs) is told apart from a damaged or altered ciphertext
 * (check matches, authentication fails). It gives an attacker nothing the Poly1305 tag does not already
 * give (both let a guess be tested, each guess still costing one scrypt), and it reveals nothing of the
 * key because the two halves are independent PBKDF2 blocks.
 *
 * The clear metadata is not authenticated by the box; Wallet.open re-derives xpub and nodeId from the
 * decrypted mnemonic and refuses a file whose metadata disagrees (see wallet.ts).
 */
import { createHash, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { AgentError } from '../src/errors/index.ts';
import { drawRandom } from './mnemonic.ts';
import type { RandomSource } from './mnemonic.ts';
import { isWalletNetwork } from './networks.ts';
import type { WalletNetwork } from './networks.ts';

export const KEYSTORE_FILE = 'wallet.json';
const KEYSTORE_FORMAT = 'storj-agent-wallet';
const KEYSTORE_VERSION = 1;

export interface KdfParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/**
 * N=2^17, r=8, p=1: OWASP Password Storage Cheat Sheet's minimum for scrypt (128 MiB, about half a second
 * here). The keystore is opened once per start, so the cost is paid rarely by us and on every guess by a thief.
 */
export const DEFAULT_KDF: Readonly<KdfParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/**
 * Bounds accepted when creating or opening: below 2^10 the stretching is meaningless (tests use 2^10);
 * above 2^20 with r=16 (2 GiB) a tampered file could make opening exhaust memory.
 */
const KDF_LIMITS = { minN: 2 ** 10, maxN: 2 ** 20, maxR: 16, maxP: 16 };

const SALT_BYTES = 32;
const KEY_BYTES = nacl.secretbox.keyLength; // 32
const DERIVED_BYTES = KEY_BYTES + 32; // key + check material
const CHECK_DOMAIN = 'storj-agent keystore passphrase check v1';
const PLAINTEXT_BLOCK = 256;

export interface KeystoreMetadata {
  network: WalletNetwork;
  accountPath: string;
  /** Standard BIP32 serialization (xpub/tpub) of the BIP84 account. */
  xpub: string;
  nodeId: string;
  /** ISO 8601 UTC. */
  createdAt: string;
}

export interface KeystoreSecrets {
  mnemonic: string;
  bip39Passphrase: string;
}

export interface KeystoreFile extends KeystoreMetadata {
  format: typeof KEYSTORE_FORMAT;
  version: typeof KEYSTORE_VERSION;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: { name: 'xsalsa20-poly1305'; nonce: string; check: string; ciphertext: string };
}

export function keystorePath(dir: string): string {
  return join(dir, KEYSTORE_FILE);
}

/** @throws AgentError WALLET_BAD_ARGUMENT for parameters out of bounds */
function checkKdfParams(kdf: KdfParams): KdfParams {
  const { N, r, p } = kdf;
  const ok = Number.isSafeInteger(N) && N >= KDF_LIMITS.minN && N <= KDF_LIMITS.maxN && (N & (N - 1)) === 0
    && Number.isSafeInteger(r) && r >= 1 && r <= KDF_LIMITS.maxR
    && Number.isSafeInteger(p) && p >= 1 && p <= KDF_LIMITS.maxP;
  if (!ok) throw new AgentError('WALLET_BAD_ARGUMENT', `scrypt parameters must be N a power of two in 2^10..2^20, r in 1..${KDF_LIMITS.maxR}, p in 1..${KDF_LIMITS.maxP}`);
  return { N, r, p };
}

/** @throws AgentError WALLET_BAD_ARGUMENT for an empty or non-string passphrase */
function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new AgentError('WALLET_BAD_ARGUMENT', 'the keystore passphrase must be a non-empty string');
  }
  // NFKC so that the same passphrase typed on another keyboard or OS (composed vs decomposed accents) opens the file.
  return passphrase.normalize('NFKC');
}

function stretch(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Buffer> {
  const { N, r, p } = kdf;
  // Node refuses to run scrypt above `maxmem` (32 MiB by default); N=2^17,r=8 needs 128*N*r = 128 MiB.
  // Give it what these parameters need (V: 128*r*N, B: 128*r*p) plus slack, and no more.
  const maxmem = 128 * r * (N + p) + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, DERIVED_BYTES, { N, r, p, maxmem }, (err, key) => {
      if (err) reject(new AgentError('INTERNAL', `scrypt failed: ${err.message}`));
      else resolve(key);
    });
  });
}

function checkValue(material: Uint8Array): Buffer {
  return createHash('sha256').update(CHECK_DOMAIN).update(material).digest();
}

function pad(json: string): Buffer {
  const raw = Buffer.from(json, 'utf8');
  const len = Math.ceil((raw.length + 1) / PLAINTEXT_BLOCK) * PLAINTEXT_BLOCK;
  const out = Buffer.alloc(len, 0x20); // trailing spaces: JSON.parse ignores them
  raw.copy(out);
  raw.fill(0);
  return out;
}

/**
 * Encrypts the secrets and writes a new keystore atomically with mode 0600.
 * @throws AgentError WALLET_EXISTS when `<dir>/wallet.json` already exists (it is never overwritten)
 * @throws AgentError WALLET_BAD_ARGUMENT for an empty passphrase or KDF parameters out of bounds
 */
export async function writeKeystore(options: {
  dir: string;
  passphrase: string;
  metadata: KeystoreMetadata;
  secrets: KeystoreSecrets;
  kdf?: KdfParams;
  random: RandomSource;
}): Promise<void> {
  const passphrase = checkPassphrase(options.passphrase);
  const kdf = checkKdfParams(options.kdf ?? DEFAULT_KDF);
  const path = keystorePath(options.dir);
  if (existsSync(path)) throw new AgentError('WALLET_EXISTS', `a wallet already exists at ${path}`);

  const salt = drawRandom(options.random, SALT_BYTES);
  const nonce = drawRandom(options.random, nacl.secretbox.nonceLength);
  const derived = await stretch(passphrase, salt, kdf);
  const plaintext = pad(JSON.stringify({ mnemonic: options.secrets.mnemonic, bip39Passphrase: options.secrets.bip39Passphrase }));
  const ciphertext = nacl.secretbox(plaintext, nonce, derived.subarray(0, KEY_BYTES));
  const check = checkValue(derived.subarray(KEY_BYTES));
  derived.fill(0);
  plaintext.fill(0);

  const m = options.metadata;
  const file: KeystoreFile = {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    network: m.network,
    accountPath: m.accountPath,
    xpub: m.xpub,
    nodeId: m.nodeId,
    createdAt: m.createdAt,
    kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: Buffer.from(salt).toString('hex') },
    cipher: {
      name: 'xsalsa20-poly1305',
      nonce: Buffer.from(nonce).toString('hex'),
      check: check.toString('hex'),
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    },
  };
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  await writeNewFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * Publishes a new file whole or not at all: write a temp file (mode 0600), fsync it, then link(2) it
 * into place and fsync the directory. link rather than rename: rename would silently replace a wallet
 * that another process created meanwhile, while link fails with EEXIST, so "does it exist?" and
 * "publish" are one atomic step. Where the filesystem has no hard links, fall back to rename after a check.
 */
async function writeNewFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.chmod(0o600); // explicit, whatever the umask
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    try {
      await link(tmp, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new AgentError('WALLET_EXISTS', `a wallet already exists at ${path}`);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      if (existsSync(path)) throw new AgentError('WALLET_EXISTS', `a wallet already exists at ${path}`);
      await rename(tmp, path);
    }
  } finally {
    await unlink(tmp).catch(() => undefined); // after link the temp name is a second link; after rename it is gone
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync(); // make the new directory entry durable
  } finally {
    await dh.close();
  }
}

const HEX = /^[0-9a-f]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function corrupt(path: string, why: string): AgentError {
  return new AgentError('WALLET_KEYSTORE_CORRUPT', `the keystore ${path} is unreadable: ${why}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hexField(o: Record<string, unknown>, key: string, bytes: number, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v)) throw corrupt(path, `${key} is not ${bytes} bytes of hex`);
  return v;
}

function stringField(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) throw corrupt(path, `${key} is missing`);
  return v;
}

/** Parses and checks every field of a keystore's text (the file is untrusted input). @throws AgentError WALLET_KEYSTORE_CORRUPT */
function parseKeystore(text: string, path: string): KeystoreFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw corrupt(path, 'not JSON');
  }
  if (!isRecord(raw) || raw.format !== KEYSTORE_FORMAT) throw corrupt(path, 'not a storj-agent wallet file');
  if (raw.version !== KEYSTORE_VERSION) throw corrupt(path, `unsupported keystore version ${String(raw.version)} (this build reads version ${KEYSTORE_VERSION})`);
  if (!isWalletNetwork(raw.network)) throw corrupt(path, 'unknown network');
  const createdAt = stringField(raw, 'createdAt', path);
  if (Number.isNaN(Date.parse(createdAt))) throw corrupt(path, 'createdAt is not a date');
  const kdf = raw.kdf;
  const cipher = raw.cipher;
  if (!isRecord(kdf) || kdf.name !== 'scrypt') throw corrupt(path, 'unknown key derivation');
  if (!isRecord(cipher) || cipher.name !== 'xsalsa20-poly1305') throw corrupt(path, 'unknown cipher');
  let params: KdfParams;
  try {
    params = checkKdfParams({ N: kdf.N as number, r: kdf.r as number, p: kdf.p as number });
  } catch {
    throw corrupt(path, 'scrypt parameters out of bounds');
  }
  const ciphertext = cipher.ciphertext;
  if (typeof ciphertext !== 'string' || !BASE64.test(ciphertext)
    || Buffer.from(ciphertext, 'base64').length < nacl.secretbox.overheadLength + PLAINTEXT_BLOCK) {
    throw corrupt(path, 'ciphertext is missing or truncated');
  }
  return {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    network: raw.network,
    accountPath: stringField(raw, 'accountPath', path),
    xpub: stringField(raw, 'xpub', path),
    nodeId: hexField(raw, 'nodeId', 32, path),
    createdAt,
    kdf: { name: 'scrypt', ...params, salt: hexField(kdf, 'salt', SALT_BYTES, path) },
    cipher: {
      name: 'xsalsa20-poly1305',
      nonce: hexField(cipher, 'nonce', nacl.secretbox.nonceLength, path),
      check: hexField(cipher, 'check', 32, path),
      ciphertext,
    },
  };
}

function missing(path: string): AgentError {
  return new AgentError('WALLET_NOT_FOUND', `no wallet at ${path}: run \`storj init\` to create one`);
}

/** @throws AgentError WALLET_NOT_FOUND, WALLET_KEYSTORE_CORRUPT */
export async function readKeystore(dir: string): Promise<KeystoreFile> {
  const path = keystorePath(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path);
    throw corrupt(path, (e as Error).message);
  }
  return parseKeystore(text, path);
}

/** Synchronous twin of readKeystore, for reading metadata at start-up. @throws AgentError WALLET_NOT_FOUND, WALLET_KEYSTORE_CORRUPT */
export function readKeystoreSync(dir: string): KeystoreFile {
  const path = keystorePath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path);
    throw corrupt(path, (e as Error).message);
  }
  return parseKeystore(text, path);
}

/**
 * Opens the box.
 * @throws AgentError WALLET_BAD_PASSPHRASE when the passphrase is wrong
 * @throws AgentError WALLET_KEYSTORE_CORRUPT when the passphrase is right but the ciphertext fails authentication or does not parse
 */
export async function decryptKeystore(file: KeystoreFile, passphrase: string, path: string): Promise<KeystoreSecrets> {
  const pass = checkPassphrase(passphrase);
  const derived = await stretch(pass, Buffer.from(file.kdf.salt, 'hex'), file.kdf);
  try {
    const expected = Buffer.from(file.cipher.check, 'hex');
    if (!timingSafeEqual(checkValue(derived.subarray(KEY_BYTES)), expected)) {
      throw new AgentError('WALLET_BAD_PASSPHRASE', 'wrong passphrase: it does not open this wallet\'s keystore');
    }
    const plain = nacl.secretbox.open(
      new Uint8Array(Buffer.from(file.cipher.ciphertext, 'base64')),
      new Uint8Array(Buffer.from(file.cipher.nonce, 'hex')),
      derived.subarray(0, KEY_BYTES), // a view, not a copy, so the fill(0) below clears it
    );
    if (!plain) throw corrupt(path, 'the passphrase is right but the encrypted part fails authentication (the file was altered or damaged)');
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(plain).toString('utf8'));
      } catch {
        throw corrupt(path, 'the decrypted part is not JSON');
      }
      if (!isRecord(parsed) || typeof parsed.mnemonic !== 'string' || typeof parsed.bip39Passphrase !== 'string') {
        throw corrupt(path, 'the decrypted part lacks the mnemonic');
      }
      return { mnemonic: parsed.mnemonic, bip39Passphrase: parsed.bip39Passphrase };
    } finally {
      plain.fill(0);
    }
  } finally {
    derived.fill(0);
  }
}
