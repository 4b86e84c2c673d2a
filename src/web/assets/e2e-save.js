/**
 * Saving a decrypted stream to the user's downloads without holding it: through the save worker ./sw.js where
 * there can be one, else through a Blob of limited size (docs/encryption.md, "Saving a stream: the save worker").
 */
import { E2EError } from './e2e-format.js';

/** The service worker (./sw.js) answers synthetic download URLs under this path, and nothing else. */
const SAVE_SCOPE = '/s/dl/';
/** Without the service worker, a file is collected in memory, up to this size. */
const BLOB_LIMIT = 256 * 1024 * 1024;

/**
 * A file name made safe to suggest: the last path part, no control characters, no leading dots (as the CLI).
 * @param {string} name
 */
function safeName(name) {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const last = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').replace(/^[.\s]+/, '').trim();
  return last === '' ? 'download' : Array.from(last).slice(0, 200).join('');
}

/**
 * Saves a stream to the user's downloads as `name`. With a service worker (a secure context: https, or
 * localhost): the stream is handed to ./sw.js, which answers a one-time URL under /s/dl/ with it as an
 * attachment, so the browser's own download writes it to disk as it comes and nothing holds it whole. The URL
 * carries only a random id: the name goes in the worker's Content-Disposition, and a request that reached the
 * agent would carry nothing. Resolves when the whole stream has gone into the download; rejects with the
 * stream's error (the download then fails in the browser too).
 * Without one (plain http on another host, or a browser that cannot transfer a stream), the file is collected
 * into a Blob and saved from memory, up to 256 MiB; larger fails with E2E_SAVE_UNAVAILABLE.
 * @param {string} name
 * @param {string} type
 * @param {ReadableStream<Uint8Array>} stream
 * @param {number} [size] the plaintext's size, when known, for the download's progress
 * @returns {Promise<void>}
 */
export async function saveStream(name, type, stream, size) {
  const worker = await saveWorker();
  if (worker) {
    // The stream goes to the worker through a pass-through kept here, so that its error keeps its code (an error
    // crossing into the worker keeps only its message).
    /** @type {TransformStream<Uint8Array, Uint8Array>} */
    const pass = new TransformStream();
    const channel = new MessageChannel();
    const message = { type: 'storj-save', name: safeName(name), mediaType: type, size, stream: pass.readable, port: channel.port2 };
    let sent = false;
    try {
      worker.postMessage(message, [pass.readable, channel.port2]);
      sent = true;
    } catch {
      // a browser that cannot transfer a ReadableStream: the Blob below
    }
    if (sent) {
      /** @type {Promise<unknown>} */
      const piped = stream.pipeTo(pass.writable).then(
        () => undefined,
        (/** @type {unknown} */ e) => e,
      );
      return viaWorker(channel.port1, piped);
    }
  }
  return viaBlob(name, type, stream);
}

/** The active save worker, registered on first use; undefined where there can be none. */
async function saveWorker() {
  if (!globalThis.isSecureContext || !navigator.serviceWorker) return undefined;
  try {
    const registration = await navigator.serviceWorker.register(new URL('./sw.js', import.meta.url), { scope: SAVE_SCOPE });
    const pending = registration.installing ?? registration.waiting;
    if (!registration.active && pending) {
      await new Promise((resolve, reject) => {
        pending.addEventListener('statechange', () => {
          if (pending.state === 'activated') resolve(undefined);
          else if (pending.state === 'redundant') reject(new Error('the save worker failed to install'));
        });
      });
    }
    return registration.active ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the worker's URL, then waits for the worker to report the end of the stream.
 * @param {MessagePort} port
 * @param {Promise<unknown>} piped the page's side of the stream: its error, or undefined
 * @returns {Promise<void>}
 */
function viaWorker(port, piped) {
  return new Promise((resolve, reject) => {
    port.onmessage = (/** @type {MessageEvent<unknown>} */ event) => {
      const m = /** @type {{ url?: string, done?: boolean, error?: { message?: string } }} */ (event.data);
      if (m.url) {
        // A navigation to an attachment starts a download and leaves the page where it is.
        const a = document.createElement('a');
        a.href = m.url;
        a.rel = 'noopener';
        document.body.append(a);
        a.click();
        a.remove();
      } else if (m.done) {
        port.close();
        resolve();
      } else if (m.error) {
        port.close();
        const message = m.error.message ?? 'the download failed';
        void piped.then((e) => reject(e instanceof Error ? e : new E2EError('E2E_TAMPERED', message)));
      }
    };
  });
}

/**
 * @param {string} name
 * @param {string} type
 * @param {ReadableStream<Uint8Array>} stream
 */
async function viaBlob(name, type, stream) {
  /** @type {BlobPart[]} */
  const parts = [];
  let held = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    held += value.length;
    if (held > BLOB_LIMIT) {
      await reader.cancel();
      throw new E2EError('E2E_SAVE_UNAVAILABLE', `this browser cannot stream a download here (it needs https for that), and the file is over ${BLOB_LIMIT / 2 ** 20} MiB to hold in memory`);
    }
    parts.push(/** @type {Uint8Array<ArrayBuffer>} */ (value));
  }
  const url = URL.createObjectURL(new Blob(parts, { type: type || 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = safeName(name);
  document.body.append(a);
  a.click();
  a.remove();
  // The download has taken the Blob's URL by the time a minute has passed; only then is it let go.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
