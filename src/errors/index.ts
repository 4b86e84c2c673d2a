/**
 * The one error catalogue (after tus-node-server's ERRORS table and fastify's coded errors), assembled from
 * the modules. Every error a user can meet has a stable code with the HTTP status it maps to. The codes several
 * modules raise are here; each module declares its own in its `errors.ts` with `defineErrors`, which adds
 * them to the catalogue when the module loads and to `ErrorCode` by extending `ErrorCatalogue`. The HTTP layer
 * turns any thrown AgentError into `{"error": {"code", "message"}}` in one place, and test/errors.test.ts
 * keeps the catalogue and the README's "Error codes" table in sync.
 */

export interface ErrorDefinition {
  readonly status: number;
  readonly description: string;
}

/** The shape a module's table gives `ErrorCatalogue`: one member per code. */
export type CodesOf<T> = { readonly [K in keyof T]: ErrorDefinition };

const CATALOGUE = new Map<string, ErrorDefinition & { readonly module: string }>();

/**
 * Adds a module's codes to the catalogue and returns its table, typed as written. A code is declared once,
 * by one module: a second declaration is a programming error, caught when the second module loads.
 */
export function defineErrors<const T extends Readonly<Record<string, ErrorDefinition>>>(module: string, table: T): T {
  for (const [code, def] of Object.entries(table)) {
    const owner = CATALOGUE.get(code);
    if (owner) throw new Error(`error code ${code} of ${module} is already declared by ${owner.module}`);
    CATALOGUE.set(code, { ...def, module });
  }
  return table;
}

/** Every code declared by the modules loaded so far, with the module that declares it. */
export function errorCatalogue(): ReadonlyMap<string, ErrorDefinition & { readonly module: string }> {
  return CATALOGUE;
}

/** A code's definition; undefined for a code no loaded module declares. */
export function errorDefinition(code: string): ErrorDefinition | undefined {
  return CATALOGUE.get(code);
}

/**
 * The codes several modules raise: those of requests themselves, whichever module serves them; a full disk,
 * wherever it surfaces; a configuration value that cannot be used; and the chain backend's, which the Esplora
 * client, the devnet (a chain backend of its own) and the wallet's broadcast all raise.
 */
const SHARED_ERRORS = {
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
  STORAGE_FULL: { status: 507, description: 'The disk is full; nothing was kept.' },
  // Configuration
  CONFIG_INVALID: { status: 500, description: 'A configuration value is invalid; the message names the key.' },
  // The chain backend
  CHAIN_UNAVAILABLE: { status: 503, description: 'The chain backend did not answer (network error, timeout, or 5xx after retries).' },
  CHAIN_BAD_RESPONSE: { status: 502, description: 'The chain backend answered with something malformed or inconsistent.' },
  CHAIN_NOT_FOUND: { status: 404, description: 'The chain backend does not know the block or transaction asked for.' },
  CHAIN_TX_REJECTED: { status: 422, description: 'The chain backend (the node) rejected a transaction; the message gives its reason.' },
  DEVNET_ONLY: { status: 404, description: 'This endpoint exists only on the embedded regtest devnet.' },
} as const;
defineErrors('shared', SHARED_ERRORS);

/**
 * Every code: the shared ones, and each module's (its `errors.ts` extends this interface).
 * @public (extended by the modules' declarations, which knip does not count as uses)
 */
export interface ErrorCatalogue extends CodesOf<typeof SHARED_ERRORS> {}

/** Every code is a string: a module's table is keyed by its codes' names. */
export type ErrorCode = Extract<keyof ErrorCatalogue, string>;

/** An error with a stable code from the catalogue. `details` are extra, non-secret fields for the response body. */
export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
    this.details = details;
  }

  /**
   * The code's status in the catalogue. Read when the error is answered, by which time the agent (or the CLI)
   * has loaded every module; a code no loaded module declares is a 500.
   */
  get status(): number {
    return CATALOGUE.get(this.code)?.status ?? 500;
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
