/**
 * The customer's commands (issue 3): upload, download, status, topup. They speak only the public HTTP API
 * (API.md "Customers"), so they work against any agent, local or not; `--pay` uses the devnet's /v1/dev
 * endpoints so a demo on `npm start` is one command.
 *
 * The upload token is a secret that only this process holds: it is sent in the PUT's Authorization header and
 * is never printed or written to disk.
 */
import type { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { AgentError } from '../errors/index.ts';
import { ceilDiv, formatBtc, MSAT_PER_SAT, msatToSatCeil, parseSat, satToJson } from '../money/index.ts';
import {
  AgentApi,
  agentUrl,
  clean,
  devPayBody,
  IDLE_TIMEOUT_MS,
  parseFile,
  parseInfo,
  parseQuote,
  parseStored,
  parseTxid,
  parseUploadStatus,
  paymentDemand,
  putFile,
  readCapped,
  reason,
  remoteError,
  RemoteError,
  type FileStatus,
  type Quote,
  type UploadStatus,
} from './client.ts';
import { makeUi, onInterrupt, progress, qr, StatusLine, type Ui } from './ui.ts';

/** How often the payment wait asks the agent (API.md has no push; 2 s feels live without load). */
const POLL_MS = 2_000;
const GIB = 1024n ** 3n;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Content types for common extensions; anything else is sent without one and served as octet-stream. */
const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.7z': 'application/x-7z-compressed',
  '.wasm': 'application/wasm',
};

export function guessContentType(path: string): string | undefined {
  return CONTENT_TYPES[extname(path).toLowerCase()];
}

/** The file's name as the API accepts it (1..255 characters, no slash, backslash or control character), or none. */
function uploadFilename(path: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- the API's filename pattern excludes control characters
  const name = basename(path).replace(/[\u0000-\u001f\\/]/g, '_');
  return name === '' ? undefined : Array.from(name).slice(0, 255).join('');
}

function positiveInt(raw: string | undefined, flag: string, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^[1-9][0-9]*$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new AgentError('BAD_REQUEST', `${flag} must be a whole number from 1 to ${max}`);
  return n;
}

/** Millisatoshis as satoshis with up to three decimals, exactly ("-12.345"). */
export function msatAsSat(msat: bigint): string {
  const neg = msat < 0n;
  const abs = neg ? -msat : msat;
  const frac = (abs % MSAT_PER_SAT).toString().padStart(3, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / MSAT_PER_SAT}${frac ? `.${frac}` : ''}`;
}

/** A BIP21 URI for `address`, built on the agent's own (keeping its label), with `amountSat` when given. */
function withAmount(bip21: string, amountSat: bigint | undefined): string {
  const [head, query = ''] = bip21.split('?', 2);
  // The amount first, as the agent writes it, then whatever else the agent put there (its label).
  const q = new URLSearchParams();
  if (amountSat !== undefined && amountSat > 0n) q.set('amount', formatBtc(amountSat));
  for (const [k, v] of new URLSearchParams(query)) if (k !== 'amount') q.append(k, v);
  const qs = q.toString();
  return `${head ?? bip21}${qs ? `?${qs}` : ''}`;
}

function devnetOnly(base: string): AgentError {
  return new AgentError('DEVNET_ONLY', `--pay works only with a devnet agent (regtest on the embedded chain), and ${base} has no /v1/dev endpoints; pay the bitcoin: URI with a wallet instead`);
}

/**
 * Fails before anything is quoted when the agent is not a devnet. A devnet checks that it is one before it
 * validates a body, so an empty body costs nothing and tells them apart: 400 on a devnet, 404 anywhere else.
 */
async function requireDevnet(api: AgentApi): Promise<void> {
  try {
    await api.post('/v1/dev/pay', {});
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404) throw devnetOnly(api.base);
    if (e instanceof RemoteError && e.status === 400) return;
    throw e;
  }
}

/** Pays `amountSat` to `address` from the devnet's miner, confirms it in a block and lets the watcher see it now. */
async function devPay(api: AgentApi, address: string, amountSat: bigint): Promise<string> {
  let txid: string;
  try {
    txid = parseTxid(await api.post('/v1/dev/pay', devPayBody(address, amountSat)));
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404) throw devnetOnly(api.base);
    throw e;
  }
  await api.post('/v1/dev/mine', { blocks: 1 });
  await api.post('/v1/dev/jobs/watcher');
  return txid;
}

function paymentText(s: UploadStatus): string {
  const expired = s.state === 'expired' ? ' (the quote expired: the amount is now at current prices)' : '';
  return `waiting for payment: ${s.receivedSat} of ${s.amountSat} sat received, ${s.confirmedSat} confirmed${expired}`;
}

/** Polls the upload until its payment counts (received in full at the required confirmations). */
async function waitForPayment(api: AgentApi, q: Quote, ui: Ui, last: { status?: UploadStatus }): Promise<UploadStatus> {
  const line = new StatusLine(ui);
  const started = Date.now();
  try {
    for (;;) {
      let s: UploadStatus;
      try {
        // With the token: the agent names an upload's file only to the token's holder.
        s = parseUploadStatus(await api.get(`/v1/uploads/${encodeURIComponent(q.id)}`, { authorization: `Bearer ${q.uploadToken}` }));
      } catch (e) {
        // A long wait outlives an agent restart: say so and keep waiting, rather than losing the only copy of the token.
        if (e instanceof AgentError && e.code === 'AGENT_UNREACHABLE') {
          line.show(`the agent at ${api.base} does not answer; still waiting`);
          await sleep(POLL_MS);
          continue;
        }
        throw e;
      }
      last.status = s;
      if (s.id !== q.id) throw new AgentError('AGENT_BAD_RESPONSE', `asked for upload ${q.id}, the agent answered about ${clean(s.id)}`);
      if (s.state === 'paid') {
        line.show(`paid: ${s.receivedSat} of ${s.amountSat} sat received, ${s.confirmedSat} confirmed`);
        return s;
      }
      if (s.state === 'complete') throw new AgentError('UPLOAD_COMPLETE', `upload ${q.id} already has its file${s.fileId ? ` (${s.fileId})` : ''}`);
      line.show(paymentText(s), ` (${Math.floor((Date.now() - started) / 1000)} s)`);
      await sleep(POLL_MS);
    }
  } finally {
    line.end();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function showPayment(ui: Ui, uri: string): void {
  ui.say(`  ${uri}`);
  ui.say();
  ui.say(qr(uri));
  ui.say();
}

async function upload(ui: Ui, file: string, o: { days?: string; downloads?: string; url?: string; pay?: boolean }): Promise<void> {
  const days = positiveInt(o.days, '--days', 36_500);
  const downloads = positiveInt(o.downloads, '--downloads', 1_000_000);
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new AgentError('BAD_REQUEST', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!st.isFile()) throw new AgentError('BAD_REQUEST', `${file} is not a regular file`);
  if (st.size === 0) throw new AgentError('BAD_REQUEST', `${file} is empty; the agent hosts files of at least one byte`);
  const size = st.size;
  const api = new AgentApi(agentUrl(o.url));
  if (o.pay) await requireDevnet(api);

  const filename = uploadFilename(file);
  const contentType = guessContentType(file);
  const q = parseQuote(
    await api.post('/v1/uploads', {
      size,
      ...(days !== undefined ? { days } : {}),
      ...(downloads !== undefined ? { downloads } : {}),
      ...(filename !== undefined ? { filename } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    }),
  );
  // The id comes first, so whoever is interrupted can come back to it; the token never appears.
  const quoteJson = { uploadId: q.id, address: q.address, amountSat: satToJson(q.amountSat), bip21: q.bip21, expiresAt: q.expiresAt };
  ui.emit({ quote: quoteJson });
  ui.say(`upload ${q.id}: ${filename ?? file}, ${size} bytes, ${days ?? 1} day(s) of storage and ${downloads ?? 1} download(s)`);
  ui.say(`pay ${q.amountSat} sat (${formatBtc(q.amountSat)} BTC) to ${q.address} before ${q.expiresAt}:`);
  showPayment(ui, q.bip21);

  const last: { status?: UploadStatus } = {};
  const received = () => last.status?.receivedSat ?? 0n;
  const stopHint = onInterrupt(
    () =>
      [
        `interrupted while waiting for the payment of upload ${q.id}.`,
        `  storj status --upload ${q.id}${o.url ? ` --url ${api.base}` : ''}   shows what has arrived`,
        'The upload token lived only in this process (it is never saved), so no other run can send the file to this upload.',
        received() > 0n ? `${received()} sat had arrived at ${q.address}; they stay with upload ${q.id}.` : `Nothing had arrived: do not pay ${q.address}; run \`storj upload\` again to start over.`,
      ].join('\n'),
    // Once money is on its way, leaving would strand it (only this process can send the file): ask twice.
    () => (received() > 0n ? `${received()} sat have already arrived for upload ${q.id}, and only this process can send its file. Press Ctrl-C again to leave anyway.` : undefined),
  );
  let txid: string | undefined;
  try {
    if (o.pay) {
      txid = await devPay(api, q.address, q.amountSat);
      ui.say(`paid ${q.amountSat} sat from the devnet's miner (txid ${txid}) and mined a block`);
    }
    await waitForPayment(api, q, ui, last);
  } finally {
    stopHint();
  }

  const stopUploadHint = onInterrupt(() => `interrupted during the upload of ${q.id}: the agent keeps nothing of a partial upload.`);
  const bar = progress(ui, 'uploading', size);
  let sent;
  try {
    sent = await putFile(`${api.base}/v1/uploads/${encodeURIComponent(q.id)}`, q.uploadToken, file, size, (n) => bar.update(n));
  } finally {
    bar.stop();
    stopUploadHint();
  }
  const stored = parseStored(sent.reply);
  if (stored.size !== size) throw new AgentError('AGENT_BAD_RESPONSE', `the agent says it stored ${stored.size} bytes of ${size}`);
  if (stored.sha256 !== sent.sentSha256) {
    throw new AgentError('HASH_MISMATCH', `the agent stored sha256 ${stored.sha256} but the bytes sent hash to ${sent.sentSha256} (did ${file} change while it was sent?)`);
  }
  ui.say(`stored ${stored.size} bytes; sha256 ${stored.sha256} (checked)`);
  ui.say(`file   ${stored.fileId}`);
  ui.say(`link   ${stored.url}`);
  ui.say(`status: storj status ${stored.fileId}   download: storj download ${stored.url}`);
  ui.emit({ ...quoteJson, ...(txid ? { txid } : {}), fileId: stored.fileId, url: stored.url, size: stored.size, sha256: stored.sha256 });
}

/** The part of a Content-Disposition header that names the file, made safe to create in a directory. */
export function dispositionName(header: string | null): string | undefined {
  if (!header) return undefined;
  let name: string | undefined;
  const star = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(header);
  if (star?.[1]) {
    try {
      name = decodeURIComponent(star[1]);
    } catch {
      // malformed percent-encoding: fall back to the plain filename
    }
  }
  if (name === undefined) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
    name = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2];
  }
  return name === undefined ? undefined : safeName(name);
}

/**
 * The agent chooses the default name, and an agent may be hostile: keep only a last path component, without
 * control characters or leading dots (no `../x`, no hidden `.bashrc`).
 */
export function safeName(name: string): string | undefined {
  const last = clean(name.split(/[/\\]/).pop() ?? '').replace(/^[.\s]+/, '').trim();
  return last === '' ? undefined : Array.from(last).slice(0, 200).join('');
}

function linkTarget(target: string, urlFlag: string | undefined): { url: string; fileId: string | undefined } {
  if (/^https?:\/\//i.test(target)) {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw new AgentError('BAD_REQUEST', `${target} is not a valid URL`);
    }
    const m = /\/f\/([^/]+)\/?$/.exec(u.pathname);
    let fileId: string | undefined;
    try {
      fileId = m?.[1] ? decodeURIComponent(m[1]) : undefined;
    } catch {
      fileId = undefined;
    }
    return { url: u.toString(), fileId: fileId !== undefined && ID_RE.test(fileId) ? fileId : undefined };
  }
  if (ID_RE.test(target)) return { url: `${agentUrl(urlFlag)}/f/${target}`, fileId: target };
  throw new AgentError('BAD_REQUEST', `${target} is neither a link (http://.../f/FILE_ID) nor a file id`);
}

/** The ETag of a download, which the API sets to the file's sha256. */
function etagSha256(etag: string | null): string | undefined {
  const m = /^(?:W\/)?"?([0-9a-fA-F]{64})"?$/.exec(etag?.trim() ?? '');
  return m?.[1]?.toLowerCase();
}

function showDemand(ui: Ui, e: RemoteError, fileId: string | undefined): void {
  const d = paymentDemand(e);
  if (!d) return;
  const uri = d.bip21 ?? `bitcoin:${d.address}?amount=${formatBtc(d.amountSat)}`;
  ui.say(e.code === 'FILE_FROZEN' ? "This file's balance is negative, so it is frozen." : "This file's balance cannot cover this download.");
  ui.say(`Top up: pay ${d.amountSat} sat (${formatBtc(d.amountSat)} BTC) to ${d.address}:`);
  showPayment(ui, uri);
  if (fileId) ui.say(`then \`storj download\` again (\`storj status ${fileId}\` shows the balance)`);
}

async function download(ui: Ui, target: string, o: { output?: string; url?: string }): Promise<void> {
  const { url, fileId } = linkTarget(target, o.url);
  // Where the bytes go. The temp file is made first, next to the destination (so the final rename stays on one
  // file system), so a bad path fails before any byte is paid for.
  const explicit = o.output === undefined ? undefined : resolve(o.output);
  const intoDir = explicit !== undefined && existsSync(explicit) && statSync(explicit).isDirectory();
  const dir = explicit === undefined ? process.cwd() : intoDir ? explicit : dirname(explicit);
  const tmp = join(dir, `.storj-download-${randomBytes(6).toString('hex')}.part`);
  let handle;
  try {
    handle = await open(tmp, 'wx');
  } catch (e) {
    throw new AgentError('BAD_REQUEST', `cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const removeTmp = () => rm(tmp, { force: true });
  const stopHint = onInterrupt(async () => {
    await removeTmp();
    return 'interrupted: the partial download was deleted (only the bytes sent were charged).';
  });
  const ctl = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => ctl.abort(new AgentError('AGENT_UNREACHABLE', `the download stalled: nothing arrived for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
  };
  let bar: ReturnType<typeof progress> | undefined;
  try {
    touch();
    let res: Response;
    try {
      res = await fetch(url, { signal: ctl.signal, headers: { accept: '*/*' } });
    } catch (e) {
      throw ctl.signal.reason instanceof AgentError ? ctl.signal.reason : new AgentError('AGENT_UNREACHABLE', `no answer from ${new URL(url).origin} (${reason(e)})`, undefined, { cause: e });
    }
    if (!res.ok || !res.body) {
      const e = remoteError(res.status, await readCapped(res));
      if (e.status === 402) showDemand(ui, e, fileId);
      throw e;
    }
    const expected = etagSha256(res.headers.get('etag'));
    if (!expected) {
      ctl.abort();
      throw new AgentError('AGENT_BAD_RESPONSE', 'the answer has no sha256 ETag, so its bytes cannot be checked; nothing was kept');
    }
    const lengthHeader = res.headers.get('content-length');
    const length = lengthHeader !== null && /^[0-9]{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const name = dispositionName(res.headers.get('content-disposition')) ?? fileId ?? 'download';
    const dest = explicit !== undefined && !intoDir ? explicit : join(dir, name);
    // A name the agent chose never replaces an existing file; a path the user chose (-o) does.
    if (explicit === undefined && existsSync(dest)) {
      ctl.abort();
      throw new AgentError('CONFLICT', `${dest} already exists; choose a path with -o`);
    }
    const hash = createHash('sha256');
    let received = 0;
    bar = progress(ui, 'downloading', length);
    const b = bar;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        touch();
        hash.update(chunk);
        received += chunk.length;
        b.update(received);
        cb(null, chunk);
      },
    });
    try {
      // flush: fsync before the stream closes the file, so what is renamed into place is on disk.
      await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), counter, handle.createWriteStream({ flush: true }));
    } catch (e) {
      throw ctl.signal.reason instanceof AgentError ? ctl.signal.reason : new AgentError('AGENT_UNREACHABLE', `the download broke off after ${received} bytes (${reason(e)}); nothing was kept`, undefined, { cause: e });
    }
    handle = undefined; // closed by its stream
    b.stop();
    if (length !== undefined && received !== length) throw new AgentError('AGENT_BAD_RESPONSE', `got ${received} of ${length} bytes; nothing was kept`);
    const got = hash.digest('hex');
    if (got !== expected) {
      throw new AgentError('HASH_MISMATCH', `the bytes received hash to sha256 ${got}, not ${expected} as the ETag says; the download was deleted`);
    }
    await rename(tmp, dest);
    ui.say(`saved ${dest} (${received} bytes, sha256 ${got} checked)`);
    ui.emit({ path: dest, ...(fileId ? { fileId } : {}), url, size: received, sha256: got });
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await removeTmp();
    throw e;
  } finally {
    clearTimeout(idle);
    bar?.stop();
    stopHint();
  }
}

function fileJson(f: FileStatus, base: string): Record<string, unknown> {
  return {
    fileId: f.fileId,
    state: f.state,
    size: f.size,
    sha256: f.sha256,
    filename: f.filename,
    contentType: f.contentType,
    balanceMsat: f.balanceMsat.toString(),
    balanceSat: satToJson(f.balanceMsat >= 0n ? f.balanceMsat / MSAT_PER_SAT : -msatToSatCeil(-f.balanceMsat)),
    address: f.address,
    bip21: f.bip21,
    fundedUntil: f.fundedUntil,
    ...(f.deleteAt ? { deleteAt: f.deleteAt } : {}),
    url: `${base}/f/${f.fileId}`,
  };
}

function showFile(ui: Ui, f: FileStatus, base: string): void {
  ui.say(`file          ${f.fileId}${f.filename ? `  ${f.filename}` : ''} (${f.size} bytes${f.contentType ? `, ${f.contentType}` : ''})`);
  ui.say(`state         ${f.state}`);
  ui.say(`balance       ${f.balanceMsat} msat (${msatAsSat(f.balanceMsat)} sat)`);
  ui.say(`funded until  ${f.fundedUntil}`);
  if (f.deleteAt) ui.say(`deleted at    ${f.deleteAt} unless topped up`);
  ui.say(`top-up        ${f.address}`);
  ui.say(`sha256        ${f.sha256}`);
  if (f.state !== 'deleted') ui.say(`link          ${base}/f/${f.fileId}`);
}

async function getFile(api: AgentApi, fileId: string): Promise<FileStatus> {
  const f = parseFile(await api.get(`/v1/files/${encodeURIComponent(fileId)}`));
  if (f.fileId !== fileId) throw new AgentError('AGENT_BAD_RESPONSE', `asked for file ${fileId}, the agent answered about ${f.fileId}`);
  return f;
}

function checkId(id: string, what: string): string {
  if (!ID_RE.test(id)) throw new AgentError('BAD_REQUEST', `${clean(id)} is not ${what}`);
  return id;
}

async function status(ui: Ui, id: string, o: { upload?: boolean; url?: string }): Promise<void> {
  const api = new AgentApi(agentUrl(o.url));
  if (o.upload) {
    const s = parseUploadStatus(await api.get(`/v1/uploads/${encodeURIComponent(checkId(id, 'an upload id'))}`));
    ui.say(`upload        ${s.id}`);
    ui.say(`state         ${s.state}`);
    ui.say(`payment       ${s.receivedSat} of ${s.amountSat} sat received, ${s.confirmedSat} confirmed`);
    const upload = { uploadId: s.id, state: s.state, amountSat: satToJson(s.amountSat), receivedSat: satToJson(s.receivedSat), confirmedSat: satToJson(s.confirmedSat) };
    if (!s.fileId) {
      // The agent names the file only to the holder of the upload token, which lived only in `storj upload`.
      if (s.state === 'complete') ui.say('file          uploaded; its link is the one `storj upload` printed');
      ui.emit({ upload });
      return;
    }
    const f = await getFile(api, s.fileId);
    ui.say();
    showFile(ui, f, api.base);
    ui.emit({ upload: { ...upload, fileId: s.fileId }, file: fileJson(f, api.base) });
    return;
  }
  const f = await getFile(api, checkId(id, 'a file id'));
  showFile(ui, f, api.base);
  ui.emit(fileJson(f, api.base));
}

/**
 * What to pay when no amount is given: the debt, if the balance is negative, plus what a fresh quote for this
 * file would ask (a day of storage and one download at today's prices, and at least the minimum deposit).
 */
function suggestedTopUp(f: FileStatus, p: { storageMsatPerGibDay: bigint; egressMsatPerGib: bigint; minimumDepositSat: bigint }): { amountSat: bigint; debtSat: bigint } {
  const debtSat = f.balanceMsat < 0n ? msatToSatCeil(-f.balanceMsat) : 0n;
  const size = BigInt(f.size);
  const serviceSat = ceilDiv(ceilDiv(size * p.storageMsatPerGibDay, GIB) + ceilDiv(size * p.egressMsatPerGib, GIB), MSAT_PER_SAT);
  return { amountSat: debtSat + (serviceSat > p.minimumDepositSat ? serviceSat : p.minimumDepositSat), debtSat };
}

async function topup(ui: Ui, fileId: string, o: { amount?: string; pay?: boolean; url?: string }): Promise<void> {
  const amount = o.amount === undefined ? undefined : parseSat(o.amount.trim(), '--amount');
  if (amount === 0n) throw new AgentError('AMOUNT_INVALID', '--amount must be at least 1 sat');
  const api = new AgentApi(agentUrl(o.url));
  const f = await getFile(api, checkId(fileId, 'a file id'));
  if (f.state === 'deleted') throw new AgentError('FILE_DELETED', `file ${f.fileId} was deleted; a payment to ${f.address} would not bring it back`);
  const suggestion = suggestedTopUp(f, parseInfo(await api.get('/v1/info')));
  const uri = withAmount(f.bip21, amount);
  ui.say(`file ${f.fileId} is ${f.state}; balance ${f.balanceMsat} msat (${msatAsSat(f.balanceMsat)} sat), funded until ${f.fundedUntil}`);
  ui.say(
    `suggested top-up: ${suggestion.amountSat} sat (${suggestion.debtSat > 0n ? `clears the debt of ${suggestion.debtSat} sat and pays ` : 'pays '}a day of storage and one download at today's prices)`,
  );
  if (!o.pay) {
    ui.say(`Anyone can pay its address to keep it online${amount !== undefined ? `; ${amount} sat (${formatBtc(amount)} BTC)` : ''}:`);
    showPayment(ui, uri);
    ui.emit({ fileId: f.fileId, state: f.state, balanceMsat: f.balanceMsat.toString(), address: f.address, bip21: uri, ...(amount !== undefined ? { amountSat: satToJson(amount) } : {}), suggestedSat: satToJson(suggestion.amountSat) });
    return;
  }
  const paySat = amount ?? suggestion.amountSat;
  const txid = await devPay(api, f.address, paySat);
  const after = await getFile(api, f.fileId);
  ui.say(`paid ${paySat} sat from the devnet's miner (txid ${txid}) and mined a block`);
  ui.say(`file ${after.fileId} is ${after.state}; balance ${after.balanceMsat} msat (${msatAsSat(after.balanceMsat)} sat), funded until ${after.fundedUntil}`);
  ui.emit({ ...fileJson(after, api.base), paidSat: satToJson(paySat), txid });
}

/** Adds upload, download, status and topup to `program`; `json` reads the global --json flag. */
export function registerCustomerCommands(program: Command, opts: { json: () => boolean }): void {
  const urlHelp = 'the agent (default: STORJ_URL, else http://STORJ_LISTEN, else http://127.0.0.1:8420)';
  program
    .command('upload')
    .description('quote, wait for the payment (showing a bitcoin: URI and its QR code), upload, and print the link')
    .argument('<file>')
    .option('--days <n>', 'days of storage to prepay (default 1)')
    .option('--downloads <n>', 'full downloads to prepay (default 1)')
    .option('--url <agentUrl>', urlHelp)
    .option('--pay', "devnet only: pay from the devnet's miner and confirm, so the whole upload is one command")
    .action((file: string, o: { days?: string; downloads?: string; url?: string; pay?: boolean }) => upload(makeUi(opts.json()), file, o));
  program
    .command('download')
    .description('download a link (or a file id, with --url), checking its sha256 against the ETag')
    .argument('<link>', 'http(s)://AGENT/f/FILE_ID, or a bare FILE_ID')
    .option('-o, --output <path>', 'where to save (a file or a directory; default: the name the agent gives, else the file id)')
    .option('--url <agentUrl>', urlHelp)
    .action((link: string, o: { output?: string; url?: string }) => download(makeUi(opts.json()), link, o));
  program
    .command('status')
    .description("a file's state, balance, funded-until date and top-up address")
    .argument('<id>', 'a file id (or an upload id with --upload)')
    .option('--upload', 'ID is an upload id: show its payment, and its file once uploaded')
    .option('--url <agentUrl>', urlHelp)
    .action((id: string, o: { upload?: boolean; url?: string }) => status(makeUi(opts.json()), id, o));
  program
    .command('topup')
    .description("show a file's top-up address as a bitcoin: URI and QR code (anyone may pay it)")
    .argument('<fileId>')
    .option('--amount <sat>', 'amount in satoshis to put in the URI (and to pay with --pay)')
    .option('--pay', "devnet only: pay it from the devnet's miner (default amount: the suggested top-up) and confirm")
    .option('--url <agentUrl>', urlHelp)
    .action((fileId: string, o: { amount?: string; pay?: boolean; url?: string }) => topup(makeUi(opts.json()), fileId, o));
}
