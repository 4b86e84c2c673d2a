// A streaming save in real Chromium through a real agent: `storj upload --encrypt --pay` puts a 5 MB file on an
// agent on the devnet, and a page on the agent's origin (at the /s/ link the CLI prints, key in its #fragment)
// decrypts the bytes of /f/ with src/web/assets/e2e.js and saves them through the service worker sw.js. The
// browser's download holds the plaintext under its sealed name; no request carried the key or the name, and the
// worker's download URL never reached the agent. A tampered file fails in the page with E2E_TAMPERED, and its
// download fails rather than leaving a file that looks whole. Without a service worker, the save falls back to a
// Blob held by the page.
//
// The pages and assets are the web module's to serve (docs/encryption.md, "In a browser"); here one origin in
// front of the agent serves src/web/assets/ at /assets/ with the agent pages' headers and a minimal file page at
// /s/FILE_ID, and passes everything else (/f/, /v1/) to the agent, so the page, its worker and the bytes share
// the agent's origin as they will.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Download } from 'playwright-core';
import { encodeKey, encrypt, newKey } from '../../src/e2e/index.ts';
import { startTestAgent, tempDir } from '../helpers/agent.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { runStorj } from '../helpers/cli.ts';
import { send, serveOrigin } from './e2e-origin.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The file page's part this test needs: a button that decrypts /f/FILE_ID with the #key and saves it. */
const FILE_PAGE = '<!doctype html><meta charset="utf-8"><title>file</title><button id="save">Download</button><script type="module" src="/test/file-page.js"></script>';
const FILE_PAGE_JS = `
import { decodeKey, decryptResponse, saveStream } from '/assets/e2e.js';
const state = (s) => { document.body.dataset.state = s; };
const id = location.pathname.split('/').pop();
document.getElementById('save').addEventListener('click', async () => {
  try {
    const key = decodeKey(location.hash.slice(1));
    const file = await decryptResponse(await fetch('/f/' + id), key);
    state('saving');
    await saveStream(file.name, file.type, file.stream, file.size);
    state('saved ' + file.name);
  } catch (e) {
    state('error ' + (e.code || e.name) + ': ' + e.message);
  }
});
state('ready');
`;

test('in Chromium, an encrypted 5 MB file uploaded with the CLI is decrypted on the agent\'s origin and saved through the service worker: the download is the plaintext, under its sealed name', async (t) => {
  const { context } = await launchChromium(t);
  let agentUrl = '';
  const routes: Parameters<typeof serveOrigin>[1] = {
    '/test/file-page.js': (_req, _b, res) => send(res, FILE_PAGE_JS, 'text/javascript; charset=utf-8'),
  };
  const { origin, requests } = await serveOrigin(t, routes, () => agentUrl);
  // Links name the origin in front, so the page, the worker and the bytes are all on it.
  const a = await startTestAgent(t, { env: { STORJ_PUBLIC_URL: origin } });
  agentUrl = a.agent.url;

  const name = 'rapport annuel – 2026 ✓.bin';
  const plain = randomBytes(5 * 1024 * 1024 + 4321);
  const file = join(tempDir(t, 'storj-e2e-save-'), name);
  writeFileSync(file, plain);
  const up = await runStorj(['upload', file, '--encrypt', '--pay', '--url', origin], {}, { clear: ['STORJ_URL', 'STORJ_LISTEN'], timeoutMs: 180_000 });
  assert.equal(up.code, 0, `upload --encrypt: ${up.stderr}\n${up.stdout}`);
  const line = /^link\s+(http:\/\/\S+\/s\/([A-Za-z0-9_-]{22}))#([A-Za-z0-9_-]{43})$/m.exec(up.stdout);
  assert.ok(line?.[1] && line[2] && line[3], up.stdout);
  const [, pageUrl, fileId, keyText] = line;
  assert.equal(pageUrl, `${origin}/s/${fileId}`);
  routes[`/s/${fileId}`] = (_req, _b, res) => send(res, FILE_PAGE, 'text/html; charset=utf-8');

  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(`${pageUrl}#${keyText}`);
  await page.waitForSelector('body[data-state="ready"]');
  const downloaded = page.waitForEvent('download');
  await page.click('#save');
  const d = await downloaded;
  // A selector, not a function: the page's CSP allows no eval.
  await page.waitForSelector('body[data-state^="saved"], body[data-state^="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), `saved ${name}`);
  assert.equal(await d.failure(), null);
  assert.equal(d.suggestedFilename(), name, 'saved under the name sealed inside the file');
  const saved = readFileSync(await d.path());
  assert.equal(saved.length, plain.length);
  assert.equal(sha256(saved), sha256(plain), 'the download is the plaintext');
  assert.ok(d.url().startsWith(`${origin}/s/dl/`), `the worker's URL: ${d.url()}`);
  assert.ok(!d.url().includes(encodeURIComponent(name)) && !d.url().includes(keyText), 'the download URL holds neither name nor key');

  // The worker is registered on the agent's origin, for /s/dl/ only.
  const scopes = await page.evaluate<string[]>('navigator.serviceWorker.getRegistrations().then((rs) => rs.map((r) => r.scope))');
  assert.deepEqual(scopes, [`${origin}/s/dl/`]);
  // What reached the origin: the page, its scripts, the bytes; never the worker's URL, the key or the name.
  assert.ok(requests.includes(`GET /f/${fileId}`), requests.join('\n'));
  assert.ok(requests.includes('GET /assets/sw.js'), 'the worker was fetched from the origin');
  assert.ok(!requests.some((r) => r.includes('/s/dl/')), `the download never reached the server:\n${requests.join('\n')}`);
  for (const r of requests) {
    assert.ok(!r.includes(keyText), `no request carries the key: ${r}`);
    assert.ok(!r.includes(encodeURIComponent('rapport')) && !r.includes('rapport'), `no request carries the name: ${r}`);
  }
  assert.deepEqual(consoleErrors, [], 'no console errors under the CSP');

  // A tampered file (served on the same origin in the agent's place): the page says E2E_TAMPERED, and a download
  // that had started fails rather than ending as a file that looks whole.
  const key = newKey();
  const tampered = encrypt(randomBytes(1_000_000), { key, name: 'tampered.bin' });
  tampered[600_000] = (tampered[600_000] ?? 0) ^ 0x10;
  const badId = 'BBBBBBBBBBBBBBBBBBBBBB';
  routes[`/f/${badId}`] = (_req, _b, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tampered.length }).end(tampered);
  routes[`/s/${badId}`] = (_req, _b, res) => send(res, FILE_PAGE, 'text/html; charset=utf-8');
  const bad = await context.newPage();
  const downloads: Download[] = [];
  bad.on('download', (x) => downloads.push(x));
  await bad.goto(`${origin}/s/${badId}#${encodeKey(key)}`);
  await bad.waitForSelector('body[data-state="ready"]');
  await bad.click('#save');
  await bad.waitForSelector('body[data-state^="saved"], body[data-state^="error"]', { timeout: 60_000 });
  assert.match((await bad.getAttribute('body', 'data-state')) ?? '', /^error E2E_TAMPERED: /);
  for (const x of downloads) assert.notEqual(await x.failure(), null, 'the tampered download did not complete');
});

test('in Chromium without a service worker (as on plain http to another host), saveStream falls back to a Blob: the download is the plaintext, from a blob: URL of the page', async (t) => {
  const { context } = await launchChromium(t);
  const key = newKey();
  const plain = randomBytes(1_500_000);
  const cipher = encrypt(plain, { key, name: 'fallback.txt', contentType: 'text/plain' });
  const id = 'CCCCCCCCCCCCCCCCCCCCCC';
  const { origin, requests } = await serveOrigin(t, {
    '/test/file-page.js': (_req, _b, res) => send(res, FILE_PAGE_JS, 'text/javascript; charset=utf-8'),
    [`/s/${id}`]: (_req, _b, res) => send(res, FILE_PAGE, 'text/html; charset=utf-8'),
    [`/f/${id}`]: (_req, _b, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': cipher.length }).end(cipher),
  });
  const page = await context.newPage();
  // What a browser without service workers offers a page (an insecure context has no navigator.serviceWorker).
  await page.addInitScript('Object.defineProperty(Navigator.prototype, "serviceWorker", { get: () => undefined })');
  await page.goto(`${origin}/s/${id}#${encodeKey(key)}`);
  await page.waitForSelector('body[data-state="ready"]');
  const downloaded = page.waitForEvent('download');
  await page.click('#save');
  const d = await downloaded;
  await page.waitForSelector('body[data-state^="saved"], body[data-state^="error"]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'saved fallback.txt');
  assert.ok(d.url().startsWith('blob:'), `saved from memory: ${d.url()}`);
  assert.equal(d.suggestedFilename(), 'fallback.txt');
  assert.equal(sha256(readFileSync(await d.path())), sha256(plain));
  assert.ok(!requests.includes('GET /assets/sw.js'), 'no worker was asked for');
});
