// What both pages share: the agent's JSON API, amounts and sizes for people, copy buttons, QR codes and errors.
// Plain JavaScript, loaded as a module by the pages, typed from its JSDoc (./tsconfig.json); amounts stay integers
// (BigInt where they are summed).

/**
 * GET /v1/info, the parts the pages read.
 * @typedef {{ network: string, maxFileSize: number, confirmations: { required: number },
 *   prices: { storageMsatPerGibDay: string, egressMsatPerGib: string, minimumDepositSat: number } }} Info
 * @typedef {{ id: string, address: string, amountSat: number, bip21: string, uploadToken: string }} Quote
 * @typedef {{ state: 'awaiting_payment' | 'paid' | 'complete' | 'expired', amountSat: number, receivedSat: number,
 *   confirmedSat: number, fileId?: string }} UploadStatus
 * @typedef {{ fileId: string, size: number, filename: string | null, state: 'active' | 'frozen' | 'deleted',
 *   address: string, bip21: string, fundedUntil: string, deleteAt?: string, downloadTopUpSat?: number }} FileView
 * A source of bytes with random access (an encrypted file is made record by record).
 * @typedef {{ size: number, slice(start: number, end: number): Promise<Uint8Array<ArrayBuffer>> }} Source
 * The browser encryption module's interface (./e2e.js; docs/encryption.md).
 * @typedef {{
 *   newFileKey(): Uint8Array,
 *   encodeKey(key: Uint8Array): string,
 *   decodeKey(text: string): Uint8Array,
 *   encryptedSize(plainSize: number): number,
 *   newSalt(): Uint8Array,
 *   encryptedSource(file: Blob, key: Uint8Array, meta: { name: string, type: string }, salt?: Uint8Array): Promise<Source>,
 *   decryptResponse(response: Response, key: Uint8Array): Promise<{ name: string, type: string, size: number, stream: ReadableStream<Uint8Array> }>,
 *   saveStream(name: string, type: string, stream: ReadableStream<Uint8Array>, size?: number): Promise<void>,
 * }} E2e
 */

/**
 * The element with this id, of the kind given.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} kind
 * @returns {T}
 */
export function element(id, kind) {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`the page has no #${id} of the expected kind`);
  return el;
}

/**
 * The element with this id.
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => element(id, HTMLElement);

/** An error answer of the agent: its stable code and its message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The error an answer's body carries (the agent's envelope), if it is one.
 * @param {unknown} body
 * @returns {{ code: string, message: string } | undefined}
 */
export function envelope(body) {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const e = body.error;
  if (typeof e !== 'object' || e === null || !('code' in e) || !('message' in e)) return undefined;
  return typeof e.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : undefined;
}

/**
 * A JSON request to the agent's own API; the caller names the reply's type.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, token?: string }} [options]
 * @returns {Promise<unknown>}
 * @throws {ApiError} with the agent's code for an error answer
 */
export async function api(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const r = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), cache: 'no-store' });
  const text = await r.text();
  /** @type {unknown} */
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    const e = envelope(json);
    throw new ApiError(r.status, e ? e.code : `HTTP_${r.status}`, e ? e.message : `the agent answered ${r.status}`);
  }
  return json;
}

const SAT_PER_BTC = 100000000n;

/**
 * A satoshi amount in BTC, exactly: no float ever touches it.
 * @param {number | bigint} sat
 */
export function btc(sat) {
  const s = BigInt(sat);
  const frac = (s % SAT_PER_BTC).toString().padStart(8, '0');
  return `${s / SAT_PER_BTC}.${frac}`;
}

/**
 * A satoshi amount for people: "12,345 sat".
 * @param {number | bigint} sat
 */
export function satText(sat) {
  return `${BigInt(sat).toLocaleString('en-US')} sat`;
}

/**
 * A byte count for people, in binary units ("1.5 MiB"); display only.
 * @param {number} n
 */
export function bytesText(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} ${v === 1 ? 'byte' : 'bytes'}` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i] ?? ''}`;
}

/**
 * A date for people, in their own time zone.
 * @param {string} iso
 */
export function dateText(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// The browser encryption module, by a name held in a variable: the pages load it only when needed, and work
// (unencrypted) where it is missing.
const E2E_MODULE = './e2e.js';

/**
 * The browser encryption module (./e2e.js).
 * @returns {Promise<E2e>}
 * @throws when it cannot be loaded
 */
export async function loadE2e() {
  /** @type {unknown} */
  const module = await import(E2E_MODULE);
  return /** @type {E2e} */ (module);
}

/**
 * Shows `uri` (a bitcoin: URI) as a QR code drawn by the agent (GET /v1/qr).
 * @param {HTMLImageElement} img
 * @param {string} uri
 */
export function showQr(img, uri) {
  img.src = `/v1/qr?data=${encodeURIComponent(uri)}`;
}

/**
 * Copies text to the clipboard; where the Clipboard API is missing (a page not served over https), by selection.
 * @param {string} text
 */
async function copyText(text) {
  if (window.isSecureContext && 'clipboard' in navigator) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  // The one way left to copy without the Clipboard API.
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy failed');
}

/** Makes every `button[data-copy]` copy the text (or href) of the element it names, and say so. */
export function wireCopyButtons() {
  for (const button of document.querySelectorAll('button[data-copy]')) {
    if (!(button instanceof HTMLButtonElement)) continue;
    const label = button.textContent;
    button.addEventListener('click', () => {
      const el = $(button.dataset.copy ?? '');
      const text = el instanceof HTMLAnchorElement ? el.href : (el.textContent ?? '');
      copyText(text).then(
        () => (button.textContent = 'Copied'),
        () => (button.textContent = 'Select and copy'),
      );
      setTimeout(() => (button.textContent = label), 1500);
    });
  }
}

/**
 * Shows an error (the agent's code and message when it is one), or hides the line with `undefined`.
 * @param {unknown} e
 */
export function showError(e) {
  const el = $('error');
  if (e === undefined) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : typeof e === 'string' ? e : 'something went wrong';
}

/**
 * Waits `ms` milliseconds.
 * @param {number} ms
 * @returns {Promise<void>}
 */
export function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
