// The page's upload of a paid quote's bytes: the agent's tus endpoint (docs/uploads.md) through tus-js-client's
// browser build, which the agent serves itself at /assets/vendor/tus.js (no CDN). The bytes go in pieces of
// CHUNK_BYTES, each fsynced by the agent before it answers; a dropped connection is retried from the offset the
// agent holds, and a reloaded page (./app.js keeps the upload id and token in the tab's sessionStorage, ./pending.js)
// resumes on the next try, from the upload's URL kept in localStorage under a key made of the upload id and a
// digest of the bytes, so a different file never resumes another's upload.

/** Each PATCH carries this much: an interruption costs at most this much sent again. */
const CHUNK_BYTES = 16 * 1024 * 1024;
/** Waits between tries after a failure: quick at first, then every 2 s for about two minutes. */
const RETRY_DELAYS_MS = [0, 250, 500, 1000, ...Array.from({ length: 60 }, () => 2000)];
/** How much of each end of the file goes into its fingerprint. */
const PROBE_BYTES = 64 * 1024;

/**
 * @typedef {typeof import('tus-js-client')} Tus the browser build's global, typed by the package's own types
 * @typedef {{ size: number, slice(start: number, end: number): Promise<Uint8Array<ArrayBuffer>> }} Source
 * @typedef {Error & { code?: string, status?: number, body?: unknown }} UploadError
 */

/** @type {Promise<Tus> | undefined} */
let loading;

/** The global the UMD script sets, once it has run. @returns {Tus | undefined} */
const tusGlobal = () => /** @type {{ tus?: Tus }} */ (/** @type {unknown} */ (globalThis)).tus;

/** tus-js-client's browser build (a UMD script that sets window.tus), loaded once. @returns {Promise<Tus>} */
function loadTus() {
  const loaded = tusGlobal();
  if (loaded) return Promise.resolve(loaded);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/assets/vendor/tus.js';
    script.onload = () => {
      const tus = tusGlobal();
      if (tus) resolve(tus);
      else reject(new Error('tus-js-client did not load'));
    };
    script.onerror = () => {
      loading = undefined;
      reject(new Error('could not load /assets/vendor/tus.js'));
    };
    document.head.append(script);
  });
  return loading;
}

/**
 * Bytes `[start, end)` of a Blob or of a `{ size, slice(start, end): Promise<Uint8Array> }` source.
 * @param {Blob | Source} source
 * @param {number} start
 * @param {number} end
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function read(source, start, end) {
  if (source instanceof Blob) return new Uint8Array(await source.slice(start, end).arrayBuffer());
  return source.slice(start, end);
}

/**
 * Reads `source` where tus-js-client asks, and starts on the next piece of the same length as soon as one is
 * handed over, so that making it (an encrypted source seals its records) overlaps the sending of this one. A
 * read elsewhere (a resume after a failure) just reads there; at most two pieces are held.
 * @param {Blob | Source} source
 * @param {number} size
 * @returns {(start: number, end: number) => Promise<Uint8Array<ArrayBuffer>>}
 */
function readingAhead(source, size) {
  /** @type {{ start: number, end: number, bytes: Promise<Uint8Array<ArrayBuffer>> } | undefined} */
  let next;
  return (start, end) => {
    const ahead = next?.start === start && next.end === end ? next.bytes : undefined;
    next = undefined;
    const bytes = ahead ?? read(source, start, end);
    if (end < size) {
      const after = { start: end, end: Math.min(size, end + (end - start)) };
      next = { ...after, bytes: read(source, after.start, after.end) };
      // A failure is seen when that piece is asked for; a piece never asked for fails silently.
      next.bytes.catch(() => undefined);
    }
    return bytes;
  };
}

/**
 * The key the upload's URL is kept under: the upload id, the size, and a sha256 of both ends of the bytes.
 * @param {string} uploadId
 * @param {Blob | Source} source
 * @param {number} size
 * @returns {Promise<string>}
 */
async function fingerprintOf(uploadId, source, size) {
  const head = await read(source, 0, Math.min(size, PROBE_BYTES));
  const tail = await read(source, Math.max(0, size - PROBE_BYTES), size);
  const both = new Uint8Array(head.length + tail.length);
  both.set(head);
  both.set(tail, head.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', both));
  return `storj-tus:${uploadId}:${size}:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * An Error for a failed upload, with the agent's code when it answered with one (`error CODE: message`).
 * @param {unknown} e what tus-js-client failed with (a DetailedError carries the agent's response)
 * @returns {UploadError}
 */
function uploadError(e) {
  const detailed = /** @type {{ originalResponse?: import('tus-js-client').HttpResponse | null, message?: string } | null | undefined} */ (e);
  const res = detailed?.originalResponse;
  if (res) {
    try {
      /** @type {unknown} */
      const parsed = JSON.parse(res.getBody());
      const body = /** @type {{ error?: { code?: unknown, message?: unknown } } | null} */ (parsed);
      const code = body?.error?.code;
      if (typeof code === 'string') {
        /** @type {UploadError} */
        const err = new Error(String(body?.error?.message));
        err.code = code;
        err.status = res.getStatus();
        err.body = body;
        return err;
      }
    } catch {
      // not the agent's error envelope: the generic message below
    }
  }
  /** @type {UploadError} */
  const err = new Error(`the upload failed: ${detailed?.message ? String(detailed.message).split('\n')[0] : String(e)}`);
  err.code = 'AGENT_UNREACHABLE';
  return err;
}

/**
 * Uploads the bytes of a paid quote.
 * @param {{ uploadId: string, token: string, source: Blob | { size: number, slice(start: number, end: number): Promise<Uint8Array<ArrayBuffer>> },
 *   size: number, onProgress?: (sent: number, total: number) => void, signal?: AbortSignal }} o
 * @returns {Promise<{ fileId: string, url: string, size: number, sha256: string }>}
 */
export async function uploadFile({ uploadId, token, source, size, onProgress, signal }) {
  signal?.throwIfAborted();
  const tus = await loadTus();
  const fingerprint = await fingerprintOf(uploadId, source, size);
  const isBlob = source instanceof Blob;
  const readPiece = readingAhead(source, size);
  const fileReader = {
    openFile: () => Promise.resolve({
      size,
      /** @param {number} start @param {number} end */
      async slice(start, end) {
        // A Blob, not the bytes themselves: Chromium's XHR sends a 16 MiB Uint8Array at about 2 MB/s and the same
        // bytes in a Blob at about 50 (measured on this project's test machine, under load). `done` is never set:
        // the upload ends when the agent's offset reaches the length.
        return { value: new Blob([await readPiece(start, Math.min(end, size))]), done: false };
      },
      close() {},
    }),
  };
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(isBlob ? source : new Blob([]), {
      endpoint: new URL('/v1/tus', location.href).href,
      uploadSize: size,
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      headers: { authorization: `Bearer ${token}` },
      metadata: { uploadId },
      fingerprint: () => Promise.resolve(fingerprint),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // A Blob goes as tus-js-client slices it itself: Blob slices, which the browser streams from the file. Only
      // an encrypted source, made record by record, needs the reader above.
      ...(isBlob ? {} : { fileReader }),
      onProgress: (sent, total) => onProgress?.(sent, total),
      onError: (e) => reject(uploadError(e)),
      onSuccess: ({ lastResponse }) => {
        /** @param {string} k */
        const h = (k) => lastResponse.getHeader(k) ?? '';
        resolve({ fileId: h('storj-file-id'), url: h('storj-file-url'), size: Number(h('upload-length')), sha256: h('storj-sha256') });
      },
    });
    signal?.addEventListener(
      'abort',
      () => {
        // Stopped, not terminated: the agent keeps the bytes it has, for the next try to resume.
        void upload.abort(false);
        reject(signal.reason instanceof Error ? signal.reason : new DOMException('the upload was stopped', 'AbortError'));
      },
      { once: true },
    );
    upload
      .findPreviousUploads()
      .then((previous) => {
        if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      })
      .catch((e) => reject(uploadError(e)));
  });
}
