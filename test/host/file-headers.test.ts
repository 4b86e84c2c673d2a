// The header policy for customers' files (src/host/file-headers.ts): the media-type grammar a contentType must
// follow at quote time, inline only for passive types, the security headers on every answer, and If-None-Match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateHeaderValue } from 'node:http';
import { contentDisposition, fileHeaders, FILE_CSP, isMediaType, isPassive, MEDIA_TYPE_PATTERN, notModifiedHeaders } from '../../src/host/file-headers.ts';
import { ifNoneMatch } from '../../src/http/index.ts';

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'media-type.json'), 'utf8')) as { valid: string[]; invalid: string[] };
const SHA = 'ab'.repeat(32);

test('contentType: RFC 9110 media types are accepted, and each can be written as a header by node', () => {
  for (const v of vectors.valid) {
    assert.ok(isMediaType(v), `valid: ${JSON.stringify(v)}`);
    assert.doesNotThrow(() => validateHeaderValue('content-type', v), `node writes ${JSON.stringify(v)}`);
  }
});

test('contentType: anything else is refused, control characters and non-ASCII included', () => {
  for (const v of vectors.invalid) assert.equal(isMediaType(v), false, `invalid: ${JSON.stringify(v)}`);
});

test('the JSON Schema pattern is the same grammar under the u flag that ajv compiles it with', () => {
  const re = new RegExp(MEDIA_TYPE_PATTERN, 'u');
  for (const v of vectors.valid) assert.ok(re.test(v), v);
  for (const v of vectors.invalid) assert.equal(re.test(v), false, v);
});

test('inline only for raster images, audio, video, plain text and PDF; SVG, HTML, XML and the rest are attachments', () => {
  const inline = ['image/png', 'IMAGE/JPEG', 'image/gif', 'image/webp', 'image/avif', 'audio/mpeg', 'audio/ogg; codecs=opus', 'video/mp4', 'video/webm', 'text/plain', 'text/plain; charset=utf-8', 'application/pdf'];
  const attachment = [
    'image/svg+xml',
    'Image/SVG+XML; charset=utf-8',
    'text/html',
    'text/html; charset=utf-8',
    'application/xhtml+xml',
    'text/xml',
    'application/xml',
    'text/javascript',
    'application/javascript',
    'application/json',
    'text/css',
    'text/plain2',
    'application/octet-stream',
    'video/vnd.example+xml',
    'image/x-unknown',
    'multipart/x-mixed-replace; boundary=x',
    'text/plain; x=\u0001',
  ];
  for (const t of inline) {
    assert.ok(isPassive(t), t);
    assert.equal(contentDisposition(null, t), 'inline');
  }
  for (const t of attachment) {
    assert.equal(isPassive(t), false, t);
    assert.equal(contentDisposition(null, t), 'attachment');
  }
  assert.equal(isPassive(null), false, 'no declared type: saved');
});

test('the filename is kept, as ASCII and as RFC 8187 UTF-8, with the disposition by type', () => {
  assert.equal(contentDisposition('a "b".html', 'text/html'), `attachment; filename="a _b_.html"; filename*=UTF-8''a%20%22b%22.html`);
  assert.equal(contentDisposition('Ünïcødé (1).png', 'image/png'), `inline; filename="_n_c_d_ (1).png"; filename*=UTF-8''%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%281%29.png`);
  assert.doesNotThrow(() => validateHeaderValue('content-disposition', contentDisposition('x\u2028y.txt', 'text/plain')));
  assert.equal(contentDisposition('a\ud800b\u007f\u0085.txt', 'text/plain'), `inline; filename="a_b__.txt"; filename*=UTF-8''a%EF%BF%BDb%7F%C2%85.txt`, 'a lone surrogate, DEL and a C1 control');
});

test('every file answer carries nosniff, a CSP that sandboxes and allows nothing, and CORP', () => {
  const h = fileHeaders({ sha256: SHA, contentType: 'text/html', filename: 'x.html' });
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['content-security-policy'], FILE_CSP);
  const directives = FILE_CSP.split(';').map((d) => d.trim());
  assert.ok(directives.includes("default-src 'none'"));
  assert.ok(directives.includes('sandbox'), 'sandbox with no allow- tokens');
  assert.equal(h['cross-origin-resource-policy'], 'cross-origin');
  assert.equal(h['content-disposition'], `attachment; filename="x.html"; filename*=UTF-8''x.html`);
  assert.equal(h.etag, `"${SHA}"`);
  const n = notModifiedHeaders(SHA);
  assert.equal(n.etag, `"${SHA}"`);
  assert.equal(n['content-security-policy'], FILE_CSP);
  assert.equal(n['x-content-type-options'], 'nosniff');
  assert.equal(n['content-type'], undefined, 'a 304 has no body to type');
});

test('a stored type that cannot be written (from before the grammar) is served as octet-stream, as an attachment', () => {
  const h = fileHeaders({ sha256: SHA, contentType: 'text/plain; x=\u0001', filename: null });
  assert.equal(h['content-type'], 'application/octet-stream');
  assert.equal(h['content-disposition'], 'attachment');
  for (const [k, v] of Object.entries(h)) assert.doesNotThrow(() => validateHeaderValue(k, v), k);
});

test('If-None-Match: strong and weak tags, lists, *, and malformed values (RFC 9110 13.1.2)', () => {
  const other = 'cd'.repeat(32);
  const matches = [`"${SHA}"`, `W/"${SHA}"`, '*', ` * `, `"${other}", "${SHA}"`, `"${other}",W/"${SHA}"`, `, "${SHA}" ,`, `"x", ,  "${SHA}"`, `"a,b", "${SHA}"`];
  const misses = [`"${other}"`, `W/"${other}"`, SHA, `"${SHA}`, `w/"${SHA}"`, `"${SHA}" "${other}"`, `"${other}", ${SHA}`, '', ' ', `"${SHA.toUpperCase()}"`, `"${SHA}x"`, `"${SHA}", garbage`];
  for (const h of matches) assert.equal(ifNoneMatch(h, SHA), true, `matches: ${h}`);
  for (const h of misses) assert.equal(ifNoneMatch(h, SHA), false, `misses: ${h}`);
});
