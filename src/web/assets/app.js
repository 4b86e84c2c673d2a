// The upload page (/): pick a file, see the price, get a quote, pay it (QR code, copy buttons, live status; on the
// devnet a button that pays), upload, and get the share link. Encrypted in the browser unless the box is unticked.
import { $, element, loadE2e, api, btc, bytesText, dateText, pause, satText, showError, showQr, wireCopyButtons } from './common.js';
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

/** @param {string} section */
function show(section) {
  for (const id of ['pick', 'pay', 'upload', 'done']) $(id).hidden = id !== section;
}

/**
 * Polls the upload's payment until it counts, showing what has arrived.
 * @param {Quote} quote
 * @param {Info} info
 * @returns {Promise<UploadStatus>} the last status
 */
async function waitForPayment(quote, info) {
  const status = $('pay-status');
  for (;;) {
    const s = /** @type {UploadStatus | undefined} */ (
      await api('GET', `/v1/uploads/${quote.id}`, { token: quote.uploadToken }).catch((/** @type {unknown} */ e) => {
        status.textContent = `Could not reach the agent (${e instanceof Error ? e.message : String(e)}); retrying…`;
        return undefined;
      })
    );
    if (s) {
      if (s.state === 'expired') throw new Error('The quote expired before it was paid. Start again for a new quote.');
      const unconfirmed = BigInt(s.receivedSat) - BigInt(s.confirmedSat);
      status.textContent =
        BigInt(s.receivedSat) === 0n
          ? `Waiting for the payment of ${satText(s.amountSat)}…`
          : `Received ${satText(s.receivedSat)} of ${satText(s.amountSat)}: ${satText(s.confirmedSat)} confirmed, ${satText(unconfirmed)} unconfirmed` +
            (s.state === 'awaiting_payment' ? ` (${info.confirmations.required} confirmation${info.confirmations.required === 1 ? '' : 's'} needed).` : '.');
      if (s.state === 'paid' || s.state === 'complete') return s;
    }
    await pause(POLL_MS);
  }
}

/**
 * The devnet's miner pays the quote, mines a block and lets the watcher see it now (as `storj upload --pay`).
 * @param {Quote} quote
 */
async function devnetPay(quote) {
  const button = element('devpay', HTMLButtonElement);
  button.disabled = true;
  button.textContent = 'Paying…';
  try {
    await api('POST', '/v1/dev/pay', { body: { address: quote.address, amountSat: quote.amountSat } });
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
 * From the quote to the link.
 * @param {Choice} c
 * @param {Info} info
 */
async function run(c, info) {
  showError(undefined);
  const sealer = c.encrypt ? e2e : undefined;
  const key = sealer?.newFileKey();
  const quote = /** @type {Quote} */ (await api('POST', '/v1/uploads', { body: quoteBody(c) }));
  // The payment
  show('pay');
  $('amount-sat').textContent = satText(quote.amountSat);
  $('amount-btc').textContent = btc(quote.amountSat);
  $('address').textContent = quote.address;
  $('uri').textContent = quote.bip21;
  showQr(element('qr', HTMLImageElement), quote.bip21);
  if (devnet) {
    const button = element('devpay', HTMLButtonElement);
    button.hidden = false;
    button.disabled = false;
    button.textContent = 'Pay with devnet';
    // One handler, this quote's: a quote asked for again after an error replaces it.
    button.onclick = () => void devnetPay(quote);
  }
  const paid = await waitForPayment(quote, info);
  // The upload
  show('upload');
  const bar = element('progress', HTMLProgressElement);
  const status = $('upload-status');
  /** @type {{ fileId: string }} */
  let result;
  if (paid.state === 'complete' && paid.fileId) result = { fileId: paid.fileId };
  else {
    const source = sealer && key ? await sealer.encryptedSource(c.file, key, { name: c.file.name, type: c.file.type }) : c.file;
    result = await uploadFile({
      uploadId: quote.id,
      token: quote.uploadToken,
      source,
      size: c.size,
      onProgress: (sent, size) => {
        bar.value = size > 0 ? sent / size : 1;
        status.textContent = `${bytesText(sent)} of ${bytesText(size)}`;
      },
    });
  }
  // The link: the file's page; an encrypted file's key only after the #, which no request carries.
  const link = `${location.origin}/s/${result.fileId}${sealer && key ? `#${sealer.encodeKey(key)}` : ''}`;
  const a = element('link', HTMLAnchorElement);
  a.href = link;
  a.textContent = link;
  $('done-note').textContent = key
    ? 'Anyone with this link can download and decrypt the file. The key is the part after the #: keep it, the agent cannot give it back.'
    : 'Anyone with this link can download the file.';
  const view = /** @type {FileView | undefined} */ (await api('GET', `/v1/files/${result.fileId}`).catch(() => undefined));
  $('funded').textContent = view ? dateText(view.fundedUntil) : 'the end of the days paid';
  show('done');
}

async function start() {
  wireCopyButtons();
  for (const input of [fileInput, daysInput, downloadsInput, encryptBox]) input.addEventListener('input', updateEstimate);
  encryptBox.addEventListener('change', updateEstimate);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const c = choice();
    if (!c || !info) return;
    continueButton.disabled = true;
    run(c, info).catch((/** @type {unknown} */ e) => {
      showError(e);
      show('pick');
      updateEstimate();
    });
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
}

void start();
