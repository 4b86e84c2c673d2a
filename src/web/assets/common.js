// What both pages share: the agent's JSON API, amounts and sizes for people, copy buttons, QR codes and errors.
// Plain JavaScript, loaded as a module by the pages; amounts stay integers (BigInt where they are summed).

/** The element with this id. */
export const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

/** An error answer of the agent: its stable code and its message. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * A JSON request to the agent's own API. @throws ApiError with the agent's code for an error answer
 */
export async function api(method, path, { body, token, signal } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    const e = json && json.error;
    throw new ApiError(r.status, e ? e.code : `HTTP_${r.status}`, e ? e.message : `the agent answered ${r.status}`, json);
  }
  return json;
}

const SAT_PER_BTC = 100000000n;

/** A satoshi amount (integer or decimal string) in BTC, exactly: no float ever touches it. */
export function btc(sat) {
  const s = BigInt(sat);
  const frac = (s % SAT_PER_BTC).toString().padStart(8, '0');
  return `${s / SAT_PER_BTC}.${frac}`;
}

/** A satoshi amount for people: "12,345 sat". */
export function satText(sat) {
  return `${BigInt(sat).toLocaleString('en-US')} sat`;
}

/** A byte count for people, in binary units ("1.5 MiB"); display only. */
export function bytesText(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} ${v === 1 ? 'byte' : 'bytes'}` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** A date for people, in their own time zone. */
export function dateText(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// The browser encryption module, by a name held in a variable: the pages load it only when needed, and work
// (unencrypted) where it is missing.
const E2E_MODULE = './e2e.js';

/** The browser encryption module (./e2e.js). @throws when it cannot be loaded */
export function loadE2e() {
  return import(E2E_MODULE);
}

/** Shows `uri` (a bitcoin: URI) as a QR code drawn by the agent (GET /v1/qr). */
export function showQr(img, uri) {
  img.src = `/v1/qr?data=${encodeURIComponent(uri)}`;
}

/** Copies text to the clipboard; where the Clipboard API is missing (a page not served over https), by selection. */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy failed');
}

/** Makes every `button[data-copy]` copy the text (or href) of the element it names, and say so. */
export function wireCopyButtons(root = document) {
  for (const button of root.querySelectorAll('button[data-copy]')) {
    const label = button.textContent;
    button.addEventListener('click', async () => {
      const el = $(button.dataset.copy);
      const text = el instanceof HTMLAnchorElement ? el.href : el.textContent;
      try {
        await copyText(text);
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Select and copy';
      }
      setTimeout(() => (button.textContent = label), 1500);
    });
  }
}

/** Shows an error (the agent's code and message when it is one), or hides the line with `undefined`. */
export function showError(e) {
  const el = $('error');
  if (e === undefined) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
}

/** Waits `ms` milliseconds, or until `signal` aborts. */
export function pause(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
