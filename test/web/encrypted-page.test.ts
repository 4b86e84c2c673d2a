// The encrypted path of the pages, in real Chromium against a real agent on the devnet: a person stores a file
// through / with the encryption box on (the default), pays with the devnet button and gets a link with the key after
// its #; the agent holds only ciphertext (no name, another size, other bytes), and no request the pages made carries
// the key; someone else opens the link in another context and the file page decrypts and saves the same bytes
// under the original name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestAgent } from '../helpers/agent.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('an encrypted upload through / and its download through the link: ciphertext on the agent, the key in no request, the same bytes back', async (t) => {
  const { browser } = await launchChromium(t);
  const a = await startTestAgent(t);
  const origin = new URL(a.agent.url).origin;
  const plain = randomBytes(300 * 1024 + 17);
  const name = 'secret plans.bin';

  const up = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true });
  const sent: Array<{ url: string; headers: Record<string, string>; body: Buffer | null }> = [];
  up.on('request', (r) => sent.push({ url: r.url(), headers: r.headers(), body: r.postDataBuffer() }));
  const page = await up.newPage();
  await page.goto(`${a.agent.url}/`);
  await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: plain });
  const box = page.locator('#encrypt');
  await page.locator('#estimate').filter({ hasText: ' sat (' }).waitFor();
  assert.equal(await box.isChecked(), true, 'encryption is on by default');
  assert.equal(await box.isEnabled(), true, 'and available');
  await page.click('#continue');
  await page.locator('#pay').waitFor();
  await page.click('#devpay');
  await page.locator('#done').waitFor({ timeout: 120_000 });
  const link = (await page.locator('#link').getAttribute('href')) ?? '';
  const m = new RegExp(`^${origin}/s/([A-Za-z0-9_-]+)#([A-Za-z0-9_-]{43})$`).exec(link);
  assert.ok(m?.[1] && m[2], `the link carries the key after its #: ${link}`);
  const [fileId, key] = [m[1], m[2]];
  await up.close();

  // The agent has ciphertext only: no name, no type, a larger size, other bytes.
  const view = await a.api<{ size: number; filename: string | null; contentType: string | null }>('GET', `/v1/files/${fileId}`);
  assert.equal(view.body.filename, null);
  assert.equal(view.body.contentType, null);
  assert.ok(view.body.size > plain.length, 'the quote covered the ciphertext');
  const stored = Buffer.from(await (await fetch(`${a.agent.url}/f/${fileId}`)).arrayBuffer());
  assert.equal(stored.length, view.body.size);
  assert.equal(stored.indexOf(plain.subarray(0, 64)), -1, 'no plaintext on the agent');
  assert.equal(stored.indexOf(Buffer.from(name)), -1, 'nor the name');
  // No request carried the key: not in a URL, a header or a body.
  assert.ok(sent.length > 0);
  for (const r of sent) {
    assert.ok(!r.url.includes(key), `the key is in ${r.url}`);
    for (const [h, v] of Object.entries(r.headers)) assert.ok(!v.includes(key), `the key is in the ${h} header of ${r.url}`);
    assert.ok(!r.body || r.body.indexOf(key) === -1, `the key is in the body sent to ${r.url}`);
  }

  // Someone else opens the link: the page decrypts as the bytes arrive and saves the file under its own name.
  const down = await browser.newContext({ acceptDownloads: true });
  const urls: string[] = [];
  down.on('request', (r) => urls.push(r.url()));
  const other = await down.newPage();
  await other.goto(link);
  await other.locator('#info').waitFor();
  assert.ok(await other.locator('#encrypted-note').isVisible());
  const [download] = await Promise.all([other.waitForEvent('download', { timeout: 60_000 }), other.click('#download')]);
  assert.equal(download.suggestedFilename(), name);
  assert.equal(sha256(readFileSync(await download.path())), sha256(plain), 'the bytes decrypted are the bytes stored');
  await other.locator('#name').filter({ hasText: name }).waitFor();
  for (const u of urls) assert.ok(!u.includes(key) || u === link, `the key went out in ${u}`);
  await down.close();
});
