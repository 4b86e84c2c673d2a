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
import { AgentError } from '../src/errors/index.ts';

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

/**
 * What an agent signs to prove it holds its identity key (POST /v1/identity): the nonce its asker chose, after a
 * domain string of its own, so that the signature cannot pass for any other signed message (a proposal, a
 * registration: those sign canonical JSON, which starts with `{`).
 */
const IDENTITY_NONCE_DOMAIN = 'storj-agent/identity-nonce/v1:';
const NONCE = /^[0-9a-f]{64}$/;

/**
 * The bytes an identity proof signs for `nonceHex` (32 bytes as 64 lowercase hex characters): the UTF-8 of
 * `storj-agent/identity-nonce/v1:` followed by the nonce. Sign them with `Wallet.signIdentity`, check the answer
 * with `verifyIdentity(nodeId, identityMessage(nonceHex), signature)`.
 * @throws AgentError WALLET_BAD_ARGUMENT for a nonce that is not 64 lowercase hex characters
 */
export function identityMessage(nonceHex: string): Uint8Array {
  if (typeof nonceHex !== 'string' || !NONCE.test(nonceHex)) throw new AgentError('WALLET_BAD_ARGUMENT', 'an identity nonce is 32 bytes as 64 lowercase hex characters');
  return new TextEncoder().encode(IDENTITY_NONCE_DOMAIN + nonceHex);
}
