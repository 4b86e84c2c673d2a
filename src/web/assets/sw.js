/**
 * The save worker: a service worker registered by ./e2e.js saveStream with the scope /s/dl/, and nothing else.
 * A page hands it a decrypted ReadableStream (transferred, with a MessagePort); it answers with a one-time URL
 * /s/dl/<random id>, and when the page opens that URL the worker responds with the stream as an attachment, so
 * the browser's download manager writes the file to disk as it is decrypted (the StreamSaver technique). Nothing
 * holds the whole file, and no request for it reaches the agent: an unknown id under /s/dl/ is answered here
 * with a 404, never passed on. The URL carries no name: the name is only in this worker's Content-Disposition.
 *
 * Served by the agent from its own origin (a service worker must be same-origin with the page), with
 * `Service-Worker-Allowed: /s/dl/` when its own path is not under /s/dl/ (docs/encryption.md, "In a browser").
 */

/**
 * The parts of the service worker's global scope used here (this folder is checked against the DOM's types, which
 * have no worker scope).
 * @typedef {{ request: Request, respondWith(response: Response): void }} FetchEvent
 * @typedef {{ waitUntil(promise: Promise<unknown>): void }} ExtendableEvent
 * @typedef {{
 *   location: Location,
 *   registration: ServiceWorkerRegistration,
 *   clients: { claim(): Promise<void> },
 *   skipWaiting(): Promise<void>,
 *   addEventListener(type: 'install', listener: () => void): void,
 *   addEventListener(type: 'activate', listener: (event: ExtendableEvent) => void): void,
 *   addEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void,
 *   addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void,
 * }} SaveWorkerScope
 */
const worker = /** @type {SaveWorkerScope} */ (/** @type {unknown} */ (self));

/** @type {Map<string, { name: string, mediaType: string, size: number | undefined, stream: ReadableStream<Uint8Array>, port: MessagePort }>} */
const pending = new Map();

worker.addEventListener('install', () => void worker.skipWaiting());
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

/**
 * @param {unknown} x
 * @returns {x is ReadableStream<Uint8Array>}
 */
const isStream = (x) => x instanceof ReadableStream;

worker.addEventListener('message', (event) => {
  const m = /** @type {Record<string, unknown> | null} */ (event.data);
  if (!m || m.type !== 'storj-save' || !isStream(m.stream) || !(m.port instanceof MessagePort)) return;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  pending.set(id, {
    name: typeof m.name === 'string' && m.name !== '' ? m.name : 'download',
    mediaType: typeof m.mediaType === 'string' ? m.mediaType : '',
    size: typeof m.size === 'number' && Number.isSafeInteger(m.size) ? m.size : undefined,
    stream: m.stream,
    port: m.port,
  });
  m.port.postMessage({ url: new URL(`/s/dl/${id}`, worker.registration.scope).href });
});

/**
 * Content-Disposition for `name`: an ASCII fallback and the UTF-8 name (RFC 6266, RFC 8187).
 * @param {string} name
 */
function disposition(name) {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

worker.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== worker.location.origin || !url.pathname.startsWith('/s/dl/')) return;
  const id = /^\/s\/dl\/([0-9a-f]{32})$/.exec(url.pathname)?.[1] ?? '';
  const save = pending.get(id);
  if (!save) {
    event.respondWith(new Response('This download link has been used or has expired. Open the file page again.', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
    return;
  }
  pending.delete(id);
  const { port } = save;
  // Tells the page when the last byte has gone into the download, or why it failed.
  /** @type {TransformStream<Uint8Array, Uint8Array>} */
  const report = new TransformStream({
    flush: () => port.postMessage({ done: true }),
  });
  save.stream.pipeTo(report.writable).catch((/** @type {unknown} */ e) => {
    port.postMessage({ error: { message: e instanceof Error ? e.message : String(e) } });
  });
  /** @type {Record<string, string>} */
  const headers = {
    'content-type': 'application/octet-stream',
    'content-disposition': disposition(save.name),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
  if (save.size !== undefined) headers['content-length'] = String(save.size);
  event.respondWith(new Response(report.readable, { headers }));
});
