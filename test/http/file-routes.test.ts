// The file routes as a browser or a client meets them, on a real agent and a real regtest chain: the security
// headers on every answer about a file's bytes (GET, HEAD, 206, 304), inline only for passive types, a free 304
// for If-None-Match, the upload's fileId only for its token, file links on filesUrl, and a contentType that
// could not be written as a header refused at quote time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { payAndConfirm, quote, upload, type Quote, type Stored } from '../helpers/paid.ts';
import { FILE_CSP } from '../../src/host/file-headers.ts';

const FILES_URL = 'https://files.example.test';

/** Quotes, pays (one block for all), and uploads each file. */
async function uploadAll(a: TestAgent, files: Array<{ bytes: Buffer; filename?: string; contentType?: string; downloads?: number }>): Promise<Array<Stored & { q: Quote }>> {
  const quoted: Array<{ bytes: Buffer; q: Quote }> = [];
  for (const f of files) {
    quoted.push({ bytes: f.bytes, q: await quote(a.api, { size: f.bytes.length, downloads: f.downloads ?? 20, ...(f.filename ? { filename: f.filename } : {}), ...(f.contentType ? { contentType: f.contentType } : {}) }) });
  }
  await payAndConfirm(a.api, quoted.map(({ q }) => q));
  const out: Array<Stored & { q: Quote }> = [];
  for (const { bytes, q } of quoted) out.push({ ...(await upload(a.api, q, bytes)), q });
  return out;
}

function assertSecure(r: Response, what: string): void {
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  assert.equal(r.headers.get('content-security-policy'), FILE_CSP, `${what}: CSP`);
  assert.match(r.headers.get('content-security-policy') ?? '', /(^|;\s*)sandbox(\s*;|$)/, `${what}: the CSP sandboxes`);
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/, `${what}: the CSP allows nothing`);
  assert.equal(r.headers.get('cross-origin-resource-policy'), 'cross-origin', `${what}: CORP`);
}

/** Balance, egress entries and download rows of a file: what a charge would move. */
function charges(a: TestAgent, fileId: string): { balance: bigint; egress: bigint; downloads: bigint } {
  const f = a.agent.db.prepare('SELECT balance_msat AS b FROM file_accounts WHERE file_id = ?').get(fileId) as { b: bigint };
  const e = a.agent.db.prepare("SELECT count(*) AS n FROM ledger_entries WHERE file_id = ? AND kind = 'egress'").get(fileId) as { n: bigint };
  const d = a.agent.db.prepare('SELECT count(*) AS n FROM downloads WHERE file_id = ?').get(fileId) as { n: bigint };
  return { balance: f.b, egress: e.n, downloads: d.n };
}

test('file routes: security headers, dispositions, free 304s, fileId gating, filesUrl, contentType grammar', async (t) => {
  // Storage priced high enough that a day costs a visible amount, so a 1 MiB file freezes within days.
  // Each download's charge is written as it ends (no group commit waits), so a charge is seen in the database.
  const a = await startTestAgent(t, { env: { STORJ_FILES_URL: `${FILES_URL}/`, STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000', STORJ_METER_BATCH_BYTES: '0' } });
  const base = a.agent.url;

  await t.test('a contentType that cannot be written as a header is refused at quote time with 400', async () => {
    for (const contentType of ['text/plain; x=\u0001', 'text/plain\r\nx-injected: 1', 'text/plain; x=\u00e9', 'text/plain; x="a\u0000"', 'text/html ', 'text', 'text/plain; charset']) {
      const r = await a.api<{ error: { code: string; message: string } }>('POST', '/v1/uploads', { size: 10, contentType });
      assert.equal(r.status, 400, `${JSON.stringify(contentType)}: ${r.text}`);
      assert.equal(r.body.error.code, 'BAD_REQUEST');
      // The message names the field and what it must be, not the two-hundred-character pattern.
      assert.match(r.body.error.message, /contentType.*media type/);
      assert.ok(r.body.error.message.length < 200, r.body.error.message);
    }
    const ok = await a.api('POST', '/v1/uploads', { size: 10, contentType: 'text/plain; charset="utf-8"; format=flowed' });
    assert.equal(ok.status, 201, ok.text);
  });

  const html = Buffer.from('<!doctype html><script>document.title = "ran"</script><p>hi</p>');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  const png = Buffer.alloc(1024 * 1024, 7);
  const txt = Buffer.from('plain words\n'.repeat(50));
  const raw = Buffer.from('untyped, unnamed bytes');
  const [fHtml, fSvg, fPng, fTxt, fRaw] = await uploadAll(a, [
    { bytes: html, filename: 'page.html', contentType: 'text/html; charset=utf-8' },
    { bytes: svg, filename: 'pic.svg', contentType: 'image/svg+xml' },
    { bytes: png, filename: 'pic.png', contentType: 'image/png', downloads: 1 },
    { bytes: txt, filename: 'note.txt', contentType: 'text/plain; charset=utf-8' },
    { bytes: raw },
  ]);
  assert.ok(fHtml && fSvg && fPng && fTxt && fRaw);

  await t.test('the file links handed out use filesUrl', () => {
    for (const f of [fHtml, fSvg, fPng, fTxt, fRaw]) assert.equal(f.url, `${FILES_URL}/f/${f.fileId}`);
  });

  await t.test('GET, HEAD, 206 and 304 all carry nosniff, the sandboxing CSP and CORP; inline only for passive types', async () => {
    const cases = [
      { f: fHtml, type: 'text/html; charset=utf-8', disposition: `attachment; filename="page.html"; filename*=UTF-8''page.html` },
      { f: fSvg, type: 'image/svg+xml', disposition: `attachment; filename="pic.svg"; filename*=UTF-8''pic.svg` },
      { f: fPng, type: 'image/png', disposition: `inline; filename="pic.png"; filename*=UTF-8''pic.png` },
      { f: fTxt, type: 'text/plain; charset=utf-8', disposition: `inline; filename="note.txt"; filename*=UTF-8''note.txt` },
      { f: fRaw, type: 'application/octet-stream', disposition: 'attachment' },
    ];
    for (const { f, type, disposition } of cases) {
      const link = `${base}/f/${f.fileId}`;
      const get = await fetch(link);
      assert.equal(get.status, 200, type);
      await get.arrayBuffer();
      const head = await fetch(link, { method: 'HEAD' });
      assert.equal(head.status, 200, type);
      const part = await fetch(link, { headers: { range: 'bytes=0-3' } });
      assert.equal(part.status, 206, type);
      assert.equal((await part.arrayBuffer()).byteLength, 4);
      const cached = await fetch(link, { headers: { 'if-none-match': `"${f.sha256}"` } });
      assert.equal(cached.status, 304, type);
      for (const [what, r] of [['GET', get], ['HEAD', head], ['206', part], ['304', cached]] as const) {
        assertSecure(r, `${type} ${what}`);
        assert.equal(r.headers.get('etag'), `"${f.sha256}"`, `${type} ${what}`);
      }
      for (const [what, r] of [['GET', get], ['HEAD', head], ['206', part]] as const) {
        assert.equal(r.headers.get('content-type'), type, `${type} ${what}`);
        assert.equal(r.headers.get('content-disposition'), disposition, `${type} ${what}`);
      }
    }
  });

  await t.test('If-None-Match with the ETag is a 304 that charges nothing: no hold, no download, no egress entry', async () => {
    const link = `${base}/f/${fTxt.fileId}`;
    const before = charges(a, fTxt.fileId);
    const other = `"${'0'.repeat(64)}"`;
    const conditions = [`"${fTxt.sha256}"`, `W/"${fTxt.sha256}"`, '*', `${other}, "${fTxt.sha256}"`];
    for (const inm of conditions) {
      for (const method of ['GET', 'HEAD']) {
        const r = await fetch(link, { method, headers: { 'if-none-match': inm } });
        assert.equal(r.status, 304, `${method} If-None-Match: ${inm}`);
        assert.equal(await r.text(), '', 'a 304 has no body');
      }
    }
    // If-None-Match is evaluated before Range (RFC 9110 13.2.2).
    const ranged = await fetch(link, { headers: { 'if-none-match': `"${fTxt.sha256}"`, range: 'bytes=0-9' } });
    assert.equal(ranged.status, 304);
    assert.deepEqual(charges(a, fTxt.fileId), before, 'the 304s moved no money and left no download behind');
    assert.equal(a.agent.host.owedMsat(fTxt.fileId), 0n, 'nothing is reserved or charged');

    // The same measurement sees a charge: a tag that does not match is a full, charged download.
    const miss = await fetch(link, { headers: { 'if-none-match': other } });
    assert.equal(miss.status, 200);
    assert.equal(await miss.text(), txt.toString());
    const after = charges(a, fTxt.fileId);
    assert.equal(after.egress, before.egress + 1n);
    assert.equal(after.downloads, before.downloads + 1n);
    assert.ok(after.balance < before.balance, 'the 200 was charged');

    // A condition never turns an error into a 304: an unsatisfiable range stays 416.
    const bad = await fetch(link, { headers: { 'if-none-match': `"${fTxt.sha256}"`, range: `bytes=${txt.length + 10}-` } });
    assert.equal(bad.status, 416);
    const unknown = await fetch(`${base}/f/${'A'.repeat(22)}`, { headers: { 'if-none-match': '*' } });
    assert.equal(unknown.status, 404);
  });

  await t.test('GET /v1/uploads/:id names the fileId only with the upload token', async () => {
    const q = fHtml.q;
    const none = await a.api<{ state: string; fileId?: string; amountSat: number }>('GET', `/v1/uploads/${q.id}`);
    assert.equal(none.status, 200);
    assert.equal(none.body.state, 'complete', 'the rest of the status is still shown');
    assert.equal(none.body.amountSat, q.amountSat);
    assert.equal(none.body.fileId, undefined);
    assert.doesNotMatch(none.text, new RegExp(fHtml.fileId));
    for (const authorization of [`Bearer ${fSvg.q.uploadToken}`, 'Bearer x', `Basic ${q.uploadToken}`, `Bearer ${q.uploadToken}x`]) {
      const wrong = await a.api<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization });
      assert.equal(wrong.status, 200);
      assert.equal(wrong.body.state, 'complete');
      assert.equal(wrong.body.fileId, undefined, authorization.replace(/ .*/, ' ...'));
    }
    const right = await a.api<{ state: string; fileId?: string }>('GET', `/v1/uploads/${q.id}`, undefined, { authorization: `Bearer ${q.uploadToken}` });
    assert.equal(right.body.fileId, fHtml.fileId);
  });

  await t.test('a frozen file: its GET stays a 402 under If-None-Match, its (free) HEAD may be a 304', async () => {
    await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
    assert.equal((await a.api<{ state: string }>('GET', `/v1/files/${fPng.fileId}`)).body.state, 'frozen');
    const link = `${base}/f/${fPng.fileId}`;
    const get = await fetch(link, { headers: { 'if-none-match': `"${fPng.sha256}"` } });
    assert.equal(get.status, 402);
    assert.equal(((await get.json()) as { error: { code: string } }).error.code, 'FILE_FROZEN');
    const head = await fetch(link, { method: 'HEAD', headers: { 'if-none-match': `"${fPng.sha256}"` } });
    assert.equal(head.status, 304);
    assertSecure(head, 'frozen HEAD 304');
  });
});
