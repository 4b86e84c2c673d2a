// The upload page's memory of its pending upload, in sessionStorage: what a reload (or a phone's browser that
// discarded the tab and restores it) needs to go back to the payment or the upload of a quote already made. It is
// per tab and gone when the tab is closed; the file key is kept here, on the device that made it, and goes nowhere
// else but the final link's #fragment (docs/web.md, "A reload on the way").

const STORAGE_KEY = 'storj-pending-upload';
/** How much of each end of the file goes into its probe. */
const PROBE_BYTES = 64 * 1024;

/**
 * A quote made by this tab and not stored yet.
 * @typedef {{
 *   id: string, token: string, address: string, amountSat: number, bip21: string,
 *   name: string, type: string, size: number, lastModified: number, probe: string,
 *   days: number, downloads: number, uploadSize: number,
 *   key?: string, salt?: string,
 * }} Pending
 * `size` is the file's, `uploadSize` the bytes sent (the ciphertext's when encrypting); `probe` is a sha256 of
 * both ends of the file (probeOf); `key` (encodeKey) and `salt` (hex) only for an encrypted upload: with them the
 * same file gives the same ciphertext again, which the quote's size and a resumed upload need.
 */

/** @type {Record<string, 'string' | 'number'>} */
const FIELDS = {
  id: 'string', token: 'string', address: 'string', amountSat: 'number', bip21: 'string',
  name: 'string', type: 'string', size: 'number', lastModified: 'number', probe: 'string',
  days: 'number', downloads: 'number', uploadSize: 'number',
};

/**
 * The pending upload of this tab, if there is a well-formed one (anything else is dropped).
 * @returns {Pending | undefined}
 */
export function loadPending() {
  let text;
  try {
    text = sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return undefined; // storage is off: the page works as before, without surviving a reload
  }
  if (!text) return undefined;
  try {
    /** @type {unknown} */
    const parsed = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      const o = /** @type {Record<string, unknown>} */ (parsed);
      const encrypted = typeof o.key === 'string' && typeof o.salt === 'string';
      const plain = o.key === undefined && o.salt === undefined;
      if (Object.entries(FIELDS).every(([k, t]) => typeof o[k] === t) && (encrypted || plain)) return /** @type {Pending} */ (o);
    }
  } catch {
    // not JSON: dropped below
  }
  clearPending();
  return undefined;
}

/** @param {Pending} p */
export function savePending(p) {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(p));
  } catch {
    // storage is off or full: the upload goes on, only a reload loses it (as before this page kept anything)
  }
}

export function clearPending() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing was kept
  }
}

/** @param {Uint8Array} bytes */
export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** @param {string} hex */
export function fromHex(hex) {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A sha256 (hex) of the first and last 64 KiB of a file: the same file picked again after a reload gives the
 * same probe, and a file changed in place (same name, size and date) most likely not.
 * @param {Blob} file
 */
export async function probeOf(file) {
  const head = file.slice(0, Math.min(file.size, PROBE_BYTES));
  const tail = file.slice(Math.max(0, file.size - PROBE_BYTES));
  const both = await new Blob([head, tail]).arrayBuffer();
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', both)));
}

/**
 * Why `file` is not the file of `p` (a sentence for the person), or undefined when it is.
 * @param {Pending} p
 * @param {File} file
 * @param {(n: number) => string} bytesText
 */
export async function mismatch(p, file, bytesText) {
  if (file.name !== p.name) return `This is “${file.name}”; the upload paid for is “${p.name}”. Pick that file.`;
  if (file.size !== p.size) return `“${file.name}” is ${bytesText(file.size)} now; the upload paid for is ${bytesText(p.size)}. Pick the file as it was.`;
  if (file.lastModified !== p.lastModified || (await probeOf(file)) !== p.probe) {
    return `“${file.name}” was changed since the upload began: the bytes paid for must be the same. Pick the unchanged file, or start over.`;
  }
  return undefined;
}
