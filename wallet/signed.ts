/**
 * Signed messages between strangers: an investor's proposal, a child's registration. The signature is ed25519
 * (tweetnacl `sign.detached`) over the UTF-8 bytes of the canonical JSON of every field but the signature
 * itself: object keys sorted by UTF-16 code unit (JavaScript's default sort, which is what the other side's
 * `Object.keys().sort()` gives), no whitespace, strings and numbers as JSON.stringify writes them.
 *
 * A proposer's key is custody like the agent's own, so it lives here: `ProposerKey` makes or reads its key file
 * (mode 0600) and signs, and the secret key never leaves the object.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import nacl from 'tweetnacl';
import { AgentError } from '../src/errors/index.ts';

/**
 * The canonical JSON of `value`.
 * @throws AgentError WALLET_BAD_ARGUMENT for what JSON cannot say exactly: undefined, a function, a bigint, a
 * number that is not finite, or an object that is not a plain object or an array.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AgentError('WALLET_BAD_ARGUMENT', 'a signed message cannot hold a number that is not finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new AgentError('WALLET_BAD_ARGUMENT', `a signed message cannot hold a ${typeof value}`);
}

const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_SIGNATURE = /^[0-9a-f]{128}$/;

/** The bytes signed for `fields`: every field but `signature`, as canonical JSON. */
function signedBytes(fields: Readonly<Record<string, unknown>>): Uint8Array {
  const { signature: _signature, ...rest } = fields;
  return new TextEncoder().encode(canonicalJson(rest));
}

/**
 * True when `fields.signature` (hex) is `publicKeyHex`'s signature over the other fields. Any malformed input is
 * false, not an error: a bad signature from a stranger is an answer.
 */
export function verifySignedFields(fields: Readonly<Record<string, unknown>>, publicKeyHex: string): boolean {
  const signature = fields.signature;
  if (typeof publicKeyHex !== 'string' || !HEX_KEY.test(publicKeyHex)) return false;
  if (typeof signature !== 'string' || !HEX_SIGNATURE.test(signature)) return false;
  let message: Uint8Array;
  try {
    message = signedBytes(fields);
  } catch {
    return false;
  }
  return nacl.sign.detached.verify(message, new Uint8Array(Buffer.from(signature, 'hex')), new Uint8Array(Buffer.from(publicKeyHex, 'hex')));
}

/** A proposer's ed25519 key, kept in a file of its own. */
export class ProposerKey {
  readonly #secretKey: Uint8Array;
  /** The public key, hex: the `proposerKey` of a proposal. */
  readonly publicKeyHex: string;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKeyHex = Buffer.from(secretKey.subarray(32)).toString('hex');
  }

  /**
   * Reads the key file at `path`, or makes one (mode 0600, its folder 0700) when there is none. The file holds the
   * 32-byte seed as hex and nothing else.
   * @throws AgentError WALLET_KEYSTORE_CORRUPT for a file that does not hold a seed, or that others may read
   */
  static loadOrCreate(path: string): { key: ProposerKey; created: boolean } {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const seed = nacl.randomBytes(32);
      writeFileSync(path, `${Buffer.from(seed).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
      return { key: new ProposerKey(nacl.sign.keyPair.fromSeed(seed).secretKey), created: true };
    }
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the key file ${path} may be read by others; make it private with chmod 600`);
    }
    const text = readFileSync(path, 'utf8').trim();
    if (!HEX_KEY.test(text)) throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the key file ${path} does not hold a 32-byte hex seed`);
    return { key: new ProposerKey(nacl.sign.keyPair.fromSeed(new Uint8Array(Buffer.from(text, 'hex'))).secretKey), created: false };
  }

  /** `fields` with `signature` set: this key's signature over the canonical JSON of the other fields. */
  sign<T extends Record<string, unknown>>(fields: T): T & { signature: string } {
    const signature = Buffer.from(nacl.sign.detached(signedBytes(fields), this.#secretKey)).toString('hex');
    return { ...fields, signature };
  }

  /** Public data only. */
  toJSON(): { publicKeyHex: string } {
    return { publicKeyHex: this.publicKeyHex };
  }
}

/** What signs a registration: the agent's own identity (a Wallet), seen only through what it publishes and signs. */
interface IdentitySigner {
  readonly nodeId: string;
  accountXpub(): string;
  signIdentity(msg: Uint8Array): Uint8Array;
}

/** A child's registration with its parent, `POST {parentUrl}/v1/family/register`. */
export interface SignedRegistration {
  ticket: string;
  nodeId: string;
  url: string;
  codeHash: string;
  accountXpub: string;
  /** Hex of the identity key's ed25519 signature over the canonical JSON of the five other fields. */
  signature: string;
}

/**
 * A child's registration, signed by its identity key (the key whose public half is its nodeId), so that
 * `verifySignedFields(body, body.nodeId)` holds on the parent's side.
 */
export function signedRegistration(wallet: IdentitySigner, fields: { ticket: string; url: string; codeHash: string }): SignedRegistration {
  const unsigned = { ticket: fields.ticket, nodeId: wallet.nodeId, url: fields.url, codeHash: fields.codeHash, accountXpub: wallet.accountXpub() };
  const signature = Buffer.from(wallet.signIdentity(signedBytes(unsigned))).toString('hex');
  return { ...unsigned, signature };
}
