// The page's upload of a paid quote's bytes: the agent's tus endpoint (docs/uploads.md) through tus-js-client's
// browser build, which the agent serves itself at /assets/vendor/tus.js (no CDN). The bytes go in pieces of
// CHUNK_BYTES, each fsynced by the agent before it answers; a dropped connection is retried from the offset the
// agent holds, and a closed tab resumes on the next try, from the upload's URL kept in localStorage under a key
// made of the upload id and a digest of the bytes, so a different file never resumes another's upload.

/** Each PATCH carries this much: an interruption costs at most this much sent again. */
const CHUNK_BYTES = 16 * 1024 * 1024;
/** Waits between tries after a failure: quick at first, then every 2 s for about two minutes. */
const RETRY_DELAYS_MS = [0, 250, 500, 1000, ...Array(60).fill(2000)];
/** How much of each end of the file goes into its fingerprint. */
const PROBE_BYTES = 64 * 1024;

let loading;

/** tus-js-client's browser build (a UMD script that sets window.tus), loaded once. */
function loadTus() {
  if (globalThis.tus) return Promise.resolve(globalThis.tus);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/assets/vendor/tus.js';
    script.onload = () => (globalThis.tus ? resolve(globalThis.tus) : reject(new Error('tus-js-client did not load')));
    script.onerror = () => {
      loading = undefined;
      reject(new Error('could not load /assets/vendor/tus.js'));
    };
    document.head.append(script);
  });
  return loading;
}

/** Bytes `[start, end)` of a Blob or of a `{ size, slice(start, end): Promise<Uint8Array> }` source. */
async function read(source, start, end) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.slice(start, end).arrayBuffer());
  return source.slice(start, end);
}

/** The key the upload's URL is kept under: the upload id, the size, and a sha256 of both ends of the bytes. */
async function fingerprintOf(uploadId, source, size) {
  const head = await read(source, 0, Math.min(size, PROBE_BYTES));
  const tail = await read(source, Math.max(0, size - PROBE_BYTES), size);
  const both = new Uint8Array(head.length + tail.length);
  both.set(head);
  both.set(tail, head.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', both));
  return `storj-tus:${uploadId}:${size}:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** An Error for a failed upload, with the agent's code when it answered with one (`error CODE: message`). */
function uploadError(e) {
  const res = e && e.originalResponse;
  if (res) {
    try {
      const body = JSON.parse(res.getBody());
      if (body && body.error && typeof body.error.code === 'string') {
        const err = new Error(String(body.error.message));
        err.code = body.error.code;
        err.status = res.getStatus();
        err.body = body;
        return err;
      }
    } catch {
      // not the agent's error envelope: the generic message below
    }
  }
  const err = new Error(`the upload failed: ${e && e.message ? String(e.message).split('\n')[0] : String(e)}`);
  err.code = 'AGENT_UNREACHABLE';
  return err;
}

/**
 * Uploads the bytes of a paid quote.
 * @param {{ uploadId: string, token: string, source: Blob | { size: number, slice(start: number, end: number): Promise<Uint8Array> },
 *   size: number, onProgress?: (sent: number, total: number) => void, signal?: AbortSignal }} o
 * @returns {Promise<{ fileId: string, url: string, size: number, sha256: string }>}
 */
export async function uploadFile({ uploadId, token, source, size, onProgress, signal }) {
  signal?.throwIfAborted();
  const tus = await loadTus();
  const fingerprint = await fingerprintOf(uploadId, source, size);
  const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
  const fileReader = {
    openFile: async () => ({
      size,
      async slice(start, end) {
        // `done` is only read with the value's `size` (a Blob's; a byte array has none), so never set: the upload
        // ends when the agent's offset reaches the length.
        return { value: await read(source, start, Math.min(end, size)), done: false };
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
      fileReader,
      onProgress: (sent, total) => onProgress?.(sent, total),
      onError: (e) => reject(uploadError(e)),
      onSuccess: ({ lastResponse }) => {
        const h = (k) => lastResponse.getHeader(k) ?? '';
        resolve({ fileId: h('storj-file-id'), url: h('storj-file-url'), size: Number(h('upload-length')), sha256: h('storj-sha256') });
      },
    });
    signal?.addEventListener(
      'abort',
      () => {
        // Stopped, not terminated: the agent keeps the bytes it has, for the next try to resume.
        void upload.abort(false);
        reject(signal.reason ?? new DOMException('the upload was stopped', 'AbortError'));
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
