/**
 * ChainBackend over the Esplora HTTP API (Blockstream's esplora/API.md), as served by
 * mempool.space, blockstream.info, a self-hosted electrs, and the devnet facade.
 *
 * Retry policy, written once here:
 * - every request has a deadline (`timeoutMs`, covering connect, headers and body) and honours
 *   the caller's AbortSignal; an aborted call rejects with the signal's reason and is not retried;
 * - GETs are retried on network errors, timeouts and HTTP 429/502/503/504, with exponential
 *   backoff plus jitter, waiting at least a (capped) Retry-After on 429/503; after the last try
 *   the call fails with CHAIN_UNAVAILABLE;
 * - 404 is CHAIN_NOT_FOUND at once; another 5xx is CHAIN_UNAVAILABLE at once (it is the
 *   backend's own failure, not congestion); 3xx and other 4xx are CHAIN_BAD_RESPONSE;
 * - a broadcast is POSTed exactly once: it may have reached the network even when the answer
 *   is lost, and sending it again is the caller's decision, made after checking the txid.
 */
import axios, { isAxiosError } from 'axios';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { Block, Transaction } from 'bitcoinjs-lib';
import { AgentError } from '../errors/index.ts';
import type { ChainBackend, ChainUtxo, MempoolTx, TxStatus } from './types.ts';
import {
  MAX_FEE_RATE_SAT_PER_VB,
  badResponse,
  feeRateToSatPerKvb,
  isHex,
  parseJson,
  readArray,
  readBoolean,
  readHash,
  readHex,
  readInteger,
  readObject,
  readOptional,
  readSat,
  readString,
  requireAddress,
  requireBlockHash,
  requireHeight,
  requireTxid,
  signalsReplacement,
} from './validate.ts';

export interface EsploraClientOptions {
  /** The API root, e.g. `https://mempool.space/api`. Userinfo and query are kept for requests and kept out of messages. */
  baseUrl: string;
  /** The HTTP client (injected so tests and proxies can supply their own); a fresh axios instance by default. */
  http?: AxiosInstance;
  /** Deadline of one attempt, connect to last body byte. Default 15000. */
  timeoutMs?: number;
  /** Retries of a GET after the first try. Default 4. */
  retries?: number;
  /** First backoff step; doubled on each retry. Default 250. */
  backoffMs?: number;
  /** Longest Retry-After honoured; a server asking for more gets this. Default 30000. */
  maxRetryAfterMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
  /** Waits between retries; must reject when `signal` aborts. Default: an abortable timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Arms one attempt's deadline: calls `onExpire` after `ms` unless the returned function (called when the
   * attempt ends) cancels it first. Default: a timer. Injected so tests expire it on an event, not a clock.
   */
  deadline?: (ms: number, onExpire: () => void) => () => void;
}

// Bitcoin Core's MAX_BLOCK_SERIALIZED_SIZE (consensus.h): no valid block is larger.
const MAX_BLOCK_BYTES = 4_000_000;
// The largest text answer read: a maximal transaction in hex is twice a maximal block, and the
// JSON of 50 mempool transactions (Esplora's cap) with their prevouts stays far below this.
const MAX_TEXT_BYTES = 16 * 1024 * 1024;
// A txid, or a node's rejection reason, is short; anything longer after a POST is noise.
const MAX_BROADCAST_ANSWER_BYTES = 64 * 1024;
// Congestion statuses worth waiting out; the others will not change on a retry.
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const RETRY_AFTER_STATUSES = new Set([429, 503]);
const MAX_BACKOFF_MS = 30_000;
// Failures that happen before any byte of the request leaves: a broadcast that met one of these
// was certainly not delivered. Everything else (reset, timeout, 5xx) leaves its outcome unknown.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

type Outcome =
  | { kind: 'response'; res: AxiosResponse<unknown> }
  | { kind: 'failed'; reason: string; notSent: boolean }
  | { kind: 'too_large'; limit: number }
  | { kind: 'aborted' };

interface Req {
  method: 'GET' | 'POST';
  path: string;
  responseType: 'text' | 'arraybuffer';
  maxBytes: number;
  body?: string;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepMs(ms, undefined, signal ? { signal } : undefined);
}

function defaultDeadline(ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(onExpire, ms);
  return () => clearTimeout(timer);
}

function positiveInt(value: number | undefined, fallback: number, key: string, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new AgentError('CONFIG_INVALID', `${key} must be an integer in ${min}..${max}`);
  }
  return v;
}

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 section 10.2.3); anything else is ignored. */
function parseRetryAfter(header: unknown): number | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Bodies are bytes or text depending on the adapter; text endpoints want a string. */
function bodyText(data: unknown, at: string): string {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return badResponse(at, 'answered a body that is not text');
}

/** A node's rejection as one printable line; Esplora wraps bitcoind's `{"code","message"}` in text. */
function rejectionReason(text: string): { reason: string; rpcCode?: number } {
  const brace = text.indexOf('{');
  if (brace >= 0) {
    try {
      const j = JSON.parse(text.slice(brace)) as unknown;
      if (typeof j === 'object' && j !== null && 'message' in j && typeof j.message === 'string') {
        const code = 'code' in j && typeof j.code === 'number' && Number.isSafeInteger(j.code) ? j.code : undefined;
        return { reason: printable(j.message), ...(code === undefined ? {} : { rpcCode: code }) };
      }
    } catch {
      // not JSON after all: fall through to the whole text
    }
  }
  return { reason: printable(text) || 'no reason given' };
}

// URL keeps userinfo percent-encoded; a malformed escape is kept as written rather than thrown.
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// The reason goes into logs and API answers: no control characters, bounded length.
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]+/g, ' ').replace(/ {2,}/g, ' ').trim().slice(0, 300);
}

/**
 * An Esplora client that parses every answer (the backend is untrusted) and follows the retry policy above.
 * Hashes and txids it returns are lowercase hex.
 */
export class EsploraClient implements ChainBackend {
  private readonly http: AxiosInstance;
  private readonly base: URL;
  private readonly basePath: string;
  /** The backend as named in messages: scheme, host and port only, since userinfo, path and query may carry keys. */
  private readonly label: string;
  /** Userinfo and query values of the base URL, scrubbed from any backend text we repeat. */
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly deadline: (ms: number, onExpire: () => void) => () => void;

  /** @throws AgentError CONFIG_INVALID for a base URL that is not http(s) or an option out of range */
  constructor(opts: EsploraClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      // The URL itself stays out of the message: it may hold credentials.
      throw new AgentError('CONFIG_INVALID', 'esploraUrl is not a valid URL');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new AgentError('CONFIG_INVALID', 'esploraUrl must be an http or https URL');
    }
    base.hash = '';
    this.base = base;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.label = `${base.protocol}//${base.host}`;
    this.secrets = [base.username, base.password, safeDecode(base.username), safeDecode(base.password), ...base.searchParams.values()].filter(
      (v) => v.length >= 3,
    );
    this.http = opts.http ?? axios.create();
    this.timeoutMs = positiveInt(opts.timeoutMs, 15_000, 'timeoutMs', 1, 600_000);
    this.retries = positiveInt(opts.retries, 4, 'retries', 0, 20);
    this.backoffMs = positiveInt(opts.backoffMs, 250, 'backoffMs', 0, MAX_BACKOFF_MS);
    this.maxRetryAfterMs = positiveInt(opts.maxRetryAfterMs, 30_000, 'maxRetryAfterMs', 0, 600_000);
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
    this.deadline = opts.deadline ?? defaultDeadline;
  }

  /** @throws AgentError CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted */
  async getTipHeight(signal?: AbortSignal): Promise<number> {
    const path = '/blocks/tip/height';
    const text = (await this.getText(path, 'tip', signal)).trim();
    if (!/^(0|[1-9][0-9]*)$/.test(text)) badResponse(`GET ${path}`, 'answered something other than a height');
    return readInteger(Number(text), `GET ${path}`);
  }

  /** @throws AgentError CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted */
  async getTipHash(signal?: AbortSignal): Promise<string> {
    const path = '/blocks/tip/hash';
    return readHash((await this.getText(path, 'tip', signal)).trim(), `GET ${path}`);
  }

  /** @throws AgentError BAD_REQUEST, CHAIN_NOT_FOUND (above the tip), CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted */
  async getBlockHash(height: number, signal?: AbortSignal): Promise<string> {
    const path = `/block-height/${requireHeight(height)}`;
    return readHash((await this.getText(path, `block at height ${height}`, signal)).trim(), `GET ${path}`);
  }

  /**
   * Fetches `/block/:hash/raw` and checks that it parses whole, that its header hashes to `hash`
   * and that its transactions match its merkle root (and witness commitment), so a backend can
   * neither swap the block nor its contents.
   * @throws AgentError BAD_REQUEST, CHAIN_NOT_FOUND, CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted
   */
  async getBlockRaw(hash: string, signal?: AbortSignal): Promise<Uint8Array> {
    const id = requireBlockHash(hash);
    const path = `/block/${id}/raw`;
    const at = `GET ${path}`;
    const res = await this.get({ method: 'GET', path, responseType: 'arraybuffer', maxBytes: MAX_BLOCK_BYTES }, `block ${id}`, signal);
    let bytes: Uint8Array;
    if (res.data instanceof Uint8Array) bytes = new Uint8Array(res.data); // a copy, detached from Buffer's pool
    else if (res.data instanceof ArrayBuffer) bytes = new Uint8Array(res.data.slice(0));
    else return badResponse(at, 'answered a body that is not bytes');
    let block: Block;
    try {
      block = Block.fromBuffer(bytes);
    } catch {
      return badResponse(at, 'answered bytes that are not a block');
    }
    if (!block.transactions || block.transactions.length === 0) badResponse(at, 'answered a block without transactions');
    if (block.byteLength() !== bytes.length) badResponse(at, 'answered trailing bytes after the block');
    const got = block.getId();
    if (got !== id) badResponse(at, `answered block ${got}, not the one asked for`);
    let rootsMatch: boolean;
    try {
      rootsMatch = block.checkTxRoots();
    } catch {
      rootsMatch = false;
    }
    if (!rootsMatch) badResponse(at, 'answered a block whose transactions do not match its merkle root');
    return bytes;
  }

  /**
   * Fetches `/tx/:txid/hex` and re-hashes it: the answer must parse as one transaction whose txid is `txid`.
   * @throws AgentError BAD_REQUEST, CHAIN_NOT_FOUND, CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted
   */
  async getTxHex(txid: string, signal?: AbortSignal): Promise<string> {
    const id = requireTxid(txid);
    const path = `/tx/${id}/hex`;
    const at = `GET ${path}`;
    const hex = (await this.getText(path, `transaction ${id}`, signal)).trim();
    if (hex.length === 0 || !isHex(hex)) badResponse(at, 'answered something other than hex');
    let got: string;
    try {
      got = Transaction.fromHex(hex).getId();
    } catch {
      return badResponse(at, 'answered hex that is not a transaction');
    }
    if (got !== id) badResponse(at, `answered transaction ${got}, not the one asked for`);
    return hex.toLowerCase();
  }

  /**
   * Electrs answers `/tx/:txid/status` with `{"confirmed":false}` for a txid it has never seen,
   * so an unconfirmed answer is confirmed to exist by fetching (and checking) the transaction:
   * unknown becomes CHAIN_NOT_FOUND instead of "in the mempool".
   * @throws AgentError BAD_REQUEST, CHAIN_NOT_FOUND, CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted
   */
  async getTxStatus(txid: string, signal?: AbortSignal): Promise<TxStatus> {
    const id = requireTxid(txid);
    const path = `/tx/${id}/status`;
    const status = readStatus(await this.getJson(path, `transaction ${id}`, signal), `GET ${path}: body`);
    if (!status.confirmed) await this.getTxHex(id, signal);
    return status;
  }

  /** @throws AgentError BAD_REQUEST, CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted */
  async getAddressUtxos(address: string, signal?: AbortSignal): Promise<ChainUtxo[]> {
    const path = `/address/${requireAddress(address)}/utxo`;
    const at = `GET ${path}`;
    const seen = new Set<string>();
    return readArray(await this.getJson(path, `address ${address}`, signal), at).map((item, i) => {
      const o = readObject(item, `${at}: [${i}]`);
      const txid = readHash(o.txid, `${at}: [${i}].txid`);
      const vout = readInteger(o.vout, `${at}: [${i}].vout`, 0, 0xffff_ffff);
      // A repeated outpoint would count one payment twice.
      if (seen.has(`${txid}:${vout}`)) badResponse(at, `listed outpoint ${txid}:${vout} twice`);
      seen.add(`${txid}:${vout}`);
      const valueSat = readSat(o.value, `${at}: [${i}].value`);
      const status = readStatus(o.status, `${at}: [${i}].status`);
      const utxo: ChainUtxo = { txid, vout, valueSat, confirmed: status.confirmed };
      if (status.confirmed) {
        utxo.blockHeight = status.blockHeight;
        utxo.blockHash = status.blockHash;
      }
      return utxo;
    });
  }

  /**
   * Each transaction is rebuilt from its JSON (version, inputs, outputs, locktime) and re-hashed:
   * the txid must match, so a backend cannot report a real transaction with altered outputs.
   * @throws AgentError BAD_REQUEST, CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted
   */
  async getAddressMempoolTxs(address: string, signal?: AbortSignal): Promise<MempoolTx[]> {
    const path = `/address/${requireAddress(address)}/txs/mempool`;
    const at = `GET ${path}`;
    const seen = new Set<string>();
    return readArray(await this.getJson(path, `address ${address}`, signal), at).map((item, i) => {
      const tx = readMempoolTx(item, `${at}: [${i}]`);
      if (seen.has(tx.txid)) badResponse(at, `listed transaction ${tx.txid} twice`);
      seen.add(tx.txid);
      return tx;
    });
  }

  /**
   * POSTs the transaction once; never retried, because it may have reached the network even when
   * the answer is lost. The answer must be the transaction's own txid.
   * @throws AgentError BAD_REQUEST when `txHex` is not a transaction (nothing is sent)
   * @throws AgentError CHAIN_TX_REJECTED when the node refuses it (HTTP 400); `details.reason` holds the node's words
   * @throws AgentError CHAIN_UNAVAILABLE when there is no clear answer; `details.outcome` is `not_sent` or `unknown`
   *   (then check `details.txid` before building a replacement)
   * @throws AgentError CHAIN_BAD_RESPONSE when the backend answers success with another txid
   * @throws the signal's reason when aborted before sending (aborting later is CHAIN_UNAVAILABLE, outcome unknown)
   */
  async broadcast(txHex: string, signal?: AbortSignal): Promise<string> {
    if (typeof txHex !== 'string' || txHex.length === 0 || !isHex(txHex)) {
      throw new AgentError('BAD_REQUEST', 'transaction must be non-empty hex');
    }
    let txid: string;
    try {
      txid = Transaction.fromHex(txHex).getId();
    } catch {
      throw new AgentError('BAD_REQUEST', 'hex is not a serialized transaction');
    }
    signal?.throwIfAborted();
    const path = '/tx';
    const at = `POST ${path}`;
    const unknown = (why: string): AgentError =>
      new AgentError(
        'CHAIN_UNAVAILABLE',
        `broadcast of ${txid} to ${this.label}: ${why}; its outcome is unknown, check whether ${txid} reached the network before sending a replacement`,
        { txid, outcome: 'unknown', endpoint: path },
      );
    let outcome: Outcome;
    try {
      outcome = await this.once({ method: 'POST', path, responseType: 'text', maxBytes: MAX_BROADCAST_ANSWER_BYTES, body: txHex.toLowerCase() }, signal);
    } catch (e) {
      throw unknown(e instanceof Error ? e.name : 'unexpected failure');
    }
    switch (outcome.kind) {
      case 'aborted':
        throw unknown('aborted while sending');
      case 'too_large':
        throw unknown(`answer larger than ${outcome.limit} bytes`);
      case 'failed':
        if (outcome.notSent) {
          throw new AgentError('CHAIN_UNAVAILABLE', `broadcast of ${txid} to ${this.label} was not sent (${outcome.reason})`, {
            txid,
            outcome: 'not_sent',
            endpoint: path,
          });
        }
        throw unknown(outcome.reason);
      case 'response':
        break;
    }
    const { status, data } = outcome.res;
    let text: string;
    try {
      text = bodyText(data, at);
    } catch {
      throw unknown(`HTTP ${status} with an unreadable body`);
    }
    if (status === 400) {
      const { reason, rpcCode } = rejectionReason(this.redact(text));
      throw new AgentError('CHAIN_TX_REJECTED', `the node rejected transaction ${txid}: ${reason}`, {
        txid,
        reason,
        ...(rpcCode === undefined ? {} : { rpcCode }),
      });
    }
    if (status < 200 || status > 299) throw unknown(`HTTP ${status}`);
    const answered = text.trim();
    if (!isHex(answered) || answered.length !== 64 || answered.toLowerCase() !== txid) {
      throw new AgentError(
        'CHAIN_BAD_RESPONSE',
        `chain backend answered ${at} with "${printable(answered).slice(0, 80)}" for transaction ${txid}; it may have been broadcast, check ${txid}`,
        { txid, endpoint: path },
      );
    }
    return txid;
  }

  /**
   * Reads `/fee-estimates` ({"<blocks>": sat/vB float}) into target -> sat per 1000 vB, rounded up.
   * An empty object (a node with no estimates yet, as on regtest) gives an empty map.
   * @throws AgentError CHAIN_UNAVAILABLE, CHAIN_BAD_RESPONSE; the signal's reason when aborted
   */
  async getFeeEstimates(signal?: AbortSignal): Promise<Map<number, bigint>> {
    const path = '/fee-estimates';
    const at = `GET ${path}`;
    const o = readObject(await this.getJson(path, 'fee estimates', signal), at);
    const entries: Array<[number, bigint]> = [];
    for (const [key, value] of Object.entries(o)) {
      if (!/^[1-9][0-9]{0,5}$/.test(key)) badResponse(at, `gave confirmation target "${printable(key).slice(0, 20)}"`);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_FEE_RATE_SAT_PER_VB) {
        badResponse(`${at}: ${key}`, `is not a fee rate in 0..${MAX_FEE_RATE_SAT_PER_VB} sat/vB`);
      }
      entries.push([Number(key), feeRateToSatPerKvb(value)]);
    }
    return new Map(entries.sort((a, b) => a[0] - b[0]));
  }

  // ---- transport ----

  /** The start of an error body for a message: printable, short, and without our credentials (a server could echo them). */
  private snippet(data: unknown): string {
    const text = typeof data === 'string' ? data : data instanceof Uint8Array ? Buffer.from(data).toString('utf8') : '';
    const short = printable(this.redact(text.slice(0, 1000))).slice(0, 120);
    return short ? `: ${short}` : '';
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  private url(path: string): string {
    const u = new URL(this.base.href);
    u.pathname = this.basePath + path;
    return u.href;
  }

  private async getText(path: string, what: string, signal?: AbortSignal): Promise<string> {
    const res = await this.get({ method: 'GET', path, responseType: 'text', maxBytes: MAX_TEXT_BYTES }, what, signal);
    return bodyText(res.data, `GET ${path}`);
  }

  private async getJson(path: string, what: string, signal?: AbortSignal): Promise<unknown> {
    return parseJson(await this.getText(path, what, signal), `GET ${path}`);
  }

  /** A GET under the retry policy; resolves only with a 2xx answer. `what` names the thing for CHAIN_NOT_FOUND. */
  private async get(req: Req, what: string, signal?: AbortSignal): Promise<AxiosResponse<unknown>> {
    const at = `${req.method} ${req.path}`;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.once(req, signal);
      let failure: string;
      let retryAfterMs: number | undefined;
      switch (outcome.kind) {
        case 'aborted':
          signal?.throwIfAborted();
          throw new Error('unreachable: aborted without an aborted signal');
        case 'too_large':
          return badResponse(at, `answered more than ${outcome.limit} bytes`);
        case 'failed':
          failure = outcome.reason;
          break;
        case 'response': {
          const { status } = outcome.res;
          if (status >= 200 && status <= 299) return outcome.res;
          if (status === 404) {
            throw new AgentError('CHAIN_NOT_FOUND', `chain backend has no ${what} (${at} answered 404)`, { endpoint: req.path });
          }
          if (!RETRY_STATUSES.has(status)) {
            const said = this.snippet(outcome.res.data);
            if (status >= 500) {
              throw new AgentError('CHAIN_UNAVAILABLE', `chain backend ${this.label} failed ${at} with HTTP ${status}${said}`, { endpoint: req.path, status });
            }
            return badResponse(at, `answered HTTP ${status}${said}`);
          }
          failure = `HTTP ${status}`;
          if (RETRY_AFTER_STATUSES.has(status)) retryAfterMs = parseRetryAfter(outcome.res.headers['retry-after']);
          break;
        }
      }
      if (attempt > this.retries) {
        throw new AgentError('CHAIN_UNAVAILABLE', `chain backend ${this.label} did not answer ${at} after ${attempt} tries (last: ${failure})`, {
          endpoint: req.path,
          tries: attempt,
        });
      }
      await this.pause(this.backoff(attempt, retryAfterMs), signal);
    }
  }

  /** Exponential backoff with "equal jitter" (half fixed, half random), so a fleet of clients spreads out but none comes back at once. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const step = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** (attempt - 1));
    const r = Math.min(Math.max(this.random(), 0), 1);
    const wait = step / 2 + r * (step / 2);
    return Math.round(retryAfterMs === undefined ? wait : Math.max(wait, Math.min(retryAfterMs, this.maxRetryAfterMs)));
  }

  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    try {
      await this.sleep(ms, signal);
    } catch (e) {
      signal?.throwIfAborted();
      throw e;
    }
    signal?.throwIfAborted();
  }

  /**
   * One attempt with its own deadline. Never throws for transport trouble: the caller decides,
   * because a failed GET is retried and a failed POST /tx is not. Raw axios errors are not kept
   * as causes: they carry the request config, and with it any credentials in the URL.
   */
  private async once(req: Req, signal?: AbortSignal): Promise<Outcome> {
    if (signal?.aborted) return { kind: 'aborted' };
    const ctl = new AbortController();
    let timedOut = false;
    // axios's own `timeout` is a socket idle timer that a slow trickle resets; this is a deadline.
    const cancelDeadline = this.deadline(this.timeoutMs, () => {
      timedOut = true;
      ctl.abort();
    });
    const onAbort = (): void => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.http.request<unknown>({
        method: req.method,
        url: this.url(req.path),
        ...(req.body === undefined ? {} : { data: req.body, headers: { 'Content-Type': 'text/plain' } }),
        responseType: req.responseType,
        responseEncoding: 'utf8',
        transformResponse: [(data: unknown) => data], // parsed here, not by axios (which hides bad JSON)
        validateStatus: () => true,
        maxRedirects: 0, // a redirect could carry credentials elsewhere; an API root does not move
        maxContentLength: req.maxBytes,
        signal: ctl.signal,
      });
      return { kind: 'response', res };
    } catch (e) {
      if (signal?.aborted) return { kind: 'aborted' };
      if (timedOut) return { kind: 'failed', reason: `no answer within ${this.timeoutMs} ms`, notSent: false };
      if (!isAxiosError(e)) throw e;
      if (e.code === 'ERR_BAD_RESPONSE' && e.message.startsWith('maxContentLength')) return { kind: 'too_large', limit: req.maxBytes };
      const code = e.code ?? 'ERR_NETWORK';
      return { kind: 'failed', reason: code, notSent: NOT_SENT_CODES.has(code) };
    } finally {
      cancelDeadline();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Parses an Esplora status object; a confirmed status must name its block. */
function readStatus(value: unknown, at: string): TxStatus {
  const o = readObject(value, at);
  if (!readBoolean(o.confirmed, `${at}.confirmed`)) return { confirmed: false };
  const status: TxStatus = {
    confirmed: true,
    blockHeight: readInteger(o.block_height, `${at}.block_height`),
    blockHash: readHash(o.block_hash, `${at}.block_hash`),
  };
  const blockTime = readOptional(o.block_time, (v) => readInteger(v, `${at}.block_time`));
  if (blockTime !== undefined) status.blockTime = blockTime;
  return status;
}

function readMempoolTx(value: unknown, at: string): MempoolTx {
  const o = readObject(value, at);
  const txid = readHash(o.txid, `${at}.txid`);
  // Esplora prints version as a signed or (older electrs) unsigned 32-bit number; both serialize the same.
  const rawVersion = readInteger(o.version, `${at}.version`, -0x8000_0000, 0xffff_ffff);
  const tx = new Transaction();
  tx.version = rawVersion > 0x7fff_ffff ? rawVersion - 0x1_0000_0000 : rawVersion;
  tx.locktime = readInteger(o.locktime, `${at}.locktime`, 0, 0xffff_ffff);
  const inputs = readArray(o.vin, `${at}.vin`).map((item, i) => {
    const w = `${at}.vin[${i}]`;
    const input = readObject(item, w);
    const prevTxid = readHash(input.txid, `${w}.txid`);
    const vout = readInteger(input.vout, `${w}.vout`, 0, 0xffff_ffff);
    const sequence = readInteger(input.sequence, `${w}.sequence`, 0, 0xffff_ffff);
    const scriptSig = readHex(input.scriptsig, `${w}.scriptsig`);
    tx.addInput(Buffer.from(prevTxid, 'hex').reverse(), vout, sequence, Buffer.from(scriptSig, 'hex'));
    return { txid: prevTxid, vout, sequence };
  });
  const outputs = readArray(o.vout, `${at}.vout`).map((item, i) => {
    const w = `${at}.vout[${i}]`;
    const output = readObject(item, w);
    const scriptHex = readHex(output.scriptpubkey, `${w}.scriptpubkey`);
    const valueSat = readSat(output.value, `${w}.value`);
    tx.addOutput(Buffer.from(scriptHex, 'hex'), valueSat);
    const address = readOptional(output.scriptpubkey_address, (v) => readString(v, `${w}.scriptpubkey_address`));
    return address === undefined ? { scriptHex, valueSat } : { scriptHex, address, valueSat };
  });
  if (inputs.length === 0 || outputs.length === 0) badResponse(at, 'is a transaction without inputs or outputs');
  let got: string;
  try {
    got = tx.getId();
  } catch {
    return badResponse(at, 'cannot be serialized as a transaction');
  }
  if (got !== txid) badResponse(`${at}.txid`, `is ${txid}, but the transaction described hashes to ${got}`);
  // Esplora has no replaceability field; the sequences are covered by the txid check above, so this is exact.
  return { txid, inputs, outputs, rbf: signalsReplacement(inputs) };
}
