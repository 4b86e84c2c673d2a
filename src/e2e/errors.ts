/** The end-to-end encryption's error codes (docs/encryption.md). Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const E2E_ERRORS = {
  E2E_BAD_KEY: { status: 400, description: "The key in a link's #fragment is not a key: not 43 base64url characters (32 bytes)." },
  E2E_WRONG_KEY: { status: 400, description: 'The key does not open this file: a wrong key (or a link to another file), or a header altered on the way.' },
  E2E_BAD_HEADER: { status: 422, description: 'The bytes are not an encrypted file of a format version this client reads, or its sealed metadata is malformed.' },
  E2E_TRUNCATED: { status: 422, description: 'The encrypted file ends before its final record; nothing was kept.' },
  E2E_TAMPERED: { status: 422, description: 'A record of the encrypted file fails authentication: bytes altered, records reordered or removed, or bytes after the final record; nothing was kept.' },
  E2E_SIZE_MISMATCH: { status: 409, description: 'The file being encrypted is not the size it had when the upload was quoted (it changed while it was read).' },
  E2E_SAVE_UNAVAILABLE: { status: 413, description: 'The browser cannot stream a decrypted download to disk here (no service worker: it needs https), and the file is too large to hold in memory.' },
} as const;
defineErrors('e2e', E2E_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof E2E_ERRORS> {}
}
