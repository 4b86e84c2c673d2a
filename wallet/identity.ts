/**
 * The agent's identity: an ed25519 key whose hex public key is its `nodeId`. Children sign a nonce with
 * it for the parent's test battery, and proposals/handover messages are signed with tweetnacl the same way.
 *
 * Derivation (deterministic, so a restored mnemonic restores the nodeId):
 *   ed25519 seed = HMAC-SHA256(key = "storj-agent/identity/ed25519/v1", message = BIP39 seed (64 bytes))
 *   key pair     = nacl.sign.keyPair.fromSeed(ed25519 seed)          (RFC 8032 key generation)
 * The HMAC key is a domain separator: the result is unrelated to every BIP32 key (those start from
 * HMAC-SHA512 keyed "Bitcoin seed"), so publishing the identity key reveals nothing about the coins,
 * and the version suffix leaves room for a different derivation later without colliding.
 */
import { createHmac } from 'node:crypto';
import nacl from 'tweetnacl';

export const IDENTITY_DOMAIN = 'storj-agent/identity/ed25519/v1';

export function identityKeyPair(seed: Uint8Array): nacl.SignKeyPair {
  const edSeed = createHmac('sha256', IDENTITY_DOMAIN).update(seed).digest();
  const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(edSeed));
  edSeed.fill(0);
  return pair;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * Checks an ed25519 signature by the agent (or another agent) whose nodeId is `nodeIdHex`.
 * Returns false for any malformed input rather than throwing: a bad signature from a stranger is an answer, not an error.
 */
export function verifyIdentity(nodeIdHex: string, msg: Uint8Array, sig: Uint8Array): boolean {
  if (typeof nodeIdHex !== 'string' || !HEX_KEY.test(nodeIdHex)) return false;
  if (!(msg instanceof Uint8Array) || !(sig instanceof Uint8Array) || sig.length !== nacl.sign.signatureLength) return false;
  return nacl.sign.detached.verify(msg, sig, new Uint8Array(Buffer.from(nodeIdHex, 'hex')));
}
