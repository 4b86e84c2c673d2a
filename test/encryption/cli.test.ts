// End-to-end encryption as a customer uses it (docs/encryption.md): `storj upload --encrypt --pay` and `storj
// download LINK#KEY`, each a real process, against a real agent on a real regtest devnet. Every byte the CLI sends
// goes through a recording proxy in front of the agent, which is how the test knows the key never reached it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ciphertextSize, decodeKey, encodeKey, encrypt, newKey } from '../../src/e2e/index.ts';
import { startTestAgent, tempDir, type Ctx } from '../helpers/agent.ts';
import { runStorj, type Run } from '../helpers/cli.ts';

const storj = (args: string[]) => runStorj(args, {}, { clear: ['STORJ_URL', 'STORJ_LISTEN'], timeoutMs: 180_000 });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

function failed(r: Run, code: string): Run {
  assert.notEqual(r.code, 0, `expected ${code}:\n${r.stdout}`);
  assert.match(r.stderr, new RegExp(`^error ${code}: `, 'm'));
  return r;
}

const lastJson = <T,>(r: Run): T => JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/** A TCP proxy to a port given later, keeping every byte its clients send. */
async function recordingProxy(t: Ctx): Promise<{ url: string; target: (port: number) => void; sent: () => Buffer }> {
  let port = 0;
  const seen: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    client.on('data', (d: Buffer) => seen.push(d));
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, target: (p) => (port = p), sent: () => Buffer.concat(seen) };
}

interface Uploaded {
  fileId: string;
  url: string;
  size: number;
  sha256: string;
  encrypted?: boolean;
  plainSize?: number;
}

test('storj upload --encrypt, then storj download LINK#KEY: the agent holds only ciphertext, never sees the key or the name, and a wrong key fails with E2E_WRONG_KEY', async (t) => {
  const proxy = await recordingProxy(t);
  // Links name the proxy, so the downloads go through it too.
  const a = await startTestAgent(t, { env: { STORJ_PUBLIC_URL: proxy.url } });
  proxy.target(Number(new URL(a.agent.url).port));

  const name = 'résumé 日本.pdf';
  const plain = randomBytes(300_000);
  const file = join(tempDir(t, 'storj-e2e-up-'), name);
  writeFileSync(file, plain);
  const up = ok(await storj(['upload', file, '--encrypt', '--pay', '--url', proxy.url]), 'upload --encrypt');
  // The link is the file's page (/s/, where a browser decrypts), with the key after its #.
  const line = /^link\s+(http:\/\/\S+\/s\/([A-Za-z0-9_-]{22}))#([A-Za-z0-9_-]{43})$/m.exec(up.stdout);
  assert.ok(line?.[1] && line[2] && line[3], `a link to the file page with its #key:\n${up.stdout}`);
  const [, base, fileId, keyText] = line;
  const link = `${base}#${keyText}`;
  const key = decodeKey(keyText);
  assert.equal(base, `${proxy.url}/s/${fileId}`);
  // The bytes' own link, which the download fetches: /f/.
  const bytesUrl = `${proxy.url}/f/${fileId}`;
  assert.match(up.stdout, new RegExp(`${plain.length} bytes, ${ciphertextSize(plain.length)} encrypted`));
  assert.match(up.stdout, new RegExp(`download: storj download '${link}'`));

  // The agent was quoted, paid for and given the ciphertext, without the name or the media type.
  const info = (await a.api<{ size: number; sha256: string; filename: string | null; contentType: string | null }>('GET', `/v1/files/${fileId}`)).body;
  assert.equal(info.size, ciphertextSize(plain.length), 'the quote and the file are for the ciphertext size');
  assert.equal(info.filename, null);
  assert.notEqual(info.contentType, 'application/pdf');

  // On the agent's disk: the blob is the ciphertext, and neither the plaintext nor the name is anywhere in its data dir.
  const disk = filesUnder(a.dataDir);
  const blobs = disk.filter((p) => statSync(p).size === info.size && sha256(readFileSync(p)) === info.sha256);
  assert.equal(blobs.length, 1, 'one blob holds the file');
  const blob = readFileSync(blobs[0] ?? '');
  assert.equal(blob.subarray(0, 4).toString('latin1'), 'SJEF');
  assert.notDeepEqual(blob.subarray(1094, 1094 + 1000), plain.subarray(0, 1000));
  for (const p of disk) {
    const bytes = readFileSync(p);
    assert.equal(bytes.indexOf(plain.subarray(100_000, 100_064)), -1, `${p} holds none of the plaintext`);
    assert.equal(bytes.indexOf(Buffer.from('résumé', 'utf8')), -1, `${p} holds no part of the name`);
  }

  // The link, into a directory: decrypted and saved under its sealed name.
  const dir = tempDir(t, 'storj-e2e-dl-');
  const dl = ok(await storj(['--json', 'download', link, '-o', dir]), 'download LINK#KEY');
  assert.deepEqual(readdirSync(dir), [name], 'saved under its sealed name, no temp file left');
  assert.deepEqual(readFileSync(join(dir, name)), plain, 'the same bytes');
  const dlJson = lastJson<{ path: string; url: string; size: number; encrypted: boolean; ciphertextSize: number }>(dl);
  assert.equal(dlJson.url, bytesUrl, 'the printed URL is the bytes\' (/f/), with no key');
  assert.equal(dlJson.size, plain.length);
  assert.equal(dlJson.encrypted, true);
  assert.equal(dlJson.ciphertextSize, info.size, 'every byte the agent stored was read and opened');
  assert.ok(!(dl.stdout + dl.stderr).includes(keyText), 'the download prints no key');

  // A bare file id with its key, to a path of the user's choosing.
  const out = join(dir, 'copy.pdf');
  ok(await storj(['download', `${fileId}#${keyText}`, '--url', proxy.url, '-o', out]), 'download ID#KEY');
  assert.deepEqual(readFileSync(out), plain);
  // The bytes' link (/f/) with the key works as well as the page's.
  const viaBytes = join(dir, 'via-f.pdf');
  ok(await storj(['download', `${bytesUrl}#${keyText}`, '-o', viaBytes]), 'download /f/ID#KEY');
  assert.deepEqual(readFileSync(viaBytes), plain);

  // Without the key, the file is only ciphertext.
  const raw = join(dir, 'raw.bin');
  ok(await storj(['download', base, '-o', raw]), 'download without the key');
  assert.equal(sha256(readFileSync(raw)), info.sha256);

  // Another key, and a fragment that is no key: stable codes, nothing kept, and no key in any message.
  const wrongDir = tempDir(t, 'storj-e2e-wrong-');
  const otherKey = encodeKey(newKey());
  const wrong = failed(await storj(['--json', 'download', `${base}#${otherKey}`, '-o', wrongDir]), 'E2E_WRONG_KEY');
  assert.equal(lastJson<{ error: { code: string } }>(wrong).error.code, 'E2E_WRONG_KEY');
  failed(await storj(['download', `${base}#not-a-key`, '-o', wrongDir]), 'E2E_BAD_KEY');
  assert.deepEqual(readdirSync(wrongDir), [], 'nothing written, no temp file left');
  assert.ok(!(wrong.stdout + wrong.stderr).includes(otherKey));

  // An empty file encrypts to a header and one sealed empty record, so it can be hosted (a plain one cannot).
  const empty = join(tempDir(t, 'storj-e2e-empty-'), 'empty.txt');
  writeFileSync(empty, '');
  const e = lastJson<Uploaded>(ok(await storj(['--json', 'upload', empty, '--encrypt', '--pay', '--url', proxy.url]), 'upload --encrypt of an empty file'));
  assert.equal(e.encrypted, true);
  assert.equal(e.plainSize, 0);
  assert.equal(e.size, ciphertextSize(0));
  const emptyDir = tempDir(t, 'storj-e2e-empty-dl-');
  ok(await storj(['download', e.url, '-o', emptyDir]), 'download of the empty file');
  assert.deepEqual(readdirSync(emptyDir), ['empty.txt']);
  assert.equal(readFileSync(join(emptyDir, 'empty.txt')).length, 0);

  // Everything the agent was sent went through the proxy: the uploads, the downloads, and never the keys or the name.
  const sent = proxy.sent();
  assert.ok(sent.includes(`PATCH /v1/tus/`) && sent.includes(`GET /f/${fileId} `), 'the proxy saw the transfers');
  assert.ok(!sent.includes('GET /s/'), 'the CLI fetches a page link\'s bytes from /f/, never the page');
  for (const k of [key, decodeKey(e.url.split('#')[1] ?? '')]) {
    for (const form of [k, Buffer.from(k.toString('hex')), Buffer.from(k.toString('base64url')), Buffer.from(k.toString('base64'))]) {
      assert.equal(sent.indexOf(form), -1, 'no request carries the key, in any spelling');
    }
  }
  assert.equal(sent.indexOf(Buffer.from('résumé', 'utf8')), -1, 'nor the name');
  assert.equal(sent.indexOf(Buffer.from(encodeURIComponent('résumé'))), -1, 'nor the name, percent-encoded');
});

test('against a hostile server: a tampered or truncated file fails with its code, nothing is kept, and a hostile sealed name stays inside the directory', async (t) => {
  const key = newKey();
  const plain = randomBytes(200_000);
  const good = encrypt(plain, { key, name: '../../.bashrc' });
  const tampered = Buffer.from(good);
  tampered[150_000] = (tampered[150_000] ?? 0) ^ 0x80;
  const truncated = good.subarray(0, 100_000);
  // A hostile server can make its ETag match whatever it sends: only the decryption stops these.
  const bodies: Record<string, Buffer> = { AAAAAAAAAAAAAAAAAAAAAA: good, BBBBBBBBBBBBBBBBBBBBBB: tampered, CCCCCCCCCCCCCCCCCCCCCC: truncated };
  const server = createHttpServer((req, res) => {
    const body = bodies[(req.url ?? '').replace('/f/', '')];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length, etag: `"${sha256(body)}"` });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`;
  const k = encodeKey(key);

  const dir = tempDir(t, 'storj-e2e-hostile-');
  failed(await storj(['download', `${base}/BBBBBBBBBBBBBBBBBBBBBB#${k}`, '-o', dir]), 'E2E_TAMPERED');
  failed(await storj(['download', `${base}/CCCCCCCCCCCCCCCCCCCCCC#${k}`, '-o', dir]), 'E2E_TRUNCATED');
  assert.deepEqual(readdirSync(dir), [], 'nothing kept of either');
  const saved = lastJson<{ path: string }>(ok(await storj(['--json', 'download', `${base}/AAAAAAAAAAAAAAAAAAAAAA#${k}`, '-o', dir]), 'download'));
  assert.equal(saved.path, join(dir, 'bashrc'), 'only the last path part of the sealed name, without leading dots');
  assert.deepEqual(readFileSync(saved.path), plain);
});
