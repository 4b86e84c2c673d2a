// The web module's options, on the real server (src/http buildServer) without an agent: where there are no devnet
// controls the page does not offer "pay with devnet"; a separate files origin (config filesUrl) is the one other
// origin the pages may connect to, and the file page reads the bytes there; vendored scripts are served at
// /assets/vendor/ with the pages' headers, and nothing else is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer } from '../../src/http/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { web } from '../../src/web/index.ts';
import { tempDir } from '../helpers/agent.ts';

test('no devnet button without the devnet, a separate files origin in the CSP and the file page, vendored scripts at /assets/vendor/', async (t) => {
  const dir = tempDir(t);
  const lib = join(dir, 'lib.min.js');
  writeFileSync(lib, 'globalThis.lib = 1;\n');
  const config = loadConfig({ env: { STORJ_DATA_DIR: dir, STORJ_NETWORK: 'regtest' } });
  const app = await buildServer({ config, version: 'test', routes: [web({ devnet: false, filesUrl: 'https://files.example.org', vendor: { 'lib.js': lib } })] });
  t.after(() => app.close());

  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.body, /<html lang="en" data-devnet="false">/);
  const csp = index.headers['content-security-policy'];
  assert.match(String(csp), /; connect-src 'self' https:\/\/files\.example\.org; /);
  const file = await app.inject({ method: 'GET', url: '/s/AAAAAAAAAAAAAAAAAAAAAA' });
  assert.match(file.body, /<html lang="en" data-files-url="https:\/\/files\.example\.org">/);

  const v = await app.inject({ method: 'GET', url: '/assets/vendor/lib.js' });
  assert.equal(v.statusCode, 200);
  assert.equal(v.body, 'globalThis.lib = 1;\n');
  assert.equal(v.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(v.headers['content-security-policy'], csp);
  assert.equal(v.headers['x-content-type-options'], 'nosniff');
  assert.equal((await app.inject({ method: 'GET', url: '/assets/vendor/lib.js', headers: { 'if-none-match': String(v.headers.etag) } })).statusCode, 304);
  for (const url of ['/assets/vendor/other.js', '/assets/vendor/lib.min.js', '/assets/vendor/..%2Flib.js']) {
    const r = await app.inject({ method: 'GET', url });
    assert.ok(r.statusCode === 404 || r.statusCode === 400, `${url}: ${r.statusCode}`);
  }
  assert.throws(() => web({ devnet: false, filesUrl: '', vendor: { '../x.js': lib } }), /not a plain name/);
});
