/** The host's random identifiers and upload tokens, and the hash a token is stored as. */
import { createHash, timingSafeEqual } from 'node:crypto';

const ID_BYTES = 16;
const TOKEN_BYTES = 32;
/** An upload or file id: 16 random bytes in base64url. Anything else is not looked up. */
export const ID_RE = /^[A-Za-z0-9_-]{22}$/;

export type Random = (bytes: number) => Buffer;

/**
 * A new id. Never one starting with '-' (1 in 64 of base64url's), which a command line would read as an option:
 * `storj status <fileId>` must take any id a customer is given. Ids from before this rule still match ID_RE.
 */
export function newId(random: Random): string {
  for (;;) {
    const id = random(ID_BYTES).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A secret upload token; only its sha256 is stored. */
export function newToken(random: Random): string {
  return random(TOKEN_BYTES).toString('base64url');
}

export function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** A token against its stored hash, in constant time; an absent or empty token never matches. */
export function tokenMatches(token: string | undefined, hash: Buffer): boolean {
  return token !== undefined && token !== '' && timingSafeEqual(sha256(token), hash);
}
