// The upload page survives a reload, in real Chromium against a real agent on the devnet: the page keeps its
// pending quote in the tab's sessionStorage, so after a reload it goes back to the payment step, then asks for
// the same file again (refusing another one) and uploads it; a reload in the middle of an encrypted upload
// resumes it from the agent's offset with the same ciphertext. The key of an encrypted upload reaches no request
// and no localStorage. Screenshots of the restored steps are saved under test-artifacts/web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.ts';
import { payAndConfirm } from '../helpers/paid.ts';
import { tusProxy } from './tus-proxy.ts';

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'web');
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, acceptDownloads: true };
const STORAGE_KEY = 'storj-pending-upload';
// Run in the page (strings: the DOM is not in this project's types).
const QR_SHOWN = "(() => { const img = document.getElementById('qr'); return img !== null && img.complete && img.naturalWidth > 0; })()";
const PENDING = `sessionStorage.getItem(${JSON.stringify(STORAGE_KEY)})`;
const LOCAL_STORAGE = 'JSON.stringify(Object.entries(localStorage))';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Pending {
  id: string;
  token: string;
  address: string;
  amountSat: number;
  key?: string;
  salt?: string;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The page's pending upload, as it keeps it in sessionStorage (null when it keeps none). */
async function pending(page: Page): Promise<Pending | null> {
  const text = await page.evaluate<string | null>(PENDING);
  return text === null ? null : (JSON.parse(text) as Pending);
}

/** Writes `bytes` to `dir/name` (a real file, so that the browser gives it the file's own date). */
function fileOnDisk(dir: string, name: string, bytes: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Script errors of every page of a context. */
function pageErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  context.on('page', (p) => p.on('pageerror', (e) => errors.push(String(e))));
  return errors;
}

/** Opens `link` in a new context of the same browser and downloads the file with the page's button. */
async function download(context: BrowserContext, link: string, name: string): Promise<Buffer> {
  const other = await context.browser()?.newContext({ acceptDownloads: true });
  assert.ok(other, 'a second context');
  const page = await other.newPage();
  await page.goto(link);
  await page.locator('#info').waitFor();
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#download')]);
  assert.equal(d.suggestedFilename(), name);
  const bytes = readFileSync(await d.path());
  await other.close();
  return bytes;
}

/** Reloads and waits for the restored payment step of `p`: its address, amount and QR code, and a live status. */
async function reloadToPayment(page: Page, p: Pending): Promise<void> {
  await page.reload();
  await page.locator('#pay').waitFor();
  assert.equal(await page.locator('#address').innerText(), p.address, 'the same quote');
  assert.match(await page.locator('#amount-sat').innerText(), new RegExp(`^${p.amountSat.toLocaleString('en-US')} sat$`));
  await page.waitForFunction(QR_SHOWN);
  await page.locator('#pay-status').filter({ hasText: 'Waiting for the payment' }).waitFor();
  assert.ok(await page.locator('#start-over').isVisible(), 'the person may start over');
}

test('a reload while the payment is awaited: the page shows the same payment again, takes it, asks for the same file and stores it', async (t) => {
  const { context } = await launchChromium(t, PHONE);
  const errors = pageErrors(context);
  const a = await startTestAgent(t);
  const dir = tempDir(t);
  const bytes = randomBytes(300 * 1024 + 5);
  const name = 'holiday video.bin';
  const path = fileOnDisk(join(dir, 'right'), name, bytes);
  const page = await context.newPage();
  await page.goto(`${a.agent.url}/`);
  await page.setInputFiles('#file', path);
  await page.locator('#encrypt').setChecked(false);
  await page.locator('#estimate').filter({ hasText: ' sat (' }).waitFor();
  await page.click('#continue');
  await page.locator('#pay-status').filter({ hasText: 'Waiting for the payment' }).waitFor();
  const p = await pending(page);
  assert.ok(p, 'the quote is kept in sessionStorage');
  assert.equal(p.key, undefined, 'a plain upload keeps no key');

  await reloadToPayment(page, p);
  await shot(page, 'reload-1-pay-restored');
  // The customer's wallet pays after the reload.
  await payAndConfirm(a.api, [{ address: p.address, amountSat: p.amountSat }]);
  await page.locator('#resume').waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#resume-name').innerText(), name);
  await shot(page, 'reload-2-repick');

  // Another file of the same name is refused, with the reason; the page stays where it is.
  await page.setInputFiles('#resume-file', fileOnDisk(join(dir, 'other'), name, randomBytes(1000)));
  await page.locator('#resume-status').filter({ hasText: 'the upload paid for is' }).waitFor();
  assert.ok(await page.locator('#resume').isVisible());
  await shot(page, 'reload-3-wrong-file');
  // The same file goes through.
  await page.setInputFiles('#resume-file', path);
  await page.locator('#done').waitFor({ timeout: 120_000 });
  const link = (await page.locator('#link').getAttribute('href')) ?? '';
  const fileId = new RegExp(`^${new URL(a.agent.url).origin}/s/([A-Za-z0-9_-]+)$`).exec(link)?.[1];
  assert.ok(fileId, `a plain file's link: ${link}`);
  assert.equal(await pending(page), null, 'the stored upload is forgotten');

  const view = await a.api<{ size: number; sha256: string; filename: string }>('GET', `/v1/files/${fileId}`);
  assert.deepEqual([view.body.size, view.body.sha256, view.body.filename], [bytes.length, sha256(bytes), name]);
  assert.equal(sha256(await download(context, link, name)), sha256(bytes), 'the bytes downloaded are the bytes stored');
  assert.deepEqual(errors, [], 'no script error');
});

test('an encrypted upload survives a reload during the payment: the link opens the same bytes, the agent holds ciphertext, and the key reaches no request', async (t) => {
  const { context } = await launchChromium(t, PHONE);
  const errors = pageErrors(context);
  const sent: Array<{ url: string; headers: Record<string, string>; body: Buffer | null }> = [];
  context.on('request', (r) => sent.push({ url: r.url(), headers: r.headers(), body: r.postDataBuffer() }));
  const a = await startTestAgent(t);
  const plain = randomBytes(300 * 1024 + 17);
  const name = 'secret plans.bin';
  const path = fileOnDisk(tempDir(t), name, plain);
  const page = await context.newPage();
  await page.goto(`${a.agent.url}/`);
  await page.setInputFiles('#file', path);
  assert.equal(await page.locator('#encrypt').isChecked(), true, 'encrypted by default');
  await page.locator('#estimate').filter({ hasText: ' sat (' }).waitFor();
  await page.click('#continue');
  await page.locator('#pay-status').filter({ hasText: 'Waiting for the payment' }).waitFor();
  const p = await pending(page);
  assert.ok(p?.key && p.salt, 'an encrypted upload keeps its key and salt in the tab');

  await reloadToPayment(page, p);
  await shot(page, 'reload-encrypted-1-pay-restored');
  await page.click('#devpay');
  await page.locator('#resume').waitFor({ timeout: 60_000 });
  await shot(page, 'reload-encrypted-2-repick');
  await page.setInputFiles('#resume-file', path);
  await page.locator('#done').waitFor({ timeout: 120_000 });
  const link = (await page.locator('#link').getAttribute('href')) ?? '';
  const m = new RegExp(`^${new URL(a.agent.url).origin}/s/([A-Za-z0-9_-]+)#([A-Za-z0-9_-]{43})$`).exec(link);
  assert.ok(m?.[1] && m[2], `the link carries the key after its #: ${link}`);
  const [fileId, key] = [m[1], m[2]];
  assert.equal(key, p.key, 'the key made before the reload');
  assert.equal(await pending(page), null, 'the stored upload is forgotten, its key with it');
  assert.ok(!String(await page.evaluate(LOCAL_STORAGE)).includes(key), 'the key is not in localStorage');

  // The agent has ciphertext only, of the size quoted, and no request carried the key.
  const view = await a.api<{ size: number; filename: string | null }>('GET', `/v1/files/${fileId}`);
  assert.equal(view.body.filename, null);
  assert.ok(view.body.size > plain.length);
  const stored = Buffer.from(await (await fetch(`${a.agent.url}/f/${fileId}`)).arrayBuffer());
  assert.equal(stored.length, view.body.size);
  assert.equal(stored.indexOf(plain.subarray(0, 64)), -1, 'no plaintext on the agent');
  assert.ok(sent.some((r) => r.url.includes('/v1/tus')), 'the upload went through tus');
  for (const r of sent) {
    assert.ok(!r.url.includes(key), `the key is in ${r.url}`);
    for (const [h, v] of Object.entries(r.headers)) assert.ok(!v.includes(key), `the key is in the ${h} header of ${r.url}`);
    assert.ok(!r.body || r.body.indexOf(key) === -1, `the key is in the body sent to ${r.url}`);
  }
  assert.equal(sha256(await download(context, link, name)), sha256(plain), 'the link opens the same bytes');
  assert.deepEqual(errors, [], 'no script error');
});

/** Polls the agent (HEAD through tus, with the token) until it has recorded some bytes of the upload. */
async function recordedOffset(a: TestAgent, p: Pending): Promise<number> {
  let status = 0;
  for (let tries = 0; tries < 1200; tries++) {
    const r = await fetch(`${a.agent.url}/v1/tus/${p.id}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${p.token}` } });
    const offset = Number(r.headers.get('upload-offset'));
    if (r.status === 200 && offset > 0) return offset;
    status = r.status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the agent recorded nothing of the upload after 1200 looks (last HEAD ${status})`);
}

test('a reload in the middle of an encrypted upload: the page resumes from the agent offset, sends only the rest, and the link opens the same bytes', async (t) => {
  const a = await startTestAgent(t);
  const plain = randomBytes(6 * 1024 * 1024 + 3);
  const name = 'long recording.bin';
  const path = fileOnDisk(tempDir(t), name, plain);
  const proxy = await tusProxy(t, a.agent.url, 3 * 1024 * 1024, 'stall');
  const { context } = await launchChromium(t, PHONE);
  const errors = pageErrors(context);
  const page = await context.newPage();
  await page.goto(`${proxy.url}/`);
  await page.setInputFiles('#file', path);
  await page.locator('#estimate').filter({ hasText: ' sat (' }).waitFor();
  await page.click('#continue');
  await page.locator('#pay').waitFor();
  const p = await pending(page);
  assert.ok(p?.key, 'an encrypted upload');
  await page.click('#devpay');
  await page.locator('#upload').waitFor({ timeout: 60_000 });
  await proxy.cut;
  const kept = await recordedOffset(a, p);

  // The tab is reloaded in the middle of the upload.
  await page.reload();
  await page.locator('#resume').waitFor({ timeout: 60_000 });
  const before = proxy.seen.length;
  await page.setInputFiles('#resume-file', path);
  await page.locator('#done').waitFor({ timeout: 180_000 });
  const link = (await page.locator('#link').getAttribute('href')) ?? '';
  assert.ok(link.endsWith(`#${p.key}`), `the link carries the key: ${link}`);

  const first = proxy.seen.find((s) => s.method === 'PATCH');
  assert.ok(first?.cut && first.sent === 3 * 1024 * 1024, 'the first PATCH was stopped halfway');
  assert.ok(kept > 0 && kept <= first.sent, `the agent kept what reached it: ${kept} of ${first.sent}`);
  const after = proxy.seen.slice(before);
  const head = after.find((s) => s.method === 'HEAD' && s.offset !== undefined);
  assert.equal(head?.offset, kept, 'the reloaded page asked the agent where to go on from');
  const taken = after.filter((s) => s.method === 'PATCH' && s.status === 204);
  assert.equal(taken[0]?.from, kept, 'and went on from there');
  const view = await a.api<{ size: number; state: string }>('GET', `/v1/files/${link.split('/').pop()?.split('#')[0] ?? ''}`);
  assert.equal(view.body.state, 'active');
  assert.equal(
    taken.reduce((n, s) => n + s.sent, 0),
    view.body.size - kept,
    'only the rest was sent again',
  );
  assert.deepEqual(
    after.filter((s) => s.method === 'PATCH' && s.status !== 204),
    [],
    'no PATCH after the reload was refused',
  );
  assert.equal(proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/v1/tus')).length, 1, 'the upload was created once: the same ciphertext, the same tus fingerprint');
  // The ciphertext before the reload and after it are one file: the link decrypts all of it.
  assert.equal(sha256(await download(context, link.replace(proxy.url, a.agent.url), name)), sha256(plain), 'the link opens the same bytes');
  assert.deepEqual(errors, [], 'no script error');
});

test('start over forgets the quote; a quote that expired while the tab was away, or an upload the agent does not know, brings the page back to the form with a reason', async (t) => {
  const { context } = await launchChromium(t, PHONE);
  const errors = pageErrors(context);
  const a = await startTestAgent(t);
  const path = fileOnDisk(tempDir(t), 'notes.txt', Buffer.from('notes\n'.repeat(100)));
  const page = await context.newPage();
  await page.goto(`${a.agent.url}/`);
  const quote = async (): Promise<Pending> => {
    await page.setInputFiles('#file', path);
    await page.locator('#estimate').filter({ hasText: ' sat (' }).waitFor();
    await page.click('#continue');
    await page.locator('#pay').waitFor();
    const p = await pending(page);
    assert.ok(p);
    return p;
  };
  await quote();
  await page.click('#start-over');
  await page.locator('#pick').waitFor();
  assert.equal(await pending(page), null, 'start over forgets the quote');
  await page.reload();
  await page.locator('#estimate').waitFor();
  assert.ok(await page.locator('#pay').isHidden(), 'and a reload shows the form');

  const p = await quote();
  await a.api('POST', '/v1/dev/advance', { seconds: 2 * 3_600 });
  await page.reload();
  await page.locator('#error').filter({ hasText: 'The quote expired' }).waitFor();
  await page.locator('#pick').waitFor();
  assert.equal(await pending(page), null, `the expired quote ${p.id} is forgotten`);

  // An upload the agent does not know (another agent's, or its data gone): the same, with the agent's code.
  const unknown = { ...p, id: 'AAAAAAAAAAAAAAAAAAAAAA', probe: '', days: 1, downloads: 1, uploadSize: 600, name: 'notes.txt', type: 'text/plain', size: 600, lastModified: 0 };
  await page.evaluate(`sessionStorage.setItem(${JSON.stringify(STORAGE_KEY)}, ${JSON.stringify(JSON.stringify(unknown))})`);
  await page.reload();
  await page.locator('#error').filter({ hasText: 'does not know this upload (NOT_FOUND)' }).waitFor();
  await page.locator('#pick').waitFor();
  assert.equal(await pending(page), null, 'the unknown upload is forgotten');
  assert.deepEqual(errors, [], 'no script error');
});
