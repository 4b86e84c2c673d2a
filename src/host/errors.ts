/** The customers' error codes: quotes, uploads, balances and downloads. Registered in the one catalogue when this module loads (src/errors/index.ts). */
import { defineErrors, type CodesOf } from '../errors/index.ts';

const HOST_ERRORS = {
  PAYMENT_REQUIRED: { status: 402, description: 'The upload\'s payment has not arrived in full at the required confirmations; the body carries address, amountSat and receivedSat.' },
  UPLOAD_COMPLETE: { status: 409, description: 'This upload already has its file.' },
  UPLOAD_IN_PROGRESS: { status: 409, description: 'Another upload of this file is in progress.' },
  UPLOAD_OFFSET_MISMATCH: { status: 409, description: 'A resumable upload\'s PATCH starts elsewhere than the bytes the agent holds; the body carries the offset to resume from.' },
  TUS_VERSION_UNSUPPORTED: { status: 412, description: 'The request\'s Tus-Resumable header names a tus version other than 1.0.0.' },
  FILE_FROZEN: { status: 402, description: 'The file\'s balance is negative, so downloads are refused until it is topped up; the body carries address, bip21 and amountSat.' },
  INSUFFICIENT_BALANCE: { status: 402, description: 'The file\'s balance cannot cover the bytes asked for; the body carries address, bip21 and amountSat, the top-up that would allow this download.' },
  FILE_DELETED: { status: 410, description: 'The file stayed unpaid past the grace period and was deleted.' },
  RANGE_NOT_SATISFIABLE: { status: 416, description: 'The Range header asks for bytes outside the file.' },
  TOO_MANY_QUOTES: { status: 429, description: 'This client holds as many open quotes as the agent allows (quotesPerClientMax); the Retry-After header says how many seconds until the first of them expires. A quote paid and uploaded frees its place too.' },
  INSUFFICIENT_STORAGE: { status: 507, description: 'The agent has no room for this many bytes now (free space, less uploads in flight and a reserve for its database); nothing was kept, and a paid quote stays usable.' },
} as const;
defineErrors('host', HOST_ERRORS);

declare module '../errors/index.ts' {
  interface ErrorCatalogue extends CodesOf<typeof HOST_ERRORS> {}
}
