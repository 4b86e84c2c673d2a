// The customers' pages in a real browser (Debian's Chromium through playwright-core) against a real agent on the
// devnet: a person stores a file through / on a phone and on a desktop, pays with the devnet button and gets a link;
// someone else opens the link in another browser context and downloads the same bytes. Every request the pages make
// goes to the agent, and every page and asset carries the strict Content-Security-Policy. Screenshots of each page
// are saved under test-artifacts/web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { paidFile, payAndConfirm } from '../helpers/paid.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'web');
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, acceptDownloads: true };
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 }, acceptDownloads: true };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Run in the page (a string: the DOM is not in this project's types): the QR code image has loaded and has a size.
const QR_SHOWN = "(() => { const img = document.getElementById('qr'); return img !== null && img.complete && img.naturalWidth > 0; })()";

/** A satoshi amount in BTC, as the pages and BIP21 write it. */
const btc = (sat: number): string => `${BigInt(sat) / 100_000_000n}.${(BigInt(sat) % 100_000_000n).toString().padStart(8, '0')}`;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Every request a context's pages make, and every console message about the Content-Security-Policy. */
function record(context: BrowserContext): { urls: string[]; cspViolations: string[]; pageErrors: string[] } {
  const seen = { urls: [] as string[], cspViolations: [] as string[], pageErrors: [] as string[] };
  context.on('request', (r) => seen.urls.push(r.url()));
  context.on('page', (p) => {
    p.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) seen.cspViolations.push(m.text());
    });
    p.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  });
  return seen;
}

/** Each URL is the agent's (or a data:/blob: URL a page made itself). */
function assertOnlyAgent(urls: string[], origin: string): void {
  assert.ok(urls.length > 0, 'requests were recorded');
  const outside = urls.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
  assert.deepEqual(outside, [], 'no request leaves the agent');
}

/**
 * Stores `bytes` as `name` through / in a new context of `browser` with `options`, unencrypted, paying with the
 * devnet button. @returns the share link the page gives
 */
async function storeThroughPage(browser: Browser, a: TestAgent, options: BrowserContextOptions, label: string, name: string, bytes: Buffer): Promise<string> {
  const context = await browser.newContext(options);
  const seen = record(context);
  const page = await context.newPage();
  const origin = new URL(a.agent.url).origin;
  assert.equal((await page.goto(`${a.agent.url}/`))?.status(), 200);
  await page.setInputFiles('#file', { name, mimeType: 'text/plain', buffer: bytes });
  // The plain path: the encryption box off (the encrypted round trip is the encryption module's test).
  await page.locator('#encrypt').setChecked(false);
  await page.fill('#days', '5');
  await page.fill('#downloads', '2');
  const estimate = page.locator('#estimate');
  await estimate.filter({ hasText: ' sat (' }).waitFor();
  const estimated = /^([\d,]+) sat/.exec(await estimate.innerText())?.[1];
  assert.ok(estimated, `the page shows a price: ${await estimate.innerText()}`);
  await shot(page, `${label}-1-pick`);

  await page.click('#continue');
  await page.locator('#pay').waitFor();
  const quoted = /^([\d,]+) sat$/.exec(await page.locator('#amount-sat').innerText())?.[1];
  assert.equal(quoted, estimated, 'the price shown while typing is the quote');
  const address = await page.locator('#address').innerText();
  assert.match(address, /^bcrt1q[02-9ac-hj-np-z]{38}$/, 'a regtest P2WPKH address');
  const uri = await page.locator('#uri').innerText();
  assert.ok(uri.startsWith(`bitcoin:${address}?amount=`), uri);
  assert.match(await page.locator('#amount-btc').innerText(), /^0\.\d{8}$/, 'the amount a wallet takes, in BTC');
  // The QR code is the agent's SVG of the URI, drawn in the page.
  const qr = page.locator('#qr');
  assert.equal(await qr.getAttribute('src'), `/v1/qr?data=${encodeURIComponent(uri)}`);
  await page.waitForFunction(QR_SHOWN);
  const qrBox = await qr.boundingBox();
  assert.ok(qrBox && qrBox.width >= 150 && qrBox.width <= (options.viewport?.width ?? 1280), `the QR code is large enough to scan and fits: ${JSON.stringify(qrBox)}`);
  assert.ok(await page.locator('#devpay').isVisible(), 'the devnet offers to pay');
  await shot(page, `${label}-2-pay`);

  await page.click('#devpay');
  await page.locator('#done').waitFor({ timeout: 120_000 });
  const link = await page.locator('#link').getAttribute('href');
  assert.ok(link, 'a link');
  assert.match(link, new RegExp(`^${origin}/s/[A-Za-z0-9_-]+$`), 'the file page, with no key for a plain file');
  assert.match(await page.locator('#funded').innerText(), /\d/, 'funded until a date');
  await shot(page, `${label}-3-done`);

  // The page's view of the payment: the upload is complete, and the link is its file.
  const fileId = link.split('/').pop() ?? '';
  const view = await a.api<{ size: number; filename: string; state: string }>('GET', `/v1/files/${fileId}`);
  assert.equal(view.status, 200);
  assert.deepEqual([view.body.size, view.body.filename, view.body.state], [bytes.length, name, 'active']);
  assertOnlyAgent(seen.urls, origin);
  assert.deepEqual(seen.cspViolations, [], 'the page breaks no rule of its own CSP');
  assert.deepEqual(seen.pageErrors, [], 'no script error');
  await context.close();
  return link;
}

/** Opens `link` in a fresh context and downloads the file with the page's button. @returns the saved bytes */
async function downloadThroughPage(browser: Browser, a: TestAgent, options: BrowserContextOptions, label: string, link: string, name: string): Promise<Buffer> {
  const context = await browser.newContext(options);
  const seen = record(context);
  const page = await context.newPage();
  assert.equal((await page.goto(link))?.status(), 200);
  await page.locator('#info').waitFor();
  assert.equal(await page.locator('#name').innerText(), name);
  assert.equal(await page.locator('#state').innerText(), 'active');
  assert.ok(await page.locator('#topup').isVisible(), 'anyone may top it up');
  assert.ok(await page.locator('#frozen').isHidden(), 'a funded file asks for nothing');
  await shot(page, `${label}-4-file`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(download.suggestedFilename(), name);
  const saved = readFileSync(await download.path());
  assertOnlyAgent(seen.urls, new URL(a.agent.url).origin);
  assert.deepEqual(seen.cspViolations, []);
  assert.deepEqual(seen.pageErrors, []);
  await context.close();
  return saved;
}

test('a person stores a file through / on a phone and on a desktop, pays with the devnet button, and another browser downloads the same bytes from the link', async (t) => {
  const { browser } = await launchChromium(t);
  const a = await startTestAgent(t);
  for (const [label, options] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
    await t.test(label, async () => {
      const name = `notes-${label}.txt`;
      const bytes = Buffer.from(`${label}: ${'the quick brown fox jumps over the lazy dog\n'.repeat(2000)}`);
      const link = await storeThroughPage(browser, a, options, label, name, bytes);
      // Someone else, in another context (no storage, no cookies of the uploader's), on the other viewport.
      const saved = await downloadThroughPage(browser, a, label === 'phone' ? DESKTOP : PHONE, label, link, name);
      assert.equal(sha256(saved), sha256(bytes), 'the bytes downloaded are the bytes stored');
    });
  }
});

test('a frozen file\'s page shows the top-up a download needs: the amount GET /f/ answers with its 402', async (t) => {
  const { browser } = await launchChromium(t);
  // Expensive storage, so that days cost a visible amount and three of them use up one day's payment.
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' } });
  const bytes = Buffer.alloc(1024 * 1024, 7);
  const { fileId, quote: q } = await paidFile(a.api, bytes, { days: 1, downloads: 1, filename: 'frozen.bin', contentType: 'application/octet-stream' });
  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  const view = await a.api<{ state: string; downloadTopUpSat?: number }>('GET', `/v1/files/${fileId}`);
  assert.equal(view.body.state, 'frozen');
  const refused = await a.api<{ error: { code: string }; amountSat: number }>('GET', `/f/${fileId}`);
  assert.equal(refused.status, 402);
  assert.equal(refused.body.error.code, 'FILE_FROZEN');
  assert.equal(view.body.downloadTopUpSat, refused.body.amountSat, 'GET /v1/files tells the 402 amount for free');

  const context = await browser.newContext(PHONE);
  const seen = record(context);
  const page = await context.newPage();
  await page.goto(`${a.agent.url}/s/${fileId}`);
  await page.locator('#info').waitFor();
  assert.equal(await page.locator('#state').innerText(), 'frozen');
  assert.ok(await page.locator('#frozen').isVisible(), 'the page says the file is frozen');
  const amount = refused.body.amountSat.toLocaleString('en-US');
  assert.match(await page.locator('#topup-sat').innerText(), new RegExp(`^${amount} sat \\(${btc(refused.body.amountSat).replace('.', '\\.')} BTC\\)$`));
  // The top-up code asks for that amount at the file's own address.
  const uri = await page.locator('#uri').innerText();
  assert.ok(uri.startsWith(`bitcoin:${q.address}?amount=`), uri);
  assert.equal(new URL(uri.replace('bitcoin:', 'bitcoin://')).searchParams.get('amount'), btc(refused.body.amountSat));
  await page.waitForFunction(QR_SHOWN);
  assert.ok(await page.locator('#delete-at').isVisible(), 'when it will be deleted');
  await shot(page, 'frozen-file');

  // Download before the top-up: the page asks the agent again and says what is needed, instead of opening the 402.
  let downloads = 0;
  page.on('download', () => downloads++);
  await page.click('#download');
  await page.locator('#error').filter({ hasText: 'needs the top-up first' }).waitFor();
  assert.equal(page.url(), `${a.agent.url}/s/${fileId}`, 'still on the file page');
  // Anyone pays the amount shown (here the devnet's miner); the same button then downloads the file.
  await payAndConfirm(a.api, [{ address: q.address, amountSat: refused.body.amountSat }]);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(sha256(readFileSync(await download.path())), sha256(bytes), 'after the top-up the bytes come');
  assert.equal(downloads, 1, 'one download: the one after the top-up');
  assertOnlyAgent(seen.urls, new URL(a.agent.url).origin);
  assert.deepEqual(seen.cspViolations, []);
  assert.deepEqual(seen.pageErrors, []);
  await context.close();
});

test('every page, asset and QR code carries the strict CSP, nosniff and no-referrer, with an ETag for a free 304; nothing else is served', async (t) => {
  const a = await startTestAgent(t);
  const base = a.agent.url;
  const qrPath = `/v1/qr?data=${encodeURIComponent('bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080?amount=0.00012345&label=storj')}`;
  const expected: Record<string, RegExp> = {
    '/': /^text\/html; charset=utf-8$/,
    '/s/AAAAAAAAAAAAAAAAAAAAAA': /^text\/html; charset=utf-8$/,
    '/assets/app.js': /^text\/javascript; charset=utf-8$/,
    '/assets/file.js': /^text\/javascript; charset=utf-8$/,
    '/assets/common.js': /^text\/javascript; charset=utf-8$/,
    '/assets/upload.js': /^text\/javascript; charset=utf-8$/,
    '/assets/pending.js': /^text\/javascript; charset=utf-8$/,
    '/assets/price.js': /^text\/javascript; charset=utf-8$/,
    '/assets/style.css': /^text\/css; charset=utf-8$/,
    [qrPath]: /^image\/svg\+xml$/,
  };
  for (const [path, type] of Object.entries(expected)) {
    const r = await fetch(`${base}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', type, path);
    assert.equal(r.headers.get('content-security-policy'), CSP, path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
    const etag = r.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9a-f]{64}"$/, path);
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(etag, `"${sha256(body)}"`, `${path}: the ETag is the body's sha256`);
    const again = await fetch(`${base}${path}`, { headers: { 'if-none-match': etag ?? '' } });
    assert.equal(again.status, 304, `${path} revalidates`);
    assert.equal(again.headers.get('content-security-policy'), CSP);
    if (path.endsWith('.html') || type.source.includes('html')) {
      assert.doesNotMatch(body.toString(), /<script>|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=/i, `${path}: no inline script, style or handler`);
    }
  }
  // The QR code is an SVG with no script, drawn for bitcoin: URIs only.
  const svg = await (await fetch(`${base}${qrPath}`)).text();
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
  assert.doesNotMatch(svg, /script/i);
  for (const data of ['https://example.com/', 'javascript:alert(1)', 'bitcoin:', `bitcoin:${'a'.repeat(600)}`, 'bitcoin:bcrt1q w508', 'bitcoin:bcrt1q\u00e9']) {
    const r = await a.api<{ error: { code: string } }>('GET', `/v1/qr?data=${encodeURIComponent(data)}`);
    assert.equal(r.status, 400, data);
    assert.equal(r.body.error.code, 'BAD_REQUEST', data);
  }
  // Only the pages' files: no page under /assets/, no path out of the folder, nothing unknown.
  for (const path of ['/assets/index.html', '/assets/..%2Fassets.ts', '/assets/%2e%2e/routes.ts', '/assets/nope.js', '/assets/', '/s/']) {
    const r = await fetch(`${base}${path}`);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
  }
  // The devnet flag the page reads is the agent's: this agent has the devnet controls.
  assert.match(await (await fetch(`${base}/`)).text(), /<html lang="en" data-devnet="true">/);
});
