/**
 * How the battery talks to a child (docs/battery.md): every request goes through src/net's HttpClient with a
 * deadline and a size cap, is sent once (a child that fails a request fails the check; nothing is retried into
 * passing), and every answer is parsed against a schema, never trusted. A check fails by throwing `CheckFailed`
 * with what was expected and what was seen; anything the child does ends up as such a failure, never as an
 * exception out of the battery.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { bodyText, HttpClient, isNetError, printable, type HttpResponse } from '../../net/index.ts';

/** A check's failure, with its detail: what was expected and what the child did. */
export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

/** @throws CheckFailed always, with `detail` */
export function fail(detail: string): never {
  throw new CheckFailed(detail);
}

/** The child's answer as it may be repeated in a detail: printable, short. */
export function shown(res: HttpResponse, max = 160): string {
  return printable(bodyText(res), max) || '(empty body)';
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

export interface ProbeOptions {
  url: string;
  /** Deadline of each request, connect to last byte. */
  timeoutMs: number;
  /** Largest JSON answer read. */
  maxJsonBytes: number;
  signal?: AbortSignal | undefined;
}

/** One child's client, for the battery's checks. */
export class Probe {
  readonly #http: HttpClient;
  readonly #maxJsonBytes: number;
  readonly #signal: AbortSignal | undefined;

  /** @throws TypeError for a URL that is not http(s) (the caller turns it into failed checks) */
  constructor(o: ProbeOptions) {
    this.#http = new HttpClient({ baseUrl: o.url, timeoutMs: o.timeoutMs, retries: 0 });
    this.#maxJsonBytes = o.maxJsonBytes;
    this.#signal = o.signal;
  }

  /**
   * Sends one request. A network failure, a deadline passed or an answer over `maxBytes` is a failed check.
   * @throws CheckFailed for those; the signal's reason when the battery's signal aborts
   */
  async send(method: Method, path: string, o: { body?: string | Uint8Array; headers?: Record<string, string>; maxBytes?: number } = {}): Promise<HttpResponse> {
    try {
      return await this.#http.request({
        method,
        path,
        ...(o.body !== undefined ? { body: o.body } : {}),
        ...(o.headers ? { headers: o.headers } : {}),
        maxBytes: o.maxBytes ?? this.#maxJsonBytes,
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (e) {
      if (isNetError(e)) fail(`${method} ${path}: no usable answer (${e.kind}: ${e.reason})`);
      throw e;
    }
  }

  /**
   * Sends a request (a JSON body if `body` is given) and parses the answer's JSON against `schema`, expecting `status`.
   * @throws CheckFailed for another status, a body that is not JSON or one that does not match the schema
   */
  async json<S extends TSchema>(method: Method, path: string, schema: S, o: { body?: unknown; headers?: Record<string, string>; status?: number } = {}): Promise<Static<S>> {
    const headers = { ...o.headers, ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) };
    const res = await this.send(method, path, { ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}), headers });
    const status = o.status ?? 200;
    if (res.status !== status) fail(`${method} ${path}: expected ${status}, got ${res.status}: ${shown(res)}`);
    return parseAnswer(res, schema, `${method} ${path}`);
  }
}

/**
 * Each schema's checker, compiled at its first answer. The compiler is loaded anyway (the sandbox's schemas use
 * it); TypeBox's `Value` would load 31 more modules into every agent, battery run or not (docs/memory.md).
 */
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();
function checker<S extends TSchema>(schema: S): TypeCheck<S> {
  // Set below from this very schema, so its checker is a TypeCheck<S>.
  let c = checkers.get(schema) as TypeCheck<S> | undefined;
  if (!c) {
    c = TypeCompiler.Compile(schema);
    checkers.set(schema, c);
  }
  return c;
}

/**
 * The answer's body as JSON matching `schema`.
 * @throws CheckFailed naming `what` when it is not JSON or does not match
 */
export function parseAnswer<S extends TSchema>(res: HttpResponse, schema: S, what: string): Static<S> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText(res));
  } catch {
    return fail(`${what}: the answer is not JSON: ${shown(res)}`);
  }
  const check = checker(schema);
  if (!check.Check(parsed)) {
    const first = check.Errors(parsed).First();
    fail(`${what}: the answer does not have the expected shape (${first ? `${first.path || '/'}: ${first.message}` : 'mismatch'}): ${shown(res)}`);
  }
  return parsed;
}

/** A JSON integer of satoshis as bigint. @throws CheckFailed when it is not a safe non-negative integer */
export function satOf(v: number, what: string): bigint {
  if (!Number.isSafeInteger(v) || v < 0) fail(`${what} is not a whole number of satoshis: ${v}`);
  return BigInt(v);
}
