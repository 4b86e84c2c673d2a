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
 * Ids that sort by when they were made: the time (ms, 9 base-36 digits), a sequence within this process (4 base-36
 * digits) and 8 random bytes (hex) that keep them apart across processes and a clock set back. For references
 * written at a high rate (a download's row and its ledger entry): each lands at the right edge of its table's
 * index, where the last one did, instead of at a random leaf of an index that outgrows the page cache. The
 * random bytes are drawn 4 KiB at a time. Not for a secret or a capability: they tell when they were made.
 */
export function sortableIds(random: Random, now: () => number = Date.now): () => string {
  let pool: Buffer = Buffer.alloc(0);
  let at = 0;
  let seq = 0;
  return () => {
    if (at + SORTABLE_RANDOM_BYTES > pool.length) {
      pool = random(4096);
      at = 0;
    }
    const tail = pool.toString('hex', at, at + SORTABLE_RANDOM_BYTES);
    at += SORTABLE_RANDOM_BYTES;
    seq = (seq + 1) % 36 ** 4;
    return `${Math.max(0, now()).toString(36).padStart(9, '0')}${seq.toString(36).padStart(4, '0')}${tail}`;
  };
}

const SORTABLE_RANDOM_BYTES = 8;

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
