// Customers' files never run as the agent, checked in a real browser (Debian's Chromium through playwright-core):
// an uploaded HTML page and an uploaded SVG image, each with a script, opened at their links on a real agent.
// The script of each marks any origin it runs in (a global and localStorage), so the test can look for it.
// Every check has a control: the same bytes from a tiny local server without the agent's headers, where the
// same probes see the script run and a fetch and a service worker succeed, so a regression cannot pass unseen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestAgent, type TestAgent } from '../helpers/agent.ts';

const MARK = 'storj-script-ran';
// The file's own script: marks the window and the origin's storage. In the agent's origin that would be the
// attack: storage, cookies, a service worker over /f/, requests as the agent.
const SCRIPT = `window.__ran = true; document.documentElement.setAttribute('data-ran', '1'); try { localStorage.setItem('${MARK}', location.origin); } catch (e) {}`;
const HTML = Buffer.from(`<!doctype html><html><head><title>hostile</title><script>${SCRIPT}</script></head><body><p>a customer's page</p></body></html>`);
const SVG = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>${SCRIPT}</script><rect width="10" height="10"/></svg>`);
// A 1x1 PNG and a one-page PDF: passive files a browser should still show in place.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/0WXo6wAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from('%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 100 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
const SW = Buffer.from('self.addEventListener("fetch", (e) => e.respondWith(new Response("owned")));');

interface Probe {
  origin: string;
  ran: boolean;
  storedMark: string;
  fetchInfo: string;
  serviceWorker: string;
}

/**
 * Run inside the opened document: what its own script did, and whether the document can act as an origin: fetch
 * the agent's /v1/info and register a service worker (a real script, so only the origin can make it fail). Each
 * outcome is a string starting "ok" or "failed". Plain JavaScript source, not a function of this file: tsx
 * would wrap a function with helpers the page does not have, and the DOM is not in this project's types.
 */
const PROBE = `async ({ swUrl, mark }) => {
  const outcome = async (f) => {
    try {
      return 'ok ' + (await f());
    } catch (e) {
      return 'failed ' + (e instanceof Error ? e.name + ': ' + e.message : String(e));
    }
  };
  return {
    origin: self.origin,
    ran: window.__ran === true || document.documentElement.getAttribute('data-ran') === '1',
    storedMark: await outcome(async () => String(localStorage.getItem(mark))),
    fetchInfo: await outcome(async () => {
      const r = await fetch('/v1/info');
      return r.status + ' ' + (await r.text()).slice(0, 40);
    }),
    serviceWorker: await outcome(async () => (await navigator.serviceWorker.register(swUrl)).scope),
  };
}`;

/** What remains in an origin afterwards: the mark in its storage, and its service workers. */
const LEFTOVERS = `(async (mark) => ({ mark: localStorage.getItem(mark), workers: (await navigator.serviceWorker.getRegistrations()).length }))`;

interface Quote {
  id: string;
  address: string;
  amountSat: number;
  uploadToken: string;
}

async function uploadAll(a: TestAgent, files: Array<{ bytes: Buffer; filename: string; contentType: string }>): Promise<string[]> {
  const qs: Quote[] = [];
  for (const f of files) {
    const r = await a.api<Quote>('POST', '/v1/uploads', { size: f.bytes.length, downloads: 10, filename: f.filename, contentType: f.contentType });
    assert.equal(r.status, 201, r.text);
    qs.push(r.body);
  }
  for (const q of qs) assert.equal((await a.api('POST', '/v1/dev/pay', { address: q.address, amountSat: q.amountSat })).status, 200);
  await a.api('POST', '/v1/dev/mine', { blocks: 1 });
  assert.equal((await a.api<{ outcome: string }>('POST', '/v1/dev/jobs/watcher')).body.outcome, 'ok');
  const links: string[] = [];
  for (const [i, q] of qs.entries()) {
    const r = await a.api<{ url: string }>('PUT', `/v1/uploads/${q.id}`, files[i]?.bytes, { authorization: `Bearer ${q.uploadToken}` });
    assert.equal(r.status, 201, r.text);
    links.push(r.body.url);
  }
  return links;
}

/** The control: the same bytes on another origin, with only the headers given (none by default). */
async function controlServer(t: { after(fn: () => unknown): void }, routes: Record<string, { body: Buffer; headers: OutgoingHttpHeaders }>): Promise<string> {
  const server = createServer((req, res) => {
    const route = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': route.body.length, ...route.headers }).end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Opens `url` in a new page and probes the document there. */
async function openAndProbe(context: BrowserContext, url: string, swUrl: string): Promise<Probe & { url: string; status: number | undefined }> {
  const page = await context.newPage();
  try {
    const res = await page.goto(url);
    assert.equal(page.url(), url, 'the document opened at the link');
    return { url: page.url(), status: res?.status(), ...(await page.evaluate<Probe>(`(${PROBE})(${JSON.stringify({ swUrl, mark: MARK })})`)) };
  } finally {
    await page.close();
  }
}

test("in Chromium, a customer's HTML and SVG files never run script as the agent; the same probes catch it without the agent's headers", async (t) => {
  const { context } = await launchChromium(t);
  const a = await startTestAgent(t);
  const agentOrigin = new URL(a.agent.url).origin;
  const [htmlLink, svgLink, textLink, swLink, pngLink, pdfLink] = await uploadAll(a, [
    { bytes: HTML, filename: 'page.html', contentType: 'text/html; charset=utf-8' },
    { bytes: SVG, filename: 'pic.svg', contentType: 'image/svg+xml' },
    // The same hostile page declared as plain text: a passive type, so it is shown inline, at its link, in a
    // document the probes can run in.
    { bytes: HTML, filename: 'page.txt', contentType: 'text/plain; charset=utf-8' },
    // A real script on the agent, for the service worker probe: only the document's origin can make it fail.
    { bytes: SW, filename: 'sw.js', contentType: 'text/javascript' },
    { bytes: PNG, filename: 'dot.png', contentType: 'image/png' },
    { bytes: PDF, filename: 'page.pdf', contentType: 'application/pdf' },
  ]);
  assert.ok(htmlLink && svgLink && textLink && swLink && pngLink && pdfLink);
  const swPath = new URL(swLink).pathname;

  await t.test('the HTML and SVG files are saved, never rendered: no document opens at their links', async () => {
    for (const [link, name, bytes] of [[htmlLink, 'page.html', HTML], [svgLink, 'pic.svg', SVG]] as const) {
      const page = await context.newPage();
      const download = page.waitForEvent('download');
      download.catch(() => undefined); // awaited below only when the navigation became a download
      let opened = false;
      try {
        await page.goto(link);
        opened = true;
      } catch (e) {
        // Chromium turns an attachment's navigation into a download and reports it as an aborted navigation.
        assert.match(String(e), /Download is starting|net::ERR_ABORTED/);
      }
      if (opened) {
        // A regression: the file became a document. Say what it could do there.
        const p = await page.evaluate<Probe>(`(${PROBE})(${JSON.stringify({ swUrl: swPath, mark: MARK })})`);
        await page.close();
        assert.fail(`${name} opened as a document at ${link}: ${JSON.stringify(p)}`);
      }
      const d = await download;
      assert.equal(d.suggestedFilename(), name);
      assert.deepEqual(readFileSync(await d.path()), bytes, 'the saved file is the upload');
      assert.notEqual(page.url(), link, 'the page never became the file');
      await page.close();
    }
  });

  await t.test('a hostile page shown inline at its link on the agent is sandboxed: its script does not run, and fetch and a service worker fail', async () => {
    const p = await openAndProbe(context, textLink, swPath);
    assert.equal(p.status, 200);
    assert.equal(p.ran, false, 'the file\'s script did not run');
    assert.equal(p.origin, 'null', 'the document has an opaque origin, not the agent\'s');
    assert.match(p.fetchInfo, /^failed/, `fetch('/v1/info'): ${p.fetchInfo}`);
    assert.match(p.serviceWorker, /^failed/, `serviceWorker.register: ${p.serviceWorker}`);
    assert.match(p.storedMark, /^failed SecurityError/, 'no storage of the agent\'s is reachable');
  });

  await t.test('passive files still show in place under the sandbox: an image, and a PDF in the built-in viewer', async () => {
    const page = await context.newPage();
    assert.equal((await page.goto(pngLink))?.status(), 200);
    assert.equal(page.url(), pngLink);
    assert.equal(await page.evaluate<number>('document.images.length === 1 && document.images[0].complete ? document.images[0].naturalWidth : -1'), 1, 'the image is shown');
    assert.equal((await page.goto(pdfLink))?.status(), 200);
    assert.equal(page.url(), pdfLink);
    // Chromium shows a PDF in its viewer, an extension frame inside the (sandboxed) document.
    const viewer = () => page.frames().some((f) => f.url().startsWith('chrome-extension://'));
    for (let i = 0; i < 100 && !viewer(); i++) await page.waitForEvent('frameattached', { timeout: 100 }).catch(() => undefined);
    assert.ok(viewer(), `the PDF viewer opened: ${page.frames().map((f) => f.url()).join(', ')}`);
    await page.close();
  });

  // The agent's own headers for the HTML and SVG files, minus the attachment: what a browser that rendered the
  // file anyway would meet. The CSP and nosniff alone must hold.
  const agentHeaders = async (link: string): Promise<OutgoingHttpHeaders> => {
    const r = await fetch(link, { method: 'HEAD' });
    assert.equal(r.status, 200);
    const h: OutgoingHttpHeaders = {};
    for (const k of ['content-type', 'content-security-policy', 'x-content-type-options', 'cross-origin-resource-policy']) {
      const v = r.headers.get(k);
      assert.ok(v, `the agent sends ${k}`);
      h[k] = v;
    }
    return h;
  };
  const replay = await controlServer(t, {
    '/page.html': { body: HTML, headers: await agentHeaders(htmlLink) },
    '/pic.svg': { body: SVG, headers: await agentHeaders(svgLink) },
    '/sw.js': { body: SW, headers: { 'content-type': 'text/javascript' } },
    '/v1/info': { body: Buffer.from('{"ok":true}'), headers: { 'content-type': 'application/json' } },
  });
  await t.test("rendered anyway, with the agent's CSP and nosniff, the HTML and SVG scripts do not run and can reach nothing", async () => {
    for (const path of ['/page.html', '/pic.svg']) {
      const p = await openAndProbe(context, `${replay}${path}`, '/sw.js');
      assert.equal(p.ran, false, `${path}: the script did not run`);
      assert.equal(p.origin, 'null', path);
      assert.match(p.fetchInfo, /^failed/, `${path} fetch: ${p.fetchInfo}`);
      assert.match(p.serviceWorker, /^failed/, `${path} serviceWorker: ${p.serviceWorker}`);
    }
  });

  // The control: the same bytes without the agent's headers, each on an origin of its own (a service worker
  // registered by one would otherwise answer for the next). Here the same probes must see everything succeed, or
  // the checks above would prove nothing.
  const bare = async (path: string, body: Buffer, contentType: string) =>
    controlServer(t, {
      [path]: { body, headers: { 'content-type': contentType } },
      '/sw.js': { body: SW, headers: { 'content-type': 'text/javascript' } },
      '/v1/info': { body: Buffer.from('{"ok":true}'), headers: { 'content-type': 'application/json' } },
    });
  await t.test('control: without those headers the same files run their script in the serving origin, and fetch and a service worker succeed', async () => {
    for (const [path, body, type] of [['/page.html', HTML, 'text/html; charset=utf-8'], ['/pic.svg', SVG, 'image/svg+xml'], ['/page.txt', HTML, 'text/plain; charset=utf-8']] as const) {
      const origin = await bare(path, body, type);
      const p = await openAndProbe(context, `${origin}${path}`, '/sw.js');
      assert.equal(p.origin, origin, path);
      const scripted = path !== '/page.txt'; // plain text has no script to run
      assert.equal(p.ran, scripted, `${path}: the script ran`);
      assert.equal(p.storedMark, scripted ? `ok ${origin}` : 'ok null', `${path}: the script's mark is in the origin's storage`);
      assert.match(p.fetchInfo, /^ok 200/, `${path} fetch: ${p.fetchInfo}`);
      assert.match(p.serviceWorker, /^ok /, `${path} serviceWorker: ${p.serviceWorker}`);
    }
  });

  await t.test("afterwards the agent's origin holds no mark and no service worker", async () => {
    const page = await context.newPage();
    await page.goto(`${a.agent.url}/v1/info`);
    assert.equal(new URL(page.url()).origin, agentOrigin);
    const seen = await page.evaluate<{ mark: string | null; workers: number }>(`${LEFTOVERS}(${JSON.stringify(MARK)})`);
    assert.deepEqual(seen, { mark: null, workers: 0 });
    await page.close();
  });
});
