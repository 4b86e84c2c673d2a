// The browser's upload: a plain PUT /v1/uploads/:id through XMLHttpRequest, whose upload events report progress.
// The resumable (tus) version takes its place with the same signature.

/** The source as one Blob: itself, or (an encrypted source with random access) its slices in order. */
async function asBlob(source, size) {
  if (source instanceof Blob) return source;
  const parts = [];
  const step = 8 * 1024 * 1024;
  for (let at = 0; at < size; at += step) parts.push(await source.slice(at, Math.min(size, at + step)));
  return new Blob(parts, { type: 'application/octet-stream' });
}

/**
 * Uploads `source` (a Blob, or `{ size, slice(start, end): Promise<Uint8Array> }`) of `size` bytes to the paid
 * upload `uploadId`. `onProgress(sentBytes, size)` follows the bytes sent; `signal` aborts.
 * @returns the agent's answer: `{ fileId, url, size, sha256 }`
 * @throws Error with `code` (the agent's error code, or NETWORK / ABORTED) and `status`
 */
export async function uploadFile({ uploadId, token, source, size, onProgress, signal }) {
  const body = await asBlob(source, size);
  if (body.size !== size) throw Object.assign(new Error(`the source holds ${body.size} bytes, not ${size}`), { code: 'SIZE_MISMATCH' });
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/v1/uploads/${encodeURIComponent(uploadId)}`);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, size));
    xhr.addEventListener('load', () => {
      const json = xhr.response;
      if (xhr.status === 201 && json && typeof json.fileId === 'string') {
        onProgress?.(size, size);
        resolve(json);
        return;
      }
      const err = json && json.error;
      reject(Object.assign(new Error(err ? err.message : `the upload failed: HTTP ${xhr.status}`), { code: err ? err.code : `HTTP_${xhr.status}`, status: xhr.status }));
    });
    xhr.addEventListener('error', () => reject(Object.assign(new Error('the connection to the agent failed during the upload'), { code: 'NETWORK' })));
    xhr.addEventListener('abort', () => reject(Object.assign(new Error('the upload was stopped'), { code: 'ABORTED' })));
    if (signal) {
      if (signal.aborted) {
        reject(Object.assign(new Error('the upload was stopped'), { code: 'ABORTED' }));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort());
    }
    xhr.send(body);
  });
}
