// In real Chromium, an upload through / that is cut off halfway resumes and sends only the remainder. A proxy in
// front of a real agent on the devnet serves the page (so the browser talks to it alone), forwards every request,
// and drops the connection of the first PATCH once half of the file has gone through: what the agent had by then
// is kept (src/host/resumable.ts), the page's tus client asks for the offset with a HEAD and sends the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestAgent } from '../helpers/agent.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { tusProxy } from './tus-proxy.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('an upload through / cut off halfway resumes from the offset the agent kept and sends only the remainder', async (t) => {
  const a = await startTestAgent(t);
  const bytes = randomBytes(6 * 1024 * 1024);
  const proxy = await tusProxy(t, a.agent.url, bytes.length / 2, 'drop');
  const { context } = await launchChromium(t);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  assert.equal((await page.goto(`${proxy.url}/`))?.status(), 200);
  await page.setInputFiles('#file', { name: 'resumed.bin', mimeType: 'application/octet-stream', buffer: bytes });
  // Plain, so the agent's sha256 is the file's own: the encrypted source is random access too (test/web/e2e-vectors.test.ts).
  await page.locator('#encrypt').setChecked(false);
  await page.click('#continue');
  await page.locator('#pay').waitFor();
  await page.click('#devpay');
  await page.locator('#done').waitFor({ timeout: 180_000 });
  const link = await page.locator('#link').getAttribute('href');
  assert.ok(link, 'the page gives a link');
  assert.deepEqual(errors, [], 'no script error');

  const patches = proxy.seen.filter((s) => s.method === 'PATCH');
  const first = patches[0];
  assert.ok(first?.cut, 'the first PATCH was cut off');
  assert.equal(first.sent, bytes.length / 2, 'half of the file went through before the cut');
  // After the cut the client asked where to go on from, and the agent kept what had reached it.
  const cutIndex = proxy.seen.indexOf(first);
  const head = proxy.seen.slice(cutIndex + 1).find((s) => s.method === 'HEAD' && s.offset !== undefined);
  assert.ok(head?.offset !== undefined, 'a HEAD after the cut read the offset');
  assert.ok(head.offset > 0 && head.offset <= first.sent, `the agent kept what reached it: offset ${head.offset} of ${first.sent} sent`);
  // Only the remainder went again: the PATCHes after the cut that the agent took carried exactly what it did not
  // have, from where it stood. Chromium itself may send the cut request once more on a new connection (it does so
  // for a request whose reused keep-alive connection drops before any answer): that copy still says offset 0, so
  // the agent refuses it at once with 409 and keeps none of it. Under load, Chromium may also give that copy up
  // before the 409 comes back (CI saw it), so it has no answer here; the sums above and the sha256 below show the
  // agent kept none of it either way.
  const after = patches.slice(1);
  const taken = after.filter((s) => s.status === 204);
  assert.ok(taken.length >= 1, 'the upload went on');
  assert.equal(taken[0]?.from, head.offset, 'it went on from the offset the agent reported');
  assert.equal(
    taken.reduce((n, s) => n + s.sent, 0),
    bytes.length - head.offset,
    'the bytes the agent took after the cut are the remainder',
  );
  for (const s of after.filter((p) => p.status !== 204)) {
    assert.deepEqual([s.status ?? 409, s.from], [409, 0], 'a PATCH the agent did not take was the cut one sent again, at its old offset');
  }
  assert.equal(
    proxy.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/v1/tus')).length,
    1,
    'the upload was created once, not started again',
  );

  const fileId = link.split('/').pop() ?? '';
  const view = await a.api<{ size: number; sha256: string; state: string }>('GET', `/v1/files/${fileId}`);
  assert.equal(view.status, 200);
  assert.deepEqual([view.body.size, view.body.sha256, view.body.state], [bytes.length, sha256(bytes), 'active']);
});
