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

/**
 * Ids that sort by when they were made: the time (ms, 9 base-36 digits), a sequence within this process (5 base-36
 * digits, so about 60 million ids before it wraps) and this process's own 8 random bytes (hex), which keep two
 * processes' ids apart. For references written at a high rate (a download's row and its ledger entry): each lands
 * at the right edge of its table's index, where the last one did, instead of at a random leaf of an index that
 * outgrows the page cache. Not for a secret or a capability: they tell when they were made, and by which process.
 */
export function sortableIds(random: Random, now: () => number = Date.now): () => string {
  const processTag = random(8).toString('hex');
  let seq = 0;
  return () => {
    seq = (seq + 1) % SEQ_WRAP;
    return `${Math.max(0, now()).toString(36).padStart(9, '0')}${seq.toString(36).padStart(5, '0')}${processTag}`;
  };
}

const SEQ_WRAP = 36 ** 5;

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
