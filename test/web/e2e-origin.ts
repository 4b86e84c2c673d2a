/**
 * One origin for the browser encryption tests (test/web/e2e-vectors.test.ts and test/web/e2e-save.test.ts): src/web/assets/ at /assets/ as the agent
 * will serve it (the strict Content-Security-Policy of the agent's pages, and `Service-Worker-Allowed: /s/dl/` on
 * sw.js so its scope can be /s/dl/), the test's own routes, and, when given an upstream, everything else passed
 * on to it (a real agent), so a page, its save worker and the file's bytes share one origin. Every request line
 * it was sent is kept, for the tests to look for keys and names in.
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const ASSETS = join(import.meta.dirname, '..', '..', 'src', 'web', 'assets');

/** The agent pages' policy (what the web module sends on every page and asset). */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Route = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

/** Reads a request's whole body. */
function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Sends `bytes` as a page or script of the agent's, under its CSP. */
export function send(res: ServerResponse, bytes: Buffer | string, contentType: string, extra: Record<string, string> = {}): void {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  res.writeHead(200, { 'content-type': contentType, 'content-length': b.length, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache', ...extra });
  res.end(b);
}

/**
 * Serves /assets/*, `routes` (by path, without the query; looked up at each request, so a test may add some
 * later), and the rest from `upstream` (asked at each request, so it may start after this origin).
 * @returns its origin, and every request line (method, path and query) it was sent
 */
export async function serveOrigin(t: { after(fn: () => unknown): void }, routes: Record<string, Route>, upstream?: () => string): Promise<{ origin: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(`${req.method ?? ''} ${url}`);
    const path = url.split('?')[0] ?? '/';
    const asset = /^\/assets\/([a-z0-9-]+\.js)$/.exec(path)?.[1];
    if (asset) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(ASSETS, asset));
      } catch {
        res.writeHead(404).end();
        return;
      }
      send(res, bytes, 'text/javascript; charset=utf-8', asset === 'sw.js' ? { 'service-worker-allowed': '/s/dl/' } : {});
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const route = routes[path];
    if (route) {
      body(req).then(
        (b) => route(req, b, res),
        () => res.destroy(),
      );
      return;
    }
    if (!upstream) {
      res.writeHead(404).end();
      return;
    }
    const target = new URL(url, upstream());
    const out = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}
