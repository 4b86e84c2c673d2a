// The browser's upload: a plain PUT /v1/uploads/:id through XMLHttpRequest, whose upload events report progress.
// The resumable (tus) version takes its place with the same signature.

/**
 * @typedef {{ size: number, slice(start: number, end: number): Promise<Uint8Array> }} Source
 * @typedef {{ fileId: string, url: string, size: number, sha256: string }} Uploaded
 */

/**
 * The source as one Blob: itself, or (an encrypted source with random access) its slices in order.
 * @param {Blob | Source} source
 * @param {number} size
 * @returns {Promise<Blob>}
 */
async function asBlob(source, size) {
  if (source instanceof Blob) return source;
  /** @type {BlobPart[]} */
  const parts = [];
  const step = 8 * 1024 * 1024;
  for (let at = 0; at < size; at += step) parts.push(/** @type {Uint8Array<ArrayBuffer>} */ (await source.slice(at, Math.min(size, at + step))));
  return new Blob(parts, { type: 'application/octet-stream' });
}

/**
 * An Error with the agent's code (or NETWORK, ABORTED, SIZE_MISMATCH) and the HTTP status.
 * @param {string} message
 * @param {string} code
 * @param {number} [status]
 */
function uploadError(message, code, status) {
  return Object.assign(new Error(message), { code, status });
}

/**
 * Uploads `source` (a Blob, or `{ size, slice(start, end): Promise<Uint8Array> }`) of `size` bytes to the paid
 * upload `uploadId`. `onProgress(sentBytes, size)` follows the bytes sent; `signal` aborts.
 * @param {{ uploadId: string, token: string, source: Blob | Source, size: number,
 *   onProgress?: (sent: number, size: number) => void, signal?: AbortSignal }} options
 * @returns {Promise<Uploaded>} the agent's answer
 */
export async function uploadFile({ uploadId, token, source, size, onProgress, signal }) {
  const body = await asBlob(source, size);
  if (body.size !== size) throw uploadError(`the source holds ${body.size} bytes, not ${size}`, 'SIZE_MISMATCH');
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/v1/uploads/${encodeURIComponent(uploadId)}`);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, size));
    xhr.addEventListener('load', () => {
      /** @type {unknown} */
      let json;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = undefined;
      }
      if (xhr.status === 201 && typeof json === 'object' && json !== null && 'fileId' in json && typeof json.fileId === 'string') {
        onProgress?.(size, size);
        resolve(/** @type {Uploaded} */ (json));
        return;
      }
      const err = typeof json === 'object' && json !== null && 'error' in json && typeof json.error === 'object' && json.error !== null ? json.error : undefined;
      const code = err && 'code' in err && typeof err.code === 'string' ? err.code : `HTTP_${xhr.status}`;
      const message = err && 'message' in err && typeof err.message === 'string' ? err.message : `the upload failed: HTTP ${xhr.status}`;
      reject(uploadError(message, code, xhr.status));
    });
    xhr.addEventListener('error', () => reject(uploadError('the connection to the agent failed during the upload', 'NETWORK')));
    xhr.addEventListener('abort', () => reject(uploadError('the upload was stopped', 'ABORTED')));
    if (signal) {
      if (signal.aborted) {
        reject(uploadError('the upload was stopped', 'ABORTED'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort());
    }
    xhr.send(body);
  });
}
