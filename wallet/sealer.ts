/**
 * Sealing secrets that strangers lend the agent (an investor's provider credentials), so that what is at rest in
 * the database is useless without the wallet's seed.
 *
 * Derivation, like the identity key's (./identity.ts):
 *   key    = HMAC-SHA256(key = "storj-agent/credentials/v1", message = BIP39 seed)
 *   sealed = "v1." + base64(nonce (24 random bytes) || nacl.secretbox(plaintext, nonce, key))
 * The HMAC key is a domain separator, so this key is unrelated to the identity key and to every BIP32 key.
 * secretbox (XSalsa20-Poly1305) authenticates: a sealed value altered at rest does not open.
 */
import { createHmac, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { AgentError } from '../src/errors/index.ts';

const CREDENTIALS_DOMAIN = 'storj-agent/credentials/v1';
const PREFIX = 'v1.';

export function credentialsKey(seed: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', CREDENTIALS_DOMAIN).update(seed).digest());
}

/** Seals `plaintext` (UTF-8) under `key` with a fresh random nonce. */
export function seal(key: Uint8Array, plaintext: string, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): string {
  if (typeof plaintext !== 'string') throw new AgentError('WALLET_BAD_ARGUMENT', 'only text can be sealed');
  const nonce = random(nacl.secretbox.nonceLength);
  const box = nacl.secretbox(new TextEncoder().encode(plaintext), nonce, key);
  return PREFIX + Buffer.concat([nonce, box]).toString('base64');
}

/**
 * Opens what `seal` made with the same key.
 * @throws AgentError WALLET_BAD_ARGUMENT when it is malformed, altered, or sealed under another key (the message
 * says which without quoting the value)
 */
export function open(key: Uint8Array, sealed: string): string {
  if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) throw new AgentError('WALLET_BAD_ARGUMENT', 'not a sealed value');
  const bytes = new Uint8Array(Buffer.from(sealed.slice(PREFIX.length), 'base64'));
  if (bytes.length < nacl.secretbox.nonceLength + nacl.secretbox.overheadLength) throw new AgentError('WALLET_BAD_ARGUMENT', 'a sealed value too short to open');
  const plain = nacl.secretbox.open(bytes.subarray(nacl.secretbox.nonceLength), bytes.subarray(0, nacl.secretbox.nonceLength), key);
  if (!plain) throw new AgentError('WALLET_BAD_ARGUMENT', 'the sealed value does not open with this wallet\'s key (altered, or sealed by another wallet)');
  return new TextDecoder().decode(plain);
}
