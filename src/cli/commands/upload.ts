/**
 * `storj upload`: quote, wait for the payment (showing a bitcoin: URI and its QR code), upload, print the link.
 * `--pay` has the devnet's miner pay, so a demo on `npm start` is one command.
 *
 * The upload token is a secret that only this process holds: it is sent in the Authorization header of the tus
 * requests that carry the file (docs/uploads.md) and is never printed or written to disk.
 *
 * `--encrypt` encrypts the file as it is sent (docs/encryption.md), with a new key that only the printed link
 * carries, after its `#`. The quote is for the ciphertext's size, and the agent is told neither the file's name
 * nor its media type: both are sealed inside the file.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import mime from 'mime-types';
import { ciphertextSize, newKey, shareLink, SliceEncryptor } from '../../e2e/index.ts';
import { AgentError } from '../../errors/index.ts';
import { formatBtc, satToJson } from '../../money/index.ts';
import { AgentApi, agentUrl, clean } from '../client/api.ts';
import { devPay, requireDevnet } from '../client/devnet.ts';
import { parseQuote, parseUploadStatus, type Quote, type UploadStatus } from '../client/parse.ts';
import { encryptedFileSource, fileSource, tusUpload } from '../client/tus.ts';
import { paymentText, showPayment } from '../render/text.ts';
import { onInterrupt, progress, StatusLine, type Ui } from '../render/ui.ts';

/** How often the payment wait asks the agent (the API has no push; 2 s feels live without load). */
const POLL_MS = 2_000;

/** The media type of a file, by its extension (mime-db's table, through mime-types); none when unknown. */
export function guessContentType(path: string): string | undefined {
  return mime.lookup(path) || undefined;
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

/** `name` cut, by whole characters, to what the sealed metadata holds beside a media type (docs/encryption.md). */
function sealedName(name: string): string {
  const chars = Array.from(name);
  while (Buffer.byteLength(chars.join('')) > 900) chars.pop();
  return chars.join('');
}

export async function upload(ui: Ui, file: string, o: { days?: string; downloads?: string; url?: string; pay?: boolean; encrypt?: boolean }): Promise<void> {
  const days = positiveInt(o.days, '--days', 36_500);
  const downloads = positiveInt(o.downloads, '--downloads', 1_000_000);
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new AgentError('BAD_REQUEST', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!st.isFile()) throw new AgentError('BAD_REQUEST', `${file} is not a regular file`);
  // An encrypted empty file is not empty: it is a header and one sealed empty record.
  if (st.size === 0 && !o.encrypt) throw new AgentError('BAD_REQUEST', `${file} is empty; the agent hosts files of at least one byte`);
  const plainSize = st.size;
  const key = o.encrypt ? newKey() : undefined;
  const size = key ? ciphertextSize(plainSize) : plainSize;
  const api = new AgentApi(agentUrl(o.url));
  if (o.pay) await requireDevnet(api);

  const filename = uploadFilename(file);
  const contentType = guessContentType(file);
  const q = parseQuote(
    await api.post('/v1/uploads', {
      size,
      ...(days !== undefined ? { days } : {}),
      ...(downloads !== undefined ? { downloads } : {}),
      ...(filename !== undefined && !key ? { filename } : {}),
      ...(contentType !== undefined && !key ? { contentType } : {}),
    }),
  );
  // The id comes first, so whoever is interrupted can come back to it; the token never appears.
  const quoteJson = { uploadId: q.id, address: q.address, amountSat: satToJson(q.amountSat), bip21: q.bip21, expiresAt: q.expiresAt };
  ui.emit({ quote: quoteJson });
  const sizeText = key ? `${plainSize} bytes, ${size} encrypted (the name and type are sealed inside)` : `${size} bytes`;
  ui.say(`upload ${q.id}: ${filename ?? file}, ${sizeText}, ${days ?? 1} day(s) of storage and ${downloads ?? 1} download(s)`);
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

  const stopUploadHint = onInterrupt(() => `interrupted during the upload of ${q.id}: the agent keeps the bytes it has, but only this process holds the upload token to send the rest.`);
  const bar = progress(ui, 'uploading', size);
  let sent;
  try {
    // Sent through the agent's tus endpoint, in pieces, resumed after a dropped connection or an agent restart
    // (src/cli/client/tus.ts). An encrypted file is sealed record by record where a slice asks (so a resume
    // can start anywhere): with its key and salt fixed, the same bytes come out.
    const source = key
      ? await encryptedFileSource(file, new SliceEncryptor({ key, size: plainSize, name: sealedName(filename ?? ''), contentType: contentType ?? '' }))
      : await fileSource(file, size);
    sent = await tusUpload(api.base, q.id, q.uploadToken, source, (n) => bar.update(n));
  } finally {
    bar.stop();
    stopUploadHint();
  }
  const { stored } = sent;
  if (stored.size !== size) throw new AgentError('AGENT_BAD_RESPONSE', `the agent says it stored ${stored.size} bytes of ${size}`);
  if (stored.sha256 !== sent.sentSha256) {
    throw new AgentError('HASH_MISMATCH', `the agent stored sha256 ${stored.sha256} but the bytes sent hash to ${sent.sentSha256} (did ${file} change while it was sent?)`);
  }
  ui.say(`stored ${stored.size} bytes; sha256 ${stored.sha256} (checked)`);
  // The key exists only here and in the link: the agent never had it, and nothing else keeps it.
  const link = key ? shareLink(stored.url, key) : stored.url;
  ui.say(`file   ${stored.fileId}`);
  ui.say(`link   ${link}`);
  if (key) ui.say('The key is the part after #: whoever has the whole link can decrypt, and without it nobody can (the agent included).');
  // Quoted: some shells read a # inside a word as a pattern.
  ui.say(`status: storj status ${stored.fileId}   download: storj download ${key ? `'${link}'` : link}`);
  ui.emit({ ...quoteJson, ...(txid ? { txid } : {}), fileId: stored.fileId, url: link, size: stored.size, sha256: stored.sha256, ...(key ? { encrypted: true, plainSize } : {}) });
}
