/**
 * BIP39 mnemonics: creating one from an injected random source, and checking one a person typed.
 */
import { randomBytes } from 'node:crypto';
import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
// Only the English wordlist is loaded: the package keeps each language in a module of its own.
import { wordlist as english } from '@scure/bip39/wordlists/english';
import { AgentError } from '../src/errors/index.ts';

/** Returns `size` random bytes. Injected so tests are deterministic; defaults to node:crypto's CSPRNG. */
export type RandomSource = (size: number) => Uint8Array;

export const defaultRandom: RandomSource = (size) => randomBytes(size);

/** BIP39: 256 bits of entropy + an 8-bit checksum = 264 bits = 24 words of 11 bits. */
const MNEMONIC_ENTROPY_BYTES = 32;

/** Draws `size` bytes from `random` and checks it kept its promise (a short buffer would silently weaken the key). */
export function drawRandom(random: RandomSource, size: number): Uint8Array {
  const out = random(size);
  if (!(out instanceof Uint8Array) || out.length !== size) {
    throw new AgentError('INTERNAL', `the random source returned ${out instanceof Uint8Array ? out.length : 'no'} bytes instead of ${size}`);
  }
  return out;
}

/**
 * Makes a new 24-word English BIP39 mnemonic.
 * @throws AgentError INTERNAL when the random source returns the wrong number of bytes
 */
export function createMnemonic(random: RandomSource = defaultRandom): string {
  return entropyToMnemonic(drawRandom(random, MNEMONIC_ENTROPY_BYTES), english);
}

/**
 * Canonical form of a typed phrase: BIP39 says the mnemonic is NFKD-normalised; we also lower-case it
 * and collapse whitespace, so a phrase pasted with stray spaces or capitals still opens the same wallet.
 */
function normalizeMnemonic(phrase: string): string {
  return phrase.normalize('NFKD').trim().toLowerCase().split(/\s+/u).join(' ');
}

/**
 * Checks an imported phrase (English wordlist, 12 to 24 words, valid checksum) and returns its canonical form.
 * The message never repeats the phrase.
 * @throws AgentError WALLET_BAD_MNEMONIC
 */
export function checkMnemonic(phrase: unknown): string {
  if (typeof phrase !== 'string') throw new AgentError('WALLET_BAD_MNEMONIC', 'the mnemonic must be a string of BIP39 words');
  const m = normalizeMnemonic(phrase);
  const words = m === '' ? 0 : m.split(' ').length;
  if (![12, 15, 18, 21, 24].includes(words)) {
    throw new AgentError('WALLET_BAD_MNEMONIC', `a BIP39 mnemonic has 12, 15, 18, 21 or 24 words, not ${words}`);
  }
  const unknown = m.split(' ').findIndex((w) => !english.includes(w));
  if (unknown >= 0) throw new AgentError('WALLET_BAD_MNEMONIC', `word ${unknown + 1} of the mnemonic is not in the BIP39 English wordlist`);
  if (!validateMnemonic(m, english)) throw new AgentError('WALLET_BAD_MNEMONIC', 'the mnemonic\'s checksum does not match (a word is wrong or out of order)');
  return m;
}

/** BIP39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048), 64 bytes. */
export function mnemonicToSeed(mnemonic: string, bip39Passphrase = ''): Uint8Array {
  return mnemonicToSeedSync(mnemonic, bip39Passphrase);
}
