/**
 * Debian's Chromium through playwright-core, for the browser tests: never a browser of playwright's own
 * (`playwright install`). A missing Chromium fails the test with the command that installs it; it never skips.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/**
 * A headless Chromium, closed after the test, and a new context of it. The flags keep it off this machine's
 * closed network (no background fetches, no component updates, no QUIC); launch() gives it a fresh temporary
 * profile of its own, removed on close.
 */
export async function launchChromium(t: { after(fn: () => unknown): void }, options: BrowserContextOptions = {}): Promise<{ browser: Browser; context: BrowserContext }> {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`Chromium is missing at ${CHROMIUM}; this test needs a real browser: apt-get install -y chromium`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  return { browser, context: await browser.newContext({ acceptDownloads: true, ...options }) };
}
