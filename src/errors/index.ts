/**
 * The one error catalogue (after tus-node-server's ERRORS table and fastify's coded errors).
 * Every error a user can meet has a stable code here, with the HTTP status it maps to. The HTTP
 * layer turns any thrown AgentError into `{"error": {"code", "message"}}` in one place, and
 * test/errors.test.ts keeps this table and the README's "Error codes" table in sync.
 */

export const ERRORS = {
  // Requests
  BAD_REQUEST: { status: 400, description: 'The request is malformed: bad JSON, a missing or unknown field, a value of the wrong type.' },
  UNAUTHORIZED: { status: 401, description: 'A bearer token is missing or wrong.' },
  NOT_FOUND: { status: 404, description: 'No such resource.' },
  CONFLICT: { status: 409, description: 'The request conflicts with the resource\'s current state.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The declared or sent size is above the limit.' },
  INTERNAL: { status: 500, description: 'An unexpected failure inside the agent; the message says nothing secret.' },
  FORBIDDEN_ORIGIN: { status: 403, description: 'The request comes from a page of another origin; the devnet controls answer only the agent\'s own.' },
  REQUEST_TIMEOUT: { status: 408, description: 'The request\'s headers or body did not arrive in time; nothing was kept, and a paid upload can be retried.' },
  URI_TOO_LONG: { status: 414, description: 'The request line is longer than the agent accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body\'s Content-Type is not one this endpoint accepts (JSON endpoints take only application/json).' },
  RATE_LIMITED: { status: 429, description: 'Too many requests from this client; the Retry-After header says how many seconds to wait.' },
  HEADERS_TOO_LARGE: { status: 431, description: 'The request\'s headers are larger than the agent accepts.' },
  DEGRADED: { status: 503, description: 'The agent is degraded (low disk, or a database it cannot write) and takes no new quotes until it recovers by itself; GET /healthz gives the reasons.' },
  SHUTTING_DOWN: { status: 503, description: 'The agent is shutting down; try again once it is back.' },
  // Configuration
  CONFIG_INVALID: { status: 500, description: 'A configuration value is invalid; the message names the key.' },
  // Money
  AMOUNT_INVALID: { status: 400, description: 'An amount is not a valid non-negative integer of satoshis or a BTC string with at most 8 decimals.' },
  // Wallet
  WALLET_EXISTS: { status: 409, description: 'A wallet already exists in this data directory.' },
  WALLET_NOT_FOUND: { status: 404, description: 'No wallet exists in this data directory: run `storj init`.' },
  WALLET_BAD_PASSPHRASE: { status: 401, description: 'The passphrase does not open the keystore.' },
  WALLET_KEYSTORE_CORRUPT: { status: 500, description: 'The keystore file is unreadable or has been tampered with.' },
  WALLET_BAD_MNEMONIC: { status: 400, description: 'The mnemonic is not a valid BIP39 phrase.' },
  WALLET_INSUFFICIENT_FUNDS: { status: 402, description: 'The wallet cannot cover the amount plus the fee.' },
  WALLET_POLICY_REFUSED: { status: 403, description: 'The spend policy refuses this payment (per-transaction or per-day cap).' },
  WALLET_BAD_ADDRESS: { status: 400, description: 'The address is not valid for this network.' },
  WALLET_DUST: { status: 400, description: 'The amount is below the dust limit.' },
  WALLET_SIGN_FAILED: { status: 500, description: 'The wallet could not sign an input it was asked to sign.' },
  WALLET_BAD_ARGUMENT: { status: 400, description: 'A wallet call got an argument it cannot use: a derivation index or chain out of range, a fee rate out of bounds, a malformed UTXO, an empty passphrase.' },
  // Chain backend
  CHAIN_UNAVAILABLE: { status: 503, description: 'The chain backend did not answer (network error, timeout, or 5xx after retries).' },
  CHAIN_BAD_RESPONSE: { status: 502, description: 'The chain backend answered with something malformed or inconsistent.' },
  CHAIN_NOT_FOUND: { status: 404, description: 'The chain backend does not know the block or transaction asked for.' },
  CHAIN_TX_REJECTED: { status: 422, description: 'The chain backend (the node) rejected a transaction; the message gives its reason.' },
  REORG_TOO_DEEP: { status: 500, description: 'The best chain no longer contains any block the payment watcher remembers (a reorg deeper than it keeps); an operator must check the chain backend.' },
  // Storage
  UPLOAD_SIZE_MISMATCH: { status: 400, description: 'The body is not exactly the declared size; nothing was kept.' },
  BLOB_ID_INVALID: { status: 400, description: 'A blob id is not a sha256 written as 64 lowercase hex digits.' },
  BLOB_NOT_FOUND: { status: 404, description: 'No stored blob has this sha256.' },
  BLOB_RANGE_INVALID: { status: 416, description: 'The byte range asked for is not within the blob.' },
  BLOB_TRUNCATED: { status: 500, description: 'A stored blob ends before its recorded size (it was damaged on disk): a download is refused, or cut off if already under way.' },
  STORAGE_FULL: { status: 507, description: 'The disk is full; nothing was kept.' },
  INSUFFICIENT_STORAGE: { status: 507, description: 'The agent has no room for this many bytes now (free space, less uploads in flight and a reserve for its database); nothing was kept, and a paid quote stays usable.' },
  // Scheduler
  JOB_NOT_FOUND: { status: 404, description: 'No scheduled job has this name.' },
  JOB_INVALID: { status: 500, description: 'A job definition is invalid (its name, cron expression or period, or a name already taken); a programming error.' },
  SCHEDULER_STOPPED: { status: 503, description: 'The scheduler has stopped (the agent is shutting down); no new job run starts.' },
  // Hosting
  PAYMENT_REQUIRED: { status: 402, description: 'The upload\'s payment has not arrived in full at the required confirmations; the body carries address, amountSat and receivedSat.' },
  UPLOAD_COMPLETE: { status: 409, description: 'This upload already has its file.' },
  UPLOAD_IN_PROGRESS: { status: 409, description: 'Another upload of this file is in progress.' },
  FILE_FROZEN: { status: 402, description: 'The file\'s balance is negative, so downloads are refused until it is topped up; the body carries address, bip21 and amountSat.' },
  INSUFFICIENT_BALANCE: { status: 402, description: 'The file\'s balance cannot cover the bytes asked for; the body carries address, bip21 and amountSat, the top-up that would allow this download.' },
  FILE_DELETED: { status: 410, description: 'The file stayed unpaid past the grace period and was deleted.' },
  RANGE_NOT_SATISFIABLE: { status: 416, description: 'The Range header asks for bytes outside the file.' },
  // Devnet
  DEVNET_ONLY: { status: 404, description: 'This endpoint exists only on the embedded regtest devnet.' },
  DEVNET_FAUCET_EMPTY: { status: 409, description: 'The devnet faucet cannot cover this payment and its fee; mine more blocks.' },
  DEVNET_START_FAILED: { status: 500, description: 'The devnet process did not start or did not answer in time; its log is in the devnet folder.' },
  // The customer CLI (src/cli): failures on the client's side of the API, where the agent is the untrusted party
  AGENT_UNREACHABLE: { status: 503, description: 'The agent did not answer (connection refused, timeout, or a transfer that stalled).' },
  AGENT_BAD_RESPONSE: { status: 502, description: 'The agent answered with something malformed or inconsistent (a missing field, a body of the wrong length, no sha256 ETag).' },
  HASH_MISMATCH: { status: 502, description: 'The bytes do not hash to the sha256 the agent gave (a download\'s ETag, an upload\'s receipt); a download is deleted, nothing is kept.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code from the catalogue. `details` are extra, non-secret fields for the response body. */
export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

/** True when `e` is an AgentError, optionally with the given code. */
export function isAgentError(e: unknown, code?: ErrorCode): e is AgentError {
  return e instanceof AgentError && (code === undefined || e.code === code);
}

/**
 * A full disk, wherever it surfaces, as a catalogued error: ENOSPC/EDQUOT from the filesystem is STORAGE_FULL
 * (507); SQLite's "database or disk is full" (SQLITE_FULL), or its failure to grow the WAL index (a disk I/O
 * error, SQLITE_IOERR_SHMSIZE), is DEGRADED (503), since the agent answers again by itself once space is
 * back. Anything else: undefined.
 */
export function diskFullError(e: unknown): AgentError | undefined {
  if (e instanceof AgentError) return undefined;
  const code = typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new AgentError('STORAGE_FULL', 'the disk is full; nothing was kept', undefined, { cause: e });
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE') {
    return new AgentError('DEGRADED', 'the agent cannot write its database (the disk is full); try again later: GET /healthz says when it is back', undefined, { cause: e });
  }
  return undefined;
}
