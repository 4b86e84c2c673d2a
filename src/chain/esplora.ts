/**
 * ChainBackend over the Esplora HTTP API (Blockstream's esplora/API.md), as served by
 * mempool.space, blockstream.info, a self-hosted electrs, and the devnet facade.
 *
 * The transport, its deadline per attempt, its retries and the scrubbing of credentials are the one
 * outbound client's (src/net/client.ts, policy in src/net/policy.ts). What is Esplora's own is here:
 * - every GET is retried by that policy; after the last try a network error, a timeout or a
 *   429/502/503/504 is CHAIN_UNAVAILABLE; an aborted call rejects with the signal's reason;
 * - 404 is CHAIN_NOT_FOUND at once; another 5xx is CHAIN_UNAVAILABLE at once (it is the
 *   backend's own failure, not congestion); 3xx and other 4xx are CHAIN_BAD_RESPONSE;
 * - a broadcast is POSTed exactly once: it may have reached the network even when the answer
 *   is lost, and sending it again is the caller's decision, made after checking the txid.
 */
import { Block, Transaction } from 'bitcoinjs-lib';
import { AgentError } from '../errors/index.ts';
import { bodyText, HttpClient, isNetError, isRetryStatus, printable, type HttpResponse } from '../net/index.ts';
import type { ChainBackend, ChainUtxo, MempoolTx, TxStatus } from './types.ts';
import { readMempoolTx, readStatus, rejectionReason } from './esplora-parse.ts';
import {
  MAX_FEE_RATE_SAT_PER_VB,
  badResponse,
  feeRateToSatPerKvb,
  isHex,
  parseJson,
  readArray,
  readHash,
  readInteger,
  readObject,
  readSat,
  requireAddress,
  requireBlockHash,
  requireHeight,
  requireTxid,
} from './validate.ts';

export interface EsploraClientOptions {
  /** The API root, e.g. `https://mempool.space/api`. Userinfo and query are kept for requests and kept out of messages. */
  baseUrl: string;
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

/**
 * An Esplora client that parses every answer (the backend is untrusted) and follows the retry policy above.
 * Hashes and txids it returns are lowercase hex.
 */
export class EsploraClient implements ChainBackend {
  private readonly http: HttpClient;
  /** The backend as named in messages: scheme, host and port only, since userinfo, path and query may carry keys. */
  private readonly label: string;

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
    try {
      this.http = new HttpClient({
        baseUrl: opts.baseUrl,
        timeoutMs: opts.timeoutMs,
        retries: opts.retries,
        backoffMs: opts.backoffMs,
        maxRetryAfterMs: opts.maxRetryAfterMs,
        random: opts.random,
        sleep: opts.sleep,
        deadline: opts.deadline,
      });
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new AgentError('CONFIG_INVALID', e.message);
      throw e;
    }
    this.label = this.http.origin;
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
    const res = await this.get(path, `block ${id}`, MAX_BLOCK_BYTES, signal);
    const bytes = new Uint8Array(res.body); // a copy, detached from Buffer's pool
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
    let res: HttpResponse;
    try {
      res = await this.http.request({
        method: 'POST',
        path,
        headers: { 'Content-Type': 'text/plain' },
        body: txHex.toLowerCase(),
        maxBytes: MAX_BROADCAST_ANSWER_BYTES,
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      // Not before sending (checked above, and nothing awaited since): the POST may be on its way.
      if (signal?.aborted) throw unknown('aborted while sending');
      if (!isNetError(e)) throw unknown(e instanceof Error ? e.name : 'unexpected failure');
      if (e.kind === 'too_large') throw unknown(`answer larger than ${e.limit} bytes`);
      if (e.notSent) {
        throw new AgentError('CHAIN_UNAVAILABLE', `broadcast of ${txid} to ${this.label} was not sent (${e.reason})`, {
          txid,
          outcome: 'not_sent',
          endpoint: path,
        });
      }
      throw unknown(e.reason);
    }
    const { status } = res;
    const text = bodyText(res);
    if (status === 400) {
      const { reason, rpcCode } = rejectionReason(this.http.redact(text));
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

  // ---- Esplora over the shared client ----

  /** The start of an error body for a message: printable, short, and without our credentials (a server could echo them). */
  private snippet(body: Buffer): string {
    const short = printable(this.http.redact(body.subarray(0, 1000).toString('utf8'))).slice(0, 120);
    return short ? `: ${short}` : '';
  }

  private async getText(path: string, what: string, signal?: AbortSignal): Promise<string> {
    return bodyText(await this.get(path, what, MAX_TEXT_BYTES, signal));
  }

  private async getJson(path: string, what: string, signal?: AbortSignal): Promise<unknown> {
    return parseJson(await this.getText(path, what, signal), `GET ${path}`);
  }

  /** A GET under the shared retry policy; resolves only with a 2xx answer. `what` names the thing for CHAIN_NOT_FOUND. */
  private async get(path: string, what: string, maxBytes: number, signal?: AbortSignal): Promise<HttpResponse> {
    const at = `GET ${path}`;
    let res: HttpResponse;
    try {
      res = await this.http.request({ method: 'GET', path, maxBytes, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (!isNetError(e)) throw e;
      if (e.kind === 'too_large') return badResponse(at, `answered more than ${maxBytes} bytes`);
      throw this.unavailable(at, path, e.tries, e.reason);
    }
    const { status } = res;
    if (status >= 200 && status <= 299) return res;
    if (status === 404) throw new AgentError('CHAIN_NOT_FOUND', `chain backend has no ${what} (${at} answered 404)`, { endpoint: path });
    // The policy retried it already: this was the last try's answer.
    if (isRetryStatus(status)) throw this.unavailable(at, path, res.tries, `HTTP ${status}`);
    const said = this.snippet(res.body);
    if (status >= 500) {
      throw new AgentError('CHAIN_UNAVAILABLE', `chain backend ${this.label} failed ${at} with HTTP ${status}${said}`, { endpoint: path, status });
    }
    return badResponse(at, `answered HTTP ${status}${said}`);
  }

  private unavailable(at: string, path: string, tries: number, last: string): AgentError {
    return new AgentError('CHAIN_UNAVAILABLE', `chain backend ${this.label} did not answer ${at} after ${tries} tries (last: ${last})`, {
      endpoint: path,
      tries,
    });
  }
}
