// The upload page (/): pick a file, see the price, get a quote, pay it (QR code, copy buttons, live status; on the
// devnet a button that pays), upload, and get the share link. Encrypted in the browser unless the box is unticked.
// The quote is kept in this tab's sessionStorage (./pending.js) until the link is shown: after a reload the page
// goes back to the payment, then asks for the same file again and resumes the upload.
import { $, element, loadE2e, api, ApiError, btc, bytesText, dateText, pause, satText, showError, showQr, wireCopyButtons } from './common.js';
import { clearPending, fromHex, loadPending, mismatch, probeOf, savePending, toHex } from './pending.js';
import { estimateSat } from './price.js';
import { uploadFile } from './upload.js';

const POLL_MS = 2000;
const devnet = document.documentElement.dataset.devnet === 'true';
const form = element('pick', HTMLFormElement);
const fileInput = element('file', HTMLInputElement);
const daysInput = element('days', HTMLInputElement);
const downloadsInput = element('downloads', HTMLInputElement);
const encryptBox = element('encrypt', HTMLInputElement);
const estimate = $('estimate');
const continueButton = element('continue', HTMLButtonElement);

/**
 * @typedef {import('./common.js').Info} Info
 * @typedef {import('./common.js').Quote} Quote
 * @typedef {import('./common.js').UploadStatus} UploadStatus
 * @typedef {import('./common.js').FileView} FileView
 * @typedef {{ file: File, days: number, downloads: number, encrypt: boolean, size: number }} Choice
 * @typedef {import('./pending.js').Pending} Pending
 */

/** @type {Info | undefined} */
let info;
/** @type {import('./common.js').E2e | undefined} The browser encryption module (./e2e.js), once loaded; undefined where it is missing. */
let e2e;

/**
 * The days or downloads field as a whole number in its range, or undefined.
 * @param {HTMLInputElement} input
 */
function whole(input) {
  const n = Number(input.value);
  return Number.isSafeInteger(n) && n >= Number(input.min) && n <= Number(input.max) ? n : undefined;
}

/**
 * What the quote will be for: the bytes sent (the ciphertext's size when encrypting), days and downloads.
 * @returns {Choice | undefined}
 */
function choice() {
  const file = fileInput.files?.[0];
  const days = whole(daysInput);
  const downloads = whole(downloadsInput);
  if (!file || days === undefined || downloads === undefined || file.size === 0) return undefined;
  const encrypt = encryptBox.checked && e2e !== undefined;
  return { file, days, downloads, encrypt, size: e2e && encrypt ? e2e.encryptedSize(file.size) : file.size };
}

function updateEstimate() {
  const c = choice();
  continueButton.disabled = !c || !info;
  if (!info) return;
  const file = fileInput.files?.[0];
  if (!file) estimate.textContent = 'Pick a file to see the price.';
  else if (file.size === 0) estimate.textContent = 'This file is empty: there is nothing to store.';
  else if (!c) estimate.textContent = 'Days and downloads are whole numbers from 1.';
  else if (c.size > info.maxFileSize) {
    estimate.textContent = `This agent takes files up to ${bytesText(info.maxFileSize)}.`;
    continueButton.disabled = true;
  } else {
    const sat = estimateSat(c.size, c.days, c.downloads, info.prices);
    estimate.textContent = `${satText(sat)} (${btc(sat)} BTC) for ${bytesText(file.size)}, ${c.days} day${c.days === 1 ? '' : 's'}, ${c.downloads} download${c.downloads === 1 ? '' : 's'}`;
  }
}

/**
 * A filename the agent accepts (no slash, backslash or control character, at most 255 characters).
 * @param {string} name
 */
function safeName(name) {
  const safe = Array.from(name, (ch) => (ch === '/' || ch === '\\' || ch.charCodeAt(0) < 0x20 ? '_' : ch));
  return safe.slice(0, 255).join('') || 'file';
}

/**
 * The quote's body: an encrypted file's name and type are sealed inside it, so the agent gets neither.
 * @param {Choice} c
 */
function quoteBody(c) {
  /** @type {{ size: number, days: number, downloads: number, filename?: string, contentType?: string }} */
  const body = { size: c.size, days: c.days, downloads: c.downloads };
  if (c.encrypt) return body;
  body.filename = safeName(c.file.name);
  if (/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(c.file.type)) body.contentType = c.file.type;
  return body;
}

const SECTIONS = ['pick', 'pay', 'resume', 'upload', 'done'];
const startOver = element('start-over', HTMLButtonElement);

/** @param {string} section */
function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
  // Starting over is offered while a quote waits for its payment or its file; never during the upload itself.
  $('start-over-box').hidden = section !== 'pay' && section !== 'resume';
}

/** A pending upload the agent no longer takes (expired, unknown, its token refused): the page starts afresh. */
class Gone extends Error {}

/**
 * Polls the upload's payment until it counts, showing what has arrived.
 * @param {Pending} p
 * @param {AbortSignal} signal
 * @returns {Promise<UploadStatus>} the last status
 */
async function waitForPayment(p, signal) {
  const status = $('pay-status');
  for (;;) {
    const s = /** @type {UploadStatus | undefined} */ (
      await api('GET', `/v1/uploads/${p.id}`, { token: p.token }).catch((/** @type {unknown} */ e) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) throw new Gone(`The agent does not know this upload (${e.code}). Start again for a new quote.`);
        status.textContent = `Could not reach the agent (${e instanceof Error ? e.message : String(e)}); retrying…`;
        return undefined;
      })
    );
    signal.throwIfAborted();
    if (s) {
      if (s.state === 'expired') throw new Gone('The quote expired before it was paid. Start again for a new quote.');
      const unconfirmed = BigInt(s.receivedSat) - BigInt(s.confirmedSat);
      const needed = info ? ` (${info.confirmations.required} confirmation${info.confirmations.required === 1 ? '' : 's'} needed)` : '';
      status.textContent =
        BigInt(s.receivedSat) === 0n
          ? `Waiting for the payment of ${satText(s.amountSat)}…`
          : `Received ${satText(s.receivedSat)} of ${satText(s.amountSat)}: ${satText(s.confirmedSat)} confirmed, ${satText(unconfirmed)} unconfirmed` +
            (s.state === 'awaiting_payment' ? `${needed}.` : '.');
      if (s.state === 'paid' || s.state === 'complete') return s;
    }
    await pause(POLL_MS);
    signal.throwIfAborted();
  }
}

/**
 * The devnet's miner pays the quote, mines a block and lets the watcher see it now (as `storj upload --pay`).
 * @param {Pending} p
 */
async function devnetPay(p) {
  const button = element('devpay', HTMLButtonElement);
  button.disabled = true;
  button.textContent = 'Paying…';
  try {
    await api('POST', '/v1/dev/pay', { body: { address: p.address, amountSat: p.amountSat } });
    await api('POST', '/v1/dev/mine', { body: { blocks: 1 } });
    await api('POST', '/v1/dev/jobs/watcher');
    button.textContent = 'Paid with devnet';
  } catch (e) {
    button.disabled = false;
    button.textContent = 'Pay with devnet';
    showError(e);
  }
}

/**
 * The payment step of a quote: its QR code, amount, address and URI (the status line is waitForPayment's).
 * @param {Pending} p
 */
function showPayment(p) {
  show('pay');
  $('amount-sat').textContent = satText(p.amountSat);
  $('amount-btc').textContent = btc(p.amountSat);
  $('address').textContent = p.address;
  $('uri').textContent = p.bip21;
  showQr(element('qr', HTMLImageElement), p.bip21);
  if (devnet) {
    const button = element('devpay', HTMLButtonElement);
    button.hidden = false;
    // One handler, this quote's: a new quote replaces it.
    if (button.dataset.quote !== p.id) {
      button.dataset.quote = p.id;
      button.disabled = false;
      button.textContent = 'Pay with devnet';
    }
    button.onclick = () => void devnetPay(p);
  }
}

/**
 * Asks for the file of `p` again (the page lost it: it was reloaded, or the upload stopped) and resolves with it
 * once the person picks the same file: same name, size, date and ends (./pending.js mismatch).
 * @param {Pending} p
 * @param {AbortSignal} signal
 * @returns {Promise<File>}
 */
function repick(p, signal) {
  show('resume');
  $('resume-name').textContent = p.name;
  $('resume-size').textContent = bytesText(p.size);
  const input = element('resume-file', HTMLInputElement);
  const status = $('resume-status');
  input.value = '';
  status.textContent = '';
  return new Promise((resolve, reject) => {
    const onChange = () => {
      const file = input.files?.[0];
      if (!file) return;
      status.textContent = 'Checking the file…';
      void mismatch(p, file, bytesText).then((why) => {
        if (signal.aborted || input.files?.[0] !== file) return;
        status.textContent = why ?? '';
        if (why) return;
        done();
        showError(undefined);
        resolve(file);
      });
    };
    const onAbort = () => {
      done();
      reject(signal.reason instanceof Error ? signal.reason : new DOMException('stopped', 'AbortError'));
    };
    const done = () => {
      input.removeEventListener('change', onChange);
      signal.removeEventListener('abort', onAbort);
    };
    input.addEventListener('change', onChange);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Uploads `file` for `p`: tus resumes it from the agent's offset when an earlier try of this upload stopped.
 * @param {Pending} p
 * @param {File} file
 * @param {AbortSignal} signal
 */
async function send(p, file, signal) {
  show('upload');
  const bar = element('progress', HTMLProgressElement);
  const status = $('upload-status');
  bar.value = 0;
  status.textContent = '';
  let source = /** @type {Blob | import('./common.js').Source} */ (file);
  if (p.key !== undefined && p.salt !== undefined) {
    if (!e2e) throw new Error('This upload is encrypted, and the encryption module (e2e.js) did not load: reload the page to try again.');
    source = await e2e.encryptedSource(file, e2e.decodeKey(p.key), { name: p.name, type: p.type }, fromHex(p.salt));
  }
  return uploadFile({
    uploadId: p.id,
    token: p.token,
    source,
    size: p.uploadSize,
    signal,
    onProgress: (sent, size) => {
      bar.value = size > 0 ? sent / size : 1;
      status.textContent = `${bytesText(sent)} of ${bytesText(size)}`;
    },
  });
}

/**
 * From a quote (new, or kept across a reload) to the link: the payment, the file (picked again if the page lost
 * it), the upload. An upload that fails asks for the file again and goes on from the agent's offset.
 * @param {Pending} p
 * @param {File | undefined} file
 * @param {AbortSignal} signal
 */
async function proceed(p, file, signal) {
  /** @type {string | undefined} */
  let fileId;
  while (fileId === undefined) {
    signal.throwIfAborted();
    showPayment(p);
    const paid = await waitForPayment(p, signal);
    if (paid.state === 'complete' && paid.fileId) {
      fileId = paid.fileId;
      break;
    }
    file ??= await repick(p, signal);
    try {
      fileId = (await send(p, file, signal)).fileId;
    } catch (e) {
      signal.throwIfAborted();
      const code = /** @type {{ code?: unknown }} */ (e).code;
      if (code === 'UNAUTHORIZED' || code === 'NOT_FOUND') throw new Gone(`The agent refused this upload (${String(code)}). Start again for a new quote.`);
      showError(e);
      // Not paid after all, or already stored: the status says so. Anything else: the file again, then a resume.
      if (code === 'PAYMENT_REQUIRED') await pause(POLL_MS);
      else if (code !== 'UPLOAD_COMPLETE') file = undefined;
    }
  }
  clearPending();
  showError(undefined);
  // The link: the file's page; an encrypted file's key only after the #, which no request carries.
  const link = `${location.origin}/s/${fileId}${p.key ? `#${p.key}` : ''}`;
  const a = element('link', HTMLAnchorElement);
  a.href = link;
  a.textContent = link;
  $('done-note').textContent = p.key
    ? 'Anyone with this link can download and decrypt the file. The key is the part after the #: keep it, the agent cannot give it back.'
    : 'Anyone with this link can download the file.';
  const view = /** @type {FileView | undefined} */ (await api('GET', `/v1/files/${fileId}`).catch(() => undefined));
  $('funded').textContent = view ? dateText(view.fundedUntil) : 'the end of the days paid';
  show('done');
}

/**
 * A new quote for `c`, remembered in this tab (./pending.js) before its payment is asked for.
 * @param {Choice} c
 * @returns {Promise<Pending>}
 */
async function newQuote(c) {
  const sealer = c.encrypt ? e2e : undefined;
  const probe = await probeOf(c.file);
  const quote = /** @type {Quote} */ (await api('POST', '/v1/uploads', { body: quoteBody(c) }));
  /** @type {Pending} */
  const p = {
    id: quote.id, token: quote.uploadToken, address: quote.address, amountSat: quote.amountSat, bip21: quote.bip21,
    name: c.file.name, type: c.file.type, size: c.file.size, lastModified: c.file.lastModified, probe,
    days: c.days, downloads: c.downloads, uploadSize: c.size,
    ...(sealer ? { key: sealer.encodeKey(sealer.newFileKey()), salt: toHex(sealer.newSalt()) } : {}),
  };
  savePending(p);
  return p;
}

/** @type {AbortController | undefined} The flow under way; starting over stops it. */
let flow;

/**
 * Runs `steps` as the page's one flow; its end or failure brings the page back to the form.
 * @param {(signal: AbortSignal) => Promise<void>} steps
 */
function begin(steps) {
  flow?.abort();
  const controller = new AbortController();
  flow = controller;
  showError(undefined);
  steps(controller.signal).catch((/** @type {unknown} */ e) => {
    if (controller.signal.aborted) return;
    if (e instanceof Gone) clearPending();
    showError(e);
    show('pick');
    updateEstimate();
  });
}

async function start() {
  wireCopyButtons();
  // A quote this tab made before a reload: back to its payment at once, while the rest loads.
  const pending = loadPending();
  if (pending) showPayment(pending);
  for (const input of [fileInput, daysInput, downloadsInput, encryptBox]) input.addEventListener('input', updateEstimate);
  encryptBox.addEventListener('change', updateEstimate);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const c = choice();
    if (!c || !info) return;
    continueButton.disabled = true;
    begin(async (signal) => proceed(await newQuote(c), c.file, signal));
  });
  startOver.addEventListener('click', () => {
    flow?.abort();
    flow = undefined;
    clearPending();
    showError(undefined);
    show('pick');
    updateEstimate();
  });
  // Encryption in the browser (./e2e.js); without it the box is off, and says why.
  try {
    e2e = await loadE2e();
  } catch {
    encryptBox.checked = false;
    encryptBox.disabled = true;
    encryptBox.title = 'This agent does not serve the browser encryption module.';
  }
  try {
    const i = /** @type {Info} */ (await api('GET', '/v1/info'));
    info = i;
    $('network').textContent = i.network === 'mainnet' ? '' : `This agent runs on ${i.network}${devnet ? ' (devnet): its coins are worthless' : ''}.`;
  } catch (e) {
    showError(e);
  }
  updateEstimate();
  if (pending) begin((signal) => proceed(pending, undefined, signal));
}

void start();
