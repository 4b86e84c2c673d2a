/**
 * The customer CLI's side of the HTTP API (API.md "Customers"): where the agent is, JSON calls with a timeout
 * and a written retry policy, a streamed upload, and a parser for every answer. The agent at the other end may
 * be anyone's, so its answers are parsed, not asserted (CONVENTIONS 4 and 5).
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, pipeline } from 'node:stream';
import { loadConfig } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import { parseMsat, satToJson } from '../money/index.ts';

/** A JSON call gets this long for its whole answer; an agent that takes longer is treated as unreachable. */
const CALL_TIMEOUT_MS = 30_000;
/** A streamed upload or download is abandoned after this long without a byte moving (not a total limit: files are large). */
export const IDLE_TIMEOUT_MS = 60_000;
/** Answers to JSON calls are small; a bigger one is a misbehaving agent, not something to buffer. */
const MAX_JSON_BYTES = 1024 * 1024;
const GET_ATTEMPTS = 3;
const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/**
 * The agent's base URL: `--url`, else `STORJ_URL`, else the address a local `storj run` listens on
 * (`STORJ_LISTEN`, default 127.0.0.1:8420), worked out by the same rule the agent uses for its own links.
 * @throws AgentError BAD_REQUEST for a URL that is not http(s); CONFIG_INVALID for a bad STORJ_LISTEN.
 */
export function agentUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return httpBase(flag, '--url');
  if (env.STORJ_URL) return httpBase(env.STORJ_URL, 'STORJ_URL');
  return loadConfig({ env: env.STORJ_LISTEN ? { STORJ_LISTEN: env.STORJ_LISTEN } : {}, readFile: false }).publicUrl;
}

function httpBase(raw: string, what: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new AgentError('BAD_REQUEST', `${what} must be an http(s) URL, e.g. http://127.0.0.1:8420`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AgentError('BAD_REQUEST', `${what} must be an http(s) URL, e.g. http://127.0.0.1:8420`);
  return u.toString().replace(/\/+$/, '');
}

/**
 * An error the agent answered with: its code is the API's (which may be newer than this CLI's catalogue, so
 * it is a string, not an ErrorCode), and `body` keeps the extra fields, e.g. the address and amount of a 402.
 */
export class RemoteError extends Error {
  readonly code: string;
  readonly status: number;
  readonly body: Record<string, unknown>;

  constructor(code: string, message: string, status: number, body: Record<string, unknown>) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/**
 * Removes control characters, and with them terminal escape sequences, from text the agent sent: it is
 * printed to the user's terminal, where an escape sequence could rewrite what they see.
 */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

const badResponse = (message: string) => new AgentError('AGENT_BAD_RESPONSE', message);

/** Turns a non-2xx answer into a RemoteError, keeping the API's code when the body carries a well-formed one. */
export function remoteError(status: number, text: string): RemoteError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) body = parsed;
  } catch {
    // not JSON: a proxy's error page, say; the status alone decides the code below
  }
  const err = isRecord(body.error) ? body.error : {};
  const code = typeof err.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(err.code) ? err.code : status === 404 ? 'NOT_FOUND' : 'AGENT_BAD_RESPONSE';
  const message = typeof err.message === 'string' && err.message.trim() ? clean(err.message).slice(0, 500) : `the agent answered HTTP ${status}`;
  return new RemoteError(code, message, status, body);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads at most `max` bytes of a fetch body as text; more is a misbehaving agent. */
export async function readCapped(res: Response, max = MAX_JSON_BYTES): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) throw badResponse(`the agent's answer is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A short cause for a failed request: the system error code (ECONNREFUSED) when there is one. */
export function reason(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  if (cause instanceof Error) return clean('code' in cause && typeof cause.code === 'string' ? cause.code : cause.message);
  return String(cause);
}

/** The agent's JSON API. `fetch` is passed in so another transport (or a test double) needs no patching. */
export class AgentApi {
  readonly base: string;
  readonly #fetch: typeof fetch;

  constructor(base: string, fetchImpl: typeof fetch = fetch) {
    this.base = base;
    this.#fetch = fetchImpl;
  }

  /** A GET, retried with backoff and jitter on network errors and 429/502/503/504 (CONVENTIONS 5). */
  get(path: string, headers: Record<string, string> = {}): Promise<unknown> {
    return this.#call('GET', path, undefined, GET_ATTEMPTS, headers);
  }

  /** A POST, sent once: a POST may move money (a devnet payment) or create a quote, and may have succeeded. */
  post(path: string, body?: unknown): Promise<unknown> {
    return this.#call('POST', path, body, 1, {});
  }

  async #call(method: string, path: string, body: unknown, attempts: number, headers: Record<string, string>): Promise<unknown> {
    const url = `${this.base}${path}`;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(url, {
          method,
          headers: { ...headers, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
        if (attempt < attempts && RETRY_STATUSES.has(res.status)) {
          await res.body?.cancel();
          await sleep(backoff(attempt));
          continue;
        }
        text = await readCapped(res);
      } catch (e) {
        if (e instanceof AgentError) throw e;
        if (attempt < attempts) {
          await sleep(backoff(attempt));
          continue;
        }
        throw new AgentError('AGENT_UNREACHABLE', `no answer from the agent at ${this.base} (${reason(e)})`, undefined, { cause: e });
      }
      if (!res.ok) throw remoteError(res.status, text);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw badResponse(`${method} ${path}: the agent's answer is not JSON`);
      }
    }
  }
}

function backoff(attempt: number): number {
  return 250 * 2 ** (attempt - 1) + Math.floor(Math.random() * 250);
}

// ---- parsers: every answer is checked before anything is shown or acted on ----

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const ADDRESS = /^[A-Za-z0-9]{14,90}$/;

function record(v: unknown, what: string): Record<string, unknown> {
  if (!isRecord(v)) throw badResponse(`${what}: the agent's answer is not a JSON object`);
  return v;
}
function str(o: Record<string, unknown>, k: string, what: string, re?: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || (re && !re.test(v))) throw badResponse(`${what}: "${k}" is missing or malformed`);
  return v;
}
function strOrNull(o: Record<string, unknown>, k: string, what: string): string | null {
  return o[k] === null || o[k] === undefined ? null : clean(str(o, k, what));
}
function sat(o: Record<string, unknown>, k: string, what: string): bigint {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badResponse(`${what}: "${k}" is not a whole number of satoshis`);
  return BigInt(v);
}
function size(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badResponse(`${what}: "${k}" is not a size in bytes`);
  return v;
}
function oneOf<T extends string>(o: Record<string, unknown>, k: string, what: string, values: readonly T[]): T {
  const v = o[k];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw badResponse(`${what}: "${k}" is not one of ${values.join(', ')}`);
  return v as T;
}
function bip21(o: Record<string, unknown>, k: string, what: string, address: string): string {
  const v = str(o, k, what);
  // A QR code of someone else's address is the one thing the customer cannot check by eye: it must be the address shown.
  if (!/^bitcoin:[A-Za-z0-9]+(\?[A-Za-z0-9%._~+=&-]*)?$/i.test(v) || v.slice(8).split('?')[0]?.toLowerCase() !== address.toLowerCase()) {
    throw badResponse(`${what}: "${k}" is not a BIP21 URI for ${address}`);
  }
  return v;
}
function httpUrl(o: Record<string, unknown>, k: string, what: string): string {
  const v = str(o, k, what);
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // reported below
  }
  throw badResponse(`${what}: "${k}" is not an http(s) URL`);
}

export interface Quote {
  id: string;
  address: string;
  amountSat: bigint;
  bip21: string;
  expiresAt: string;
  uploadToken: string;
}
export function parseQuote(v: unknown): Quote {
  const w = 'quote';
  const o = record(v, w);
  const address = str(o, 'address', w, ADDRESS);
  return { id: str(o, 'id', w, ID), address, amountSat: sat(o, 'amountSat', w), bip21: bip21(o, 'bip21', w, address), expiresAt: clean(str(o, 'expiresAt', w)), uploadToken: str(o, 'uploadToken', w, /^[\x21-\x7e]{1,512}$/) };
}

// The agent's own type: the wire form (JSON numbers) is parsed into exactly this.
import type { UploadStatus } from '../host/index.ts';
export type { UploadState, UploadStatus } from '../host/index.ts';
export function parseUploadStatus(v: unknown): UploadStatus {
  const w = 'upload status';
  const o = record(v, w);
  return {
    id: str(o, 'id', w, ID),
    state: oneOf(o, 'state', w, ['awaiting_payment', 'paid', 'complete', 'expired'] as const),
    amountSat: sat(o, 'amountSat', w),
    receivedSat: sat(o, 'receivedSat', w),
    confirmedSat: sat(o, 'confirmedSat', w),
    ...(o.fileId !== undefined ? { fileId: str(o, 'fileId', w, ID) } : {}),
  };
}

export interface Stored {
  fileId: string;
  url: string;
  size: number;
  sha256: string;
}
export function parseStored(v: unknown): Stored {
  const w = 'upload';
  const o = record(v, w);
  return { fileId: str(o, 'fileId', w, ID), url: httpUrl(o, 'url', w), size: size(o, 'size', w), sha256: str(o, 'sha256', w, SHA256) };
}

export interface FileStatus {
  fileId: string;
  size: number;
  sha256: string;
  filename: string | null;
  contentType: string | null;
  state: 'active' | 'frozen' | 'deleted';
  balanceMsat: bigint;
  address: string;
  bip21: string;
  fundedUntil: string;
  deleteAt?: string;
}
export function parseFile(v: unknown): FileStatus {
  const w = 'file status';
  const o = record(v, w);
  const address = str(o, 'address', w, ADDRESS);
  let balanceMsat: bigint;
  try {
    balanceMsat = parseMsat(o.balanceMsat, 'balanceMsat');
  } catch {
    throw badResponse(`${w}: "balanceMsat" is not a decimal string of millisatoshis`);
  }
  return {
    fileId: str(o, 'fileId', w, ID),
    size: size(o, 'size', w),
    sha256: str(o, 'sha256', w, SHA256),
    filename: strOrNull(o, 'filename', w),
    contentType: strOrNull(o, 'contentType', w),
    state: oneOf(o, 'state', w, ['active', 'frozen', 'deleted'] as const),
    balanceMsat,
    address,
    bip21: bip21(o, 'bip21', w, address),
    fundedUntil: clean(str(o, 'fundedUntil', w)),
    ...(o.deleteAt !== undefined ? { deleteAt: clean(str(o, 'deleteAt', w)) } : {}),
  };
}

export interface Prices {
  network: string;
  storageMsatPerGibDay: bigint;
  egressMsatPerGib: bigint;
  minimumDepositSat: bigint;
}
export function parseInfo(v: unknown): Prices {
  const w = 'info';
  const o = record(v, w);
  const p = record(o.prices, w);
  try {
    return {
      network: clean(str(o, 'network', w)),
      storageMsatPerGibDay: parseMsat(p.storageMsatPerGibDay, 'storageMsatPerGibDay'),
      egressMsatPerGib: parseMsat(p.egressMsatPerGib, 'egressMsatPerGib'),
      minimumDepositSat: sat(p, 'minimumDepositSat', w),
    };
  } catch (e) {
    if (e instanceof AgentError && e.code === 'AGENT_BAD_RESPONSE') throw e;
    throw badResponse(`${w}: the prices are malformed`);
  }
}

/** What a 402 asks for (an upload not yet paid, a frozen file, a balance too low), when its body says it. */
export interface PaymentDemand {
  address: string;
  amountSat: bigint;
  bip21?: string;
}
export function paymentDemand(e: RemoteError): PaymentDemand | undefined {
  if (e.status !== 402) return undefined;
  try {
    const address = str(e.body, 'address', '402', ADDRESS);
    return { address, amountSat: sat(e.body, 'amountSat', '402'), ...(e.body.bip21 !== undefined ? { bip21: bip21(e.body, 'bip21', '402', address) } : {}) };
  } catch {
    return undefined;
  }
}

export const devPayBody = (address: string, amountSat: bigint) => ({ address, amountSat: satToJson(amountSat) });
export function parseTxid(v: unknown): string {
  return str(record(v, 'devnet payment'), 'txid', 'devnet payment', /^[0-9a-f]{64}$/);
}

/**
 * PUTs a file to `url`, streamed from disk (never read into memory) with `Content-Length`, hashing the bytes
 * as they are sent so the agent's sha256 can be checked against exactly what went over the wire.
 * `onProgress` gets the bytes sent so far.
 * @throws AgentError AGENT_UNREACHABLE when the connection fails or stalls; RemoteError for an error answer.
 */
export function putFile(url: string, token: string, path: string, length: number, onProgress: (sent: number) => void): Promise<{ reply: unknown; sentSha256: string }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  const hash = createHash('sha256');
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      sent += chunk.length;
      onProgress(sent);
      cb(null, chunk);
    },
  });
  return new Promise((resolve, reject) => {
    let done = false;
    let answered = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      reject(e instanceof AgentError || e instanceof RemoteError ? e : new AgentError('AGENT_UNREACHABLE', `the upload to ${u.origin} failed (${reason(e)})`, undefined, { cause: e }));
    };
    const req = request(u, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(length), 'content-type': 'application/octet-stream', accept: 'application/json' },
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new AgentError('AGENT_UNREACHABLE', `the upload to ${u.origin} stalled: nothing moved for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_JSON_BYTES) res.destroy(badResponse('the answer to the upload is too large'));
        else chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (done) return;
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return fail(remoteError(status, text));
        let reply: unknown;
        try {
          reply = JSON.parse(text);
        } catch {
          return fail(badResponse("the answer to the upload is not JSON"));
        }
        done = true;
        resolve({ reply, sentSha256: hash.digest('hex') });
      });
    });
    req.on('error', (e) => {
      // An agent that refuses early (a wrong token, a payment reversed meanwhile) may answer and close before it
      // has read the body: its answer, not the broken pipe, is what the user needs to see.
      if (!answered) setTimeout(() => { if (!answered) fail(e); }, 500);
    });
    pipeline(createReadStream(path), counter, req, (e) => {
      if (e && !answered) setTimeout(() => { if (!answered) fail(e); }, 500);
    });
  });
}
