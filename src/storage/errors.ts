/** The blob store's error codes. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const STORAGE_ERRORS = {
  UPLOAD_SIZE_MISMATCH: { status: 400, description: 'The body is not exactly the declared size; nothing was kept.' },
  BLOB_ID_INVALID: { status: 400, description: 'A blob id is not a sha256 written as 64 lowercase hex digits.' },
  BLOB_NOT_FOUND: { status: 404, description: 'No stored blob has this sha256.' },
  BLOB_RANGE_INVALID: { status: 416, description: 'The byte range asked for is not within the blob.' },
  BLOB_TRUNCATED: { status: 500, description: 'A stored blob ends before its recorded size (it was damaged on disk): a download is refused, or cut off if already under way.' },
} as const;
defineErrors('storage', STORAGE_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof STORAGE_ERRORS> {}
}
