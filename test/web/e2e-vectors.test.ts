// The browser's encryption (src/web/assets/e2e.js) in real Chromium, under the agent pages' CSP: it opens every
// test vector of docs/encryption.md (test/fixtures/e2e-vectors.json) and refuses every invalid one with its code,
// streamed in chunks of any size; it makes every valid vector again byte for byte, and any slice of the
// ciphertext alone equals the same bytes of the whole; a flipped byte, a dropped record and a truncated file are
// each caught; and what Chromium encrypts, src/e2e (Node) decrypts, and the other way round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Page } from 'playwright-core';
import { ciphertextSize, decodeKey, decrypt, encodeKey, encrypt, newKey } from '../../src/e2e/index.ts';
import { DEFAULT_RECORD_LOG2 } from '../../src/e2e/format.ts';
import { isAgentError } from '../../src/errors/index.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { VECTORS_PATH, type Vectors } from '../encryption/vectors.ts';
import { send, serveOrigin } from './e2e-origin.ts';

const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Helpers the page scripts share, as JavaScript source (tsx would wrap a function of this file with helpers the
 * page does not have).
 */
const PAGE_HELPERS = `
  const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
  const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const concat = (parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { out.set(p, at); at += p.length; } return out; };
  const chunked = (bytes, size) => new Response(new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size)); c.close(); } }));
  const sha = async (b) => toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', b)));
  // Decrypts a response: what came out (before any failure) and the failure's code.
  const open = async (m, response, key) => {
    const parts = [];
    try {
      const d = await m.decryptResponse(response, key);
      const reader = d.stream.getReader();
      for (;;) { const { value, done } = await reader.read(); if (done) break; parts.push(value); }
      return { ok: true, name: d.name, type: d.type, size: d.size, plain: concat(parts) };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message, plain: concat(parts) };
    }
  };
`;

/** Runs `body` (the source of an async function of `arg`, with PAGE_HELPERS and `m` = e2e.js in scope) in the page. */
function inPage<T>(page: Page, body: string, arg: unknown = null): Promise<T> {
  return page.evaluate<T>(`(async (arg) => { const m = await import('/assets/e2e.js'); ${PAGE_HELPERS} ${body} })(${JSON.stringify(arg)})`);
}

async function openPage(t: { after(fn: () => unknown): void }, routes: Parameters<typeof serveOrigin>[1] = {}): Promise<{ page: Page; origin: string }> {
  const { context } = await launchChromium(t);
  const { origin } = await serveOrigin(t, { '/': (_req, _body, res) => send(res, '<!doctype html><title>e2e</title><p>e2e.js test page</p>', 'text/html; charset=utf-8'), ...routes });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(`${origin}/`);
  t.after(() => assert.deepEqual(errors, [], 'no console errors (a CSP violation would show there)'));
  return { page, origin };
}

interface Opened {
  ok: boolean;
  code?: string;
  name?: string;
  type?: string;
  size?: number;
  plain: string;
}

test('in Chromium, e2e.js opens every valid vector streamed in chunks of 1, 7, 80 and 100000 bytes, and refuses every invalid one with its code, releasing only whole records that opened', async (t) => {
  const { page } = await openPage(t);
  const results = await inPage<{ valid: Array<{ description: string; chunk: number } & Opened>; invalid: Array<{ description: string; chunk: number } & Opened> }>(
    page,
    `
    const valid = [];
    for (const v of arg.valid) for (const chunk of [1, 7, 80, 100000]) {
      const r = await open(m, chunked(hex(v.ciphertext), chunk), m.decodeKey(v.key));
      valid.push({ description: v.description, chunk, ...r, plain: toHex(r.plain) });
    }
    const invalid = [];
    for (const v of arg.invalid) for (const chunk of [1, 13, 4096]) {
      const r = await open(m, chunked(hex(v.ciphertext), chunk), m.decodeKey(v.key));
      invalid.push({ description: v.description, chunk, ...r, plain: toHex(r.plain) });
    }
    return { valid, invalid };
    `,
    vectors,
  );
  assert.equal(results.valid.length, vectors.valid.length * 4);
  for (const r of results.valid) {
    const v = vectors.valid.find((x) => x.description === r.description);
    assert.ok(v);
    assert.ok(r.ok, `${r.description}, chunks of ${r.chunk}: ${r.code ?? ''}`);
    assert.equal(r.plain, v.plaintext, `${r.description}, chunks of ${r.chunk}`);
    assert.deepEqual({ name: r.name, type: r.type, size: r.size }, { name: v.name, type: v.contentType, size: v.plaintext.length / 2 });
  }
  assert.equal(results.invalid.length, vectors.invalid.length * 3);
  const several = vectors.valid[4]?.plaintext ?? '';
  for (const r of results.invalid) {
    const v = vectors.invalid.find((x) => x.description === r.description);
    assert.ok(v);
    assert.equal(r.ok, false, `${r.description} must fail`);
    assert.equal(r.code, v.error, `${r.description}, chunks of ${r.chunk}`);
    // What came out before the failure: whole 64-byte records of the plaintext, never a byte of one that failed.
    assert.ok(r.plain.length % 128 === 0 && several.startsWith(r.plain), `${r.description}: only whole records that opened`);
  }
});

test('in Chromium, encryptedSource (with the vectors\' fixed salt) makes every valid vector byte for byte, and a slice at any offset, made alone and in any order, equals those bytes of the whole', async (t) => {
  const { page } = await openPage(t);
  const results = await inPage<Array<{ description: string; size: number; testSize: number; whole: string; badSlices: string[]; slices: number }>>(
    page,
    `
    const out = [];
    let seed = 7;
    const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (const v of arg.valid) {
      const key = m.decodeKey(v.key);
      const source = await m.testOnly.encryptedSource(new Blob([hex(v.plaintext)]), key, { name: v.name, type: v.contentType }, { salt: hex(v.salt), recordLog2: v.recordLog2 });
      const whole = await source.slice(0, source.size);
      // Every boundary that matters (the header, the metadata, each 64-byte record and its tag) and random ones.
      const points = [0, 1, 53, 54, 55, 1093, 1094, 1095, 1157, 1158, 1173, 1174, 1175, 1253, 1254, 1334, source.size - 1, source.size];
      for (let i = 0; i < 40; i++) points.push(rand(source.size + 1));
      const bad = [];
      let slices = 0;
      // A fresh source each time, so that no slice leans on the one before it, then the same source in a random order.
      const fresh = await m.testOnly.encryptedSource(new Blob([hex(v.plaintext)]), key, { name: v.name, type: v.contentType }, { salt: hex(v.salt), recordLog2: v.recordLog2 });
      for (const a of points) for (const b of [a, a + 1, a + 17, a + 80, a + 161, source.size + 5]) {
        const s = a <= b ? await (rand(2) ? source : fresh).slice(a, b) : new Uint8Array(0);
        const expect = whole.subarray(Math.min(a, whole.length), Math.min(Math.max(a, b), whole.length));
        slices++;
        if (toHex(s) !== toHex(expect)) bad.push(a + '..' + b);
      }
      out.push({ description: v.description, size: source.size, testSize: m.testOnly.encryptedSize(v.plaintext.length / 2, v.recordLog2), whole: toHex(whole), badSlices: bad, slices });
    }
    return out;
    `,
    vectors,
  );
  assert.equal(results.length, vectors.valid.length);
  for (const [i, r] of results.entries()) {
    const v = vectors.valid[i];
    assert.ok(v);
    assert.equal(r.whole, v.ciphertext, `${v.description}: the same ciphertext as src/e2e`);
    assert.equal(r.size, v.ciphertext.length / 2);
    assert.equal(r.testSize, r.size);
    assert.ok(r.slices > 300);
    assert.deepEqual(r.badSlices, [], `${v.description}: every slice equals the whole's bytes`);
  }
});

test('in Chromium: encryptedSize is src/e2e\'s ciphertextSize, keys are 43 base64url characters in one spelling, and a wrong key fails with E2E_WRONG_KEY', async (t) => {
  const { page } = await openPage(t);
  const sizes = [0, 1, 65535, 65536, 65537, 3 * 65536, 2 ** 30, 2 ** 40 + 5, 2 ** 52 + 7];
  const tooLarge = [Number.MAX_SAFE_INTEGER, -1, 1.5];
  const other = encodeKey(newKey());
  const bad = ['', 'short', `${other}A`, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+', 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9', `${other.slice(0, 42)}=`];
  const r = await inPage<{ sizes: number[]; tooLarge: string[]; keyText: string; fresh: string[]; roundTrip: boolean; bad: string[]; wrong: string | undefined }>(
    page,
    `
    const fresh = [m.encodeKey(m.newFileKey()), m.encodeKey(m.newFileKey())];
    const bad = arg.bad.map((b) => { try { m.decodeKey(b); return 'accepted'; } catch (e) { return e.code; } });
    const v = arg.vector;
    const wrong = await open(m, new Response(hex(v.ciphertext)), m.decodeKey(arg.other));
    return {
      sizes: arg.sizes.map((s) => m.encryptedSize(s)),
      tooLarge: arg.tooLarge.map((s) => { try { return 'accepted ' + m.encryptedSize(s); } catch (e) { return e.code; } }),
      keyText: m.encodeKey(m.decodeKey(v.key)),
      fresh,
      roundTrip: fresh.every((k) => m.encodeKey(m.decodeKey(k)) === k),
      bad,
      wrong: wrong.code,
    };
    `,
    { sizes, tooLarge, bad, other, vector: vectors.valid[4] },
  );
  assert.deepEqual(r.sizes, sizes.map((s) => ciphertextSize(s)));
  // Where the sum would pass 2^53 - 1, or the size is no size, both refuse it.
  assert.deepEqual(r.tooLarge, tooLarge.map(() => 'BAD_REQUEST'));
  for (const s of tooLarge) assert.throws(() => ciphertextSize(s), (e) => isAgentError(e, 'BAD_REQUEST'));
  assert.equal(r.keyText, vectors.valid[4]?.key);
  for (const k of r.fresh) assert.equal(decodeKey(k).length, 32, 'a new key is 32 bytes');
  assert.notEqual(r.fresh[0], r.fresh[1]);
  assert.ok(r.roundTrip);
  assert.deepEqual(r.bad, bad.map(() => 'E2E_BAD_KEY'));
  assert.equal(r.wrong, 'E2E_WRONG_KEY');
});

test('in Chromium, over a real fetch of a 300 KB file in 64 KiB records: a flipped byte, a dropped record, a truncated file (inside a record and at a record boundary) and trailing bytes are each caught, and only records that opened came out', async (t) => {
  const key = newKey();
  const plain = randomBytes(300_000);
  const good = encrypt(plain, { key, name: 'big.bin', contentType: 'application/octet-stream', recordLog2: 16 });
  const sealed = 65536 + 16;
  const record = (i: number) => good.subarray(1094 + sealed * i, 1094 + sealed * (i + 1));
  const flipped = Buffer.from(good);
  flipped[1094 + sealed * 2 + 1000] = (flipped[1094 + sealed * 2 + 1000] ?? 0) ^ 0x04;
  const variants: Record<string, { bytes: Buffer; code: string | null }> = {
    good: { bytes: good, code: null },
    flipped: { bytes: flipped, code: 'E2E_TAMPERED' },
    dropped: { bytes: Buffer.concat([good.subarray(0, 1094), record(0), record(2), record(3), good.subarray(1094 + sealed * 4)]), code: 'E2E_TAMPERED' },
    swapped: { bytes: Buffer.concat([good.subarray(0, 1094), record(1), record(0), good.subarray(1094 + sealed * 2)]), code: 'E2E_TAMPERED' },
    cut: { bytes: good.subarray(0, 200_000), code: 'E2E_TRUNCATED' },
    'cut-at-record': { bytes: good.subarray(0, 1094 + sealed * 4), code: 'E2E_TRUNCATED' },
    trailing: { bytes: Buffer.concat([good, Buffer.from([1, 2, 3])]), code: 'E2E_TAMPERED' },
  };
  const routes = Object.fromEntries(
    Object.entries(variants).map(([name, v]) => [`/cipher/${name}`, (_req: unknown, _b: unknown, res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.bytes.length }).end(v.bytes)]),
  );
  const { page } = await openPage(t, routes);
  const results = await inPage<Record<string, { ok: boolean; code?: string; name?: string; released: number; sha: string }>>(
    page,
    `
    const out = {};
    for (const name of arg.names) {
      const r = await open(m, await fetch('/cipher/' + name), m.decodeKey(arg.key));
      out[name] = { ok: r.ok, code: r.code, name: r.name, released: r.plain.length, sha: await sha(r.plain) };
    }
    return out;
    `,
    { names: Object.keys(variants), key: encodeKey(key) },
  );
  for (const [name, v] of Object.entries(variants)) {
    const r = results[name];
    assert.ok(r, name);
    if (v.code === null) {
      assert.ok(r.ok && r.name === 'big.bin', `${name} opens`);
      assert.equal(r.sha, sha256(plain));
      continue;
    }
    assert.equal(r.code, v.code, name);
    assert.ok(r.released % 65536 === 0 || r.released === plain.length, `${name}: only whole records came out (${r.released})`);
    assert.equal(r.sha, sha256(plain.subarray(0, r.released)), `${name}: what came out is the plaintext's start`);
  }
  assert.ok((results.flipped?.released ?? -1) <= 2 * 65536, 'nothing of the flipped record or after it');
  assert.ok((results.dropped?.released ?? -1) <= 65536, 'nothing after the gap');
  assert.equal(results.cut?.released, 3 * 65536, 'the three records before the cut, whole');
});

test('Node and Chromium agree: what e2e.js encrypts (a random key, sliced as an upload sends it) src/e2e decrypts, and what src/e2e encrypts e2e.js decrypts', async (t) => {
  const plain = randomBytes(2_500_000 + 123);
  const nodeKey = newKey();
  const fromNode = encrypt(plain, { key: nodeKey, name: 'from node 🎉.bin', contentType: 'application/x-from-node' });
  let fromBrowser: Buffer | undefined;
  const { page } = await openPage(t, {
    '/plain': (_req, _b, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': plain.length }).end(plain),
    '/from-node': (_req, _b, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': fromNode.length }).end(fromNode),
    '/from-browser': (_req, b, res) => {
      fromBrowser = b;
      res.writeHead(204).end();
    },
  });
  const r = await inPage<{ key: string; size: number; slices: number; reads: number; largestRead: number; node: { ok: boolean; code?: string; name?: string; type?: string; size?: number }; nodeSha: string }>(
    page,
    `
    // A File that notes how much of it each read takes: a slice must read about its own length, never the file.
    const reads = [];
    class CountingFile extends File {
      slice(start, end, type) { reads.push(end - start); return super.slice(start, end, type); }
    }
    const file = new CountingFile([await (await fetch('/plain')).blob()], 'from chromium.bin', { type: 'application/x-from-chromium' });
    const key = m.newFileKey();
    const source = await m.encryptedSource(file, key);
    // As an upload sends it: uneven chunks, one after another, each sliced alone.
    const parts = [];
    for (let at = 0, step = 777777; at < source.size; at += step) parts.push(await source.slice(at, at + step));
    const sent = await fetch('/from-browser', { method: 'POST', body: new Blob(parts) });
    if (sent.status !== 204) throw new Error('the upload to the test server failed');
    const node = await open(m, await fetch('/from-node'), m.decodeKey(arg.nodeKey));
    return { key: m.encodeKey(key), size: source.size, slices: parts.length, reads: reads.length, largestRead: Math.max(...reads), node: { ...node, plain: undefined }, nodeSha: await sha(node.plain) };
    `,
    { nodeKey: encodeKey(nodeKey) },
  );
  assert.ok(fromBrowser, 'the page sent its ciphertext');
  assert.equal(r.size, ciphertextSize(plain.length));
  assert.equal(fromBrowser.length, r.size);
  assert.ok(r.slices >= 4);
  assert.ok(r.reads >= r.slices, 'each slice read the file for itself');
  // The records a slice covers: its own length, and at most a record more at either end.
  assert.ok(r.largestRead > 0 && r.largestRead <= 777_777 + 2 * 2 ** DEFAULT_RECORD_LOG2, `no read took more than the records a slice covers (${r.largestRead} bytes)`);
  const opened = decrypt(fromBrowser, decodeKey(r.key));
  assert.ok(opened.plaintext.equals(plain), 'src/e2e decrypts what Chromium encrypted');
  assert.deepEqual(opened.metadata, { size: plain.length, name: 'from chromium.bin', contentType: 'application/x-from-chromium' }, "the File's own name and type are sealed inside");
  assert.ok(r.node.ok, r.node.code);
  assert.deepEqual({ name: r.node.name, type: r.node.type, size: r.node.size }, { name: 'from node 🎉.bin', type: 'application/x-from-node', size: plain.length });
  assert.equal(r.nodeSha, sha256(plain), 'Chromium decrypts what src/e2e encrypted');
});
