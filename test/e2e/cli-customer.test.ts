// The customer's CLI as a user runs it: `storj upload --pay`, `storj download`, `storj status`,
// `storj topup`, each a real process talking HTTP to a real agent on a real regtest devnet. These are the
// README's customer steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTestAgent, tempDir, type Ctx } from '../helpers/agent.ts';
import { runStorj, type Run } from '../helpers/cli.ts';

/** `storj ARGS`; the agent's address comes from the arguments or from `env`. */
const storj = (args: string[], env: Record<string, string> = {}) => runStorj(args, env, { clear: ['STORJ_URL', 'STORJ_LISTEN'], timeoutMs: 180_000 });

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');


function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

function lastJson<T = Record<string, unknown>>(r: Run): T {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

interface Uploaded {
  uploadId: string;
  address: string;
  amountSat: number;
  bip21: string;
  fileId: string;
  url: string;
  size: number;
  sha256: string;
}
interface FileJson {
  fileId: string;
  state: string;
  balanceMsat: string;
  balanceSat: number;
  address: string;
  fundedUntil: string;
  deleteAt?: string;
}

function writeFile(t: Ctx, name: string, bytes: Uint8Array): string {
  const path = join(tempDir(t, 'storj-cli-'), name);
  writeFileSync(path, bytes);
  return path;
}

test('storj upload --pay --json, then download, status and status --upload; --pay against a non-devnet agent is refused', async (t) => {
  const a = await startTestAgent(t);
  const bytes = new Uint8Array(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const file = writeFile(t, 'photo.png', bytes);

  const up = ok(await storj(['--json', 'upload', file, '--pay', '--days', '3', '--url', a.agent.url]), 'upload');
  const lines = up.stdout.trim().split('\n');
  assert.equal(lines.length, 2, 'with --json: the quote line, then the result line');
  const quote = (JSON.parse(lines[0] ?? '') as { quote: { uploadId: string; bip21: string } }).quote;
  const done = lastJson<Uploaded>(up);
  assert.equal(quote.uploadId, done.uploadId, 'the upload id is printed before the wait');
  assert.equal(done.sha256, sha256(bytes));
  assert.equal(done.size, bytes.length);
  assert.equal(done.url, `${a.agent.url}/f/${done.fileId}`);
  assert.ok(!/token/i.test(up.stdout + up.stderr), 'the upload token is never printed');
  const file0 = await a.api<{ state: string; filename: string; contentType: string; balanceMsat: string }>('GET', `/v1/files/${done.fileId}`);
  assert.equal(file0.body.state, 'active');
  assert.equal(file0.body.filename, 'photo.png');
  assert.equal(file0.body.contentType, 'image/png', 'the content type is guessed from the extension');

  const out = join(tempDir(t, 'storj-cli-dl-'), 'copy.png');
  const dl = lastJson<{ path: string; sha256: string; size: number }>(ok(await storj(['--json', 'download', done.url, '-o', out]), 'download'));
  assert.equal(dl.path, out);
  assert.deepEqual(new Uint8Array(readFileSync(out)), bytes, 'identical bytes');
  assert.equal(dl.sha256, done.sha256);

  // A bare file id with --url, into a directory: the name comes from the agent's Content-Disposition.
  const dir = tempDir(t, 'storj-cli-dl-');
  ok(await storj(['download', done.fileId, '--url', a.agent.url, '-o', dir]), 'download by id');
  assert.deepEqual(readdirSync(dir), ['photo.png'], 'saved under its name, no temp file left');
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'photo.png'))), bytes);

  // status: STORJ_URL names the agent.
  const api = (await a.api<{ balanceMsat: string; fundedUntil: string; address: string }>('GET', `/v1/files/${done.fileId}`)).body;
  const st = lastJson<FileJson>(ok(await storj(['--json', 'status', done.fileId], { STORJ_URL: a.agent.url }), 'status --json'));
  assert.equal(st.state, 'active');
  assert.equal(st.balanceMsat, api.balanceMsat);
  assert.equal(st.balanceSat, Number(BigInt(api.balanceMsat) / 1000n));
  assert.equal(st.address, done.address, 'the upload address stays the top-up address');
  assert.equal(st.fundedUntil, api.fundedUntil);
  const human = ok(await storj(['status', done.fileId], { STORJ_URL: a.agent.url }), 'status').stdout;
  assert.match(human, /^state\s+active$/m);
  assert.match(human, new RegExp(`^balance\\s+${api.balanceMsat} msat \\(`, 'm'));
  assert.match(human, new RegExp(`^top-up\\s+${done.address}$`, 'm'));

  // The upload id is in the payment URI's label, so its status shows the payment to anyone, and the file id (the
  // download link) only to the upload token's holder, which was the upload process alone.
  const us = lastJson<{ upload: { state: string; fileId?: string; confirmedSat: number }; file?: FileJson }>(ok(await storj(['--json', 'status', '--upload', done.uploadId, '--url', a.agent.url]), 'status --upload'));
  assert.equal(us.upload.state, 'complete');
  assert.equal(us.upload.fileId, undefined);
  assert.equal(us.upload.confirmedSat, done.amountSat);
  assert.equal(us.file, undefined);

  // A real agent on the same chain but without the devnet's control: /v1/dev answers 404, and --pay says so
  // before anything is quoted.
  const plain = await startTestAgent(t, { devnet: a.devnet, env: { STORJ_DEV_CONTROL_URL: '' } });
  const refused = await storj(['upload', file, '--pay', '--url', plain.agent.url]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /^error DEVNET_ONLY: --pay works only with a devnet agent/m);
  assert.ok(!refused.stdout.includes('bitcoin:'), 'nothing was quoted');
});

test('storj upload --pay (human output) shows the bitcoin: URI, its QR code, and the link', async (t) => {
  const a = await startTestAgent(t);
  const text = 'hello, storj\n'.repeat(100);
  const file = writeFile(t, 'hello.txt', new TextEncoder().encode(text));
  const r = ok(await storj(['upload', file, '--pay', '--url', a.agent.url]), 'upload');
  const bip21 = /^ {2}(bitcoin:bcrt1q[a-z0-9]+\?amount=[0-9.]+\S*)$/m.exec(r.stdout);
  assert.ok(bip21, `a bitcoin: URI with the amount:\n${r.stdout}`);
  const qrLines = r.stdout.split('\n').filter((l) => l.length >= 20 && /^[█▀▄ ]+$/.test(l) && /[█▀▄]/.test(l));
  assert.ok(qrLines.length >= 10, `a QR block of half-block characters (${qrLines.length} lines):\n${r.stdout}`);
  const link = /^link\s+(http:\/\/\S+\/f\/([A-Za-z0-9_-]+))$/m.exec(r.stdout);
  assert.ok(link?.[1] && link[2], `the link:\n${r.stdout}`);
  assert.equal(link[1], `${a.agent.url}/f/${link[2]}`);
  assert.match(r.stdout, new RegExp(`sha256 ${sha256(text)} \\(checked\\)`));
  // Not a terminal: the payment status and the upload progress are plain lines on stderr.
  assert.match(r.stderr, /^paid: \d+ of \d+ sat received, \d+ confirmed$/m);
  assert.match(r.stderr, new RegExp(`^uploading: ${text.length} of ${text.length} bytes$`, 'm'));
  const got = await fetch(link[1]);
  assert.equal(await got.text(), text);
});

test('a frozen file: storj download fails with FILE_FROZEN and the top-up address; storj topup --pay makes it active again', async (t) => {
  // Expensive storage (as in test/integration/hosting.test.ts), so three days cost more than a one-day quote.
  const a = await startTestAgent(t, { env: { STORJ_HOSTING_COST_SAT_PER_MONTH: '6000000000' } });
  const bytes = new Uint8Array(1024 * 1024).fill(9);
  const file = writeFile(t, 'big.bin', bytes);
  const done = lastJson<Uploaded>(ok(await storj(['--json', 'upload', file, '--pay', '--url', a.agent.url]), 'upload'));
  await a.api('POST', '/v1/dev/advance', { seconds: 3 * 86_400 });
  const frozen = (await a.api<{ state: string; address: string }>('GET', `/v1/files/${done.fileId}`)).body;
  assert.equal(frozen.state, 'frozen');

  const dir = tempDir(t, 'storj-cli-frozen-');
  const out = join(dir, 'big.bin');
  const r = await storj(['download', done.url, '-o', out]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error FILE_FROZEN: /m);
  assert.ok(r.stdout.includes(frozen.address), `the top-up address is shown:\n${r.stdout}`);
  assert.match(r.stdout, new RegExp(`^ {2}bitcoin:${frozen.address}\\?amount=`, 'm'));
  assert.deepEqual(readdirSync(dir), [], 'nothing written, no temp file left');
  const rj = await storj(['--json', 'download', done.url, '-o', out]);
  assert.notEqual(rj.code, 0);
  const err = lastJson<{ error: { code: string }; address: string; amountSat: number }>(rj);
  assert.equal(err.error.code, 'FILE_FROZEN');
  assert.equal(err.address, frozen.address);
  assert.ok(err.amountSat > 0);

  const st = lastJson<FileJson>(ok(await storj(['--json', 'status', done.fileId, '--url', a.agent.url]), 'status'));
  assert.equal(st.state, 'frozen');
  assert.ok(BigInt(st.balanceMsat) < 0n);
  assert.ok(st.balanceSat < 0);
  assert.ok(st.deleteAt, 'a frozen file says when it will be deleted');

  // Without --pay: the address as a URI and QR, nothing paid.
  const shown = ok(await storj(['topup', done.fileId, '--amount', '5000', '--url', a.agent.url]), 'topup');
  assert.match(shown.stdout, new RegExp(`^ {2}bitcoin:${frozen.address}\\?amount=0\\.00005(&|$)`, 'm'));
  assert.equal((await a.api<{ state: string }>('GET', `/v1/files/${done.fileId}`)).body.state, 'frozen');

  const paid = lastJson<FileJson & { paidSat: number; txid: string }>(ok(await storj(['--json', 'topup', done.fileId, '--pay', '--url', a.agent.url]), 'topup --pay'));
  assert.equal(paid.state, 'active');
  assert.ok(paid.paidSat > 0);
  assert.match(paid.txid, /^[0-9a-f]{64}$/);
  assert.equal((await a.api<{ state: string }>('GET', `/v1/files/${done.fileId}`)).body.state, 'active');
  ok(await storj(['download', done.url, '-o', out]), 'download after the top-up');
  assert.deepEqual(new Uint8Array(readFileSync(out)), bytes);
});

test('against a hostile server: download refuses bytes that do not match the ETag and keeps a hostile file name inside the directory; upload checks the stored sha256', async (t) => {
  // A hostile (or broken) server: a real agent always sends its stored sha256 as the ETag, so the mismatch is
  // provoked with a tiny local server that sends other bytes than its ETag promises.
  const good = new TextEncoder().encode('the bytes the ETag promises\n');
  const bad = new TextEncoder().encode('something else entirely\n');
  // It also plays an agent that quotes, says "paid" and then claims to have stored bytes other than those sent.
  const token = 'secret-upload-token-4f1c9a';
  const address = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';
  const uploadId = 'CCCCCCCCCCCCCCCCCCCCCC';
  const seen: string[] = [];
  let put: { authorization?: string; bytes: number } | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const send = (body: Uint8Array, etag: string, name: string) => {
      res.writeHead(200, { 'content-length': body.length, etag: `"${etag}"`, 'content-disposition': `attachment; filename="${name}"` });
      res.end(body);
    };
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/f/AAAAAAAAAAAAAAAAAAAAAA') return send(bad, sha256(good), '../../evil.txt');
    if (req.url === '/f/BBBBBBBBBBBBBBBBBBBBBB') return send(good, sha256(good), '../../.evil.txt');
    if (req.method === 'POST' && req.url === '/v1/uploads') {
      return json(201, { id: uploadId, address, amountSat: 1000, bip21: `bitcoin:${address}?amount=0.00001`, expiresAt: new Date().toISOString(), uploadToken: token });
    }
    if (req.method === 'GET' && req.url === `/v1/uploads/${uploadId}`) return json(200, { id: uploadId, state: 'paid', amountSat: 1000, receivedSat: 1000, confirmedSat: 1000 });
    // The upload goes through tus (docs/uploads.md): a creation, then a PATCH whose answer names the stored file.
    if (req.method === 'POST' && req.url === '/v1/tus') {
      res.writeHead(201, { location: `/v1/tus/${uploadId}`, 'tus-resumable': '1.0.0', 'upload-offset': '0' });
      res.end();
      return;
    }
    if (req.method === 'PATCH' && req.url === `/v1/tus/${uploadId}`) {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        put = { authorization: req.headers.authorization, bytes };
        res.writeHead(204, {
          'tus-resumable': '1.0.0',
          'upload-offset': String(bytes),
          'upload-length': String(bytes),
          'storj-file-id': 'DDDDDDDDDDDDDDDDDDDDDD',
          'storj-file-url': `http://${req.headers.host}/f/DDDDDDDDDDDDDDDDDDDDDD`,
          'storj-sha256': sha256('not what was sent'),
        });
        res.end();
      });
      return;
    }
    json(404, { error: { code: 'NOT_FOUND', message: 'no such thing' } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = tempDir(t, 'storj-cli-hostile-');
  const r = await storj(['download', `${base}/f/AAAAAAAAAAAAAAAAAAAAAA`, '-o', dir]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`^error HASH_MISMATCH: the bytes received hash to sha256 ${sha256(bad)}, not ${sha256(good)}`, 'm'));
  assert.deepEqual(readdirSync(dir), [], 'the temp file was deleted and nothing renamed into place');

  const saved = lastJson<{ path: string }>(ok(await storj(['--json', 'download', `${base}/f/BBBBBBBBBBBBBBBBBBBBBB`, '-o', dir]), 'download'));
  assert.equal(saved.path, join(dir, 'evil.txt'), 'only the last path part, without leading dots');
  assert.deepEqual(readdirSync(dir), ['evil.txt']);
  assert.ok(!existsSync(join(dir, '..', 'evil.txt')) && !existsSync(join(dir, '..', '..', 'evil.txt')));

  // --pay against something that is not a devnet: refused before any quote is asked for.
  const file = writeFile(t, 'x.txt', good);
  const p = await storj(['upload', file, '--pay', '--url', base]);
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /^error DEVNET_ONLY: /m);
  assert.ok(!seen.includes('POST /v1/uploads'), 'nothing was quoted');

  // The upload sends the file with the token, and checks the receipt's sha256 against the bytes sent.
  const u = await storj(['--json', 'upload', file, '--url', base]);
  assert.notEqual(u.code, 0);
  assert.equal(put?.authorization, `Bearer ${token}`);
  assert.equal(put?.bytes, good.length);
  assert.match(u.stderr, new RegExp(`^error HASH_MISMATCH: the agent stored sha256 ${sha256('not what was sent')} but the bytes sent hash to ${sha256(good)}`, 'm'));
  assert.equal(lastJson<{ error: { code: string } }>(u).error.code, 'HASH_MISMATCH');
  assert.ok(!(u.stdout + u.stderr).includes(token), 'the upload token is never printed');
});
