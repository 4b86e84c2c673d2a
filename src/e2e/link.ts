/**
 * The file key and the share link. The key travels only in the link's #fragment, which browsers and HTTP clients
 * never send to the server: `https://AGENT/s/FILE_ID#KEY` (the file's page; /f/FILE_ID holds its bytes), KEY the
 * 32-byte file key in base64url without padding (RFC 4648 section 5), 43 characters.
 */
import { randomBytes } from 'node:crypto';
import { AgentError } from '../errors/index.ts';
import { KEY_BYTES } from './format.ts';

const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

/** A new file key: 32 random bytes, one per file. */
export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** The key as it is written in a link. */
export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url');
}

/**
 * The key a link's fragment holds; only the one spelling `encodeKey` gives is accepted.
 * @throws AgentError E2E_BAD_KEY
 */
export function decodeKey(text: string): Buffer {
  const key = KEY_TEXT.test(text) ? Buffer.from(text, 'base64url') : undefined;
  // The 43rd character carries 2 unused bits: a key spelt with them set is refused rather than read two ways.
  if (key?.length !== KEY_BYTES || key.toString('base64url') !== text) {
    throw new AgentError('E2E_BAD_KEY', `the link's #fragment is not a file key (${KEY_BYTES} bytes as 43 base64url characters)`);
  }
  return key;
}

/**
 * The link to share: the file's page (`/s/FILE_ID`, where a browser decrypts and saves it) for the file's link
 * (`/f/FILE_ID`, its raw bytes), with the key after `#`. `storj download` takes either.
 */
export function shareLink(url: string, key: Uint8Array): string {
  const base = url.split('#')[0] ?? url;
  return `${base.replace(/\/f\/([^/?]+)$/, '/s/$1')}#${encodeKey(key)}`;
}

/**
 * A link split at its `#`: what may be sent to the agent, and the key, when the fragment holds one (an empty
 * fragment holds none).
 * @throws AgentError E2E_BAD_KEY when the fragment is not a key
 */
export function splitLink(link: string): { url: string; key: Buffer | undefined } {
  const at = link.indexOf('#');
  if (at < 0) return { url: link, key: undefined };
  const fragment = link.slice(at + 1);
  return { url: link.slice(0, at), key: fragment === '' ? undefined : decodeKey(fragment) };
}
