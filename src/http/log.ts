/**
 * The agent's log: JSON lines on stdout through fastify's own logger (pino), one `reqId` on every line of a
 * request, and no secret in any line.
 *
 * What is kept out, and how:
 * - Request lines carry the route's pattern (`/f/:fileId`), never the URL: a fileId is the file's download
 *   capability, and an upload id is half of an upload's. An unmatched URL is logged with any id-shaped
 *   segment replaced, and never with its query.
 * - Headers are not logged at all (so no Authorization); the redact paths below catch a header, token,
 *   passphrase or mnemonic that some line might pass as a field anyway.
 * - Errors are logged as type, code, message and stack only: not their details (which may hold a fileId)
 *   nor node's `rawPacket` on a client error (the raw request, Authorization included).
 * - Last, every string that reaches a line is scrubbed: the secrets this process knows (the admin token, the
 *   passphrase) are replaced wherever they appear, and so is any word shaped like an id or an upload token
 *   (22 or 43 base64url characters: 16 and 32 random bytes, see src/host/index.ts), so an error message that
 *   names a file (`file <id>: ...`) does not leak it.
 */
import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/** 16 random bytes (ids) and 32 (upload tokens) in base64url, standing alone. */
const ID_SHAPED = /(?<![A-Za-z0-9_-])(?:[A-Za-z0-9_-]{22}|[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g;

/** Field paths pino replaces wherever they occur in a logged object (fast-redact syntax). */
const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'uploadToken',
  '*.uploadToken',
  'adminToken',
  '*.adminToken',
  'token',
  '*.token',
  'passphrase',
  '*.passphrase',
  'mnemonic',
  '*.mnemonic',
  // An investor's provider credentials (POST /v1/proposals): bodies are never logged, but a line that passed
  // them as a field would still not show them.
  'credentials',
  '*.credentials',
];

export interface LogOptions {
  level: string;
  /** Strings that must never appear in a line (the admin token, the wallet's passphrase). */
  secrets: string[];
}

/** Replaces known secrets and id-shaped words in `text`. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out.replace(ID_SHAPED, '[id]');
}

/** The path of a URL with no query, id-shaped segments replaced (for requests that matched no route). */
function safePath(url: string, secrets: readonly string[] = []): string {
  const path = url.split('?')[0] ?? '';
  return scrub(path, secrets).slice(0, 200);
}

/** fastify's `logger` option: pino's options (fastify creates the logger, writing to stdout). */
export function loggerOptions(opts: LogOptions): NonNullable<FastifyServerOptions['logger']> {
  // A very short secret (a one-letter regtest passphrase) would blank out every word that contains it; such a
  // secret protects nothing anyway.
  const secrets = opts.secrets.filter((s) => s.length >= 8);
  const clean = (v: unknown): unknown => (typeof v === 'string' ? scrub(v, secrets) : v);
  return {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        route: req.routeOptions?.url ?? safePath(req.url, secrets),
        remoteAddress: req.ip,
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      err: (err: Error & { code?: unknown }) => ({
        type: err.name,
        ...(typeof err.code === 'string' ? { code: err.code } : {}),
        message: scrub(String(err.message), secrets),
        stack: scrub(err.stack ?? '', secrets),
      }),
    },
    hooks: {
      // Every call's arguments: the message string, its format arguments, and the top-level strings of the
      // merged object (`{msg, detail}`); nested objects go through the serializers and redact paths above.
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        const cleaned = args.map((a) => {
          if (typeof a === 'string') return scrub(a, secrets);
          if (a && typeof a === 'object' && !(a instanceof Error) && Object.getPrototypeOf(a) === Object.prototype) {
            return Object.fromEntries(Object.entries(a as Record<string, unknown>).map(([k, v]) => [k, clean(v)]));
          }
          return a;
        });
        method.apply(this, cleaned);
      },
    },
  };
}
