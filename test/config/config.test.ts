import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, envName, describeConfig, CONFIG_KEYS } from '../../src/config/index.ts';
import { isAgentError } from '../../src/errors/index.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('defaults give a regtest agent on 127.0.0.1:8420, and the result is frozen', (t) => {
  const c = loadConfig({ env: { STORJ_DATA_DIR: tempDir(t) } });
  assert.equal(c.network, 'regtest');
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8420 });
  assert.equal(c.publicUrl, 'http://127.0.0.1:8420');
  assert.equal(typeof c.zeroConfMaxSat, 'bigint');
  assert.ok(Object.isFrozen(c));
  assert.throws(() => {
    (c as { network: string }).network = 'mainnet';
  }, TypeError);
});

test('every setting has a STORJ_ environment variable, and the environment wins over the file', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ listen: '127.0.0.1:9000', confirmations: 3 }));
  const c = loadConfig({ env: { STORJ_DATA_DIR: dir, STORJ_LISTEN: '0.0.0.0:9100', STORJ_ZERO_CONF_MAX_SAT: '1234' } });
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9100 });
  assert.equal(c.confirmations, 3);
  assert.equal(c.zeroConfMaxSat, 1234n);
  assert.equal(envName('dataDir'), 'STORJ_DATA_DIR');
  assert.equal(envName('zeroConfMaxSat'), 'STORJ_ZERO_CONF_MAX_SAT');
  assert.equal(new Set(CONFIG_KEYS.map(envName)).size, CONFIG_KEYS.length);
});

test('a bad value is refused with an error naming the key and its source', (t) => {
  const dir = tempDir(t);
  const bad = (env: Record<string, string>, re: RegExp) =>
    assert.throws(() => loadConfig({ env: { STORJ_DATA_DIR: dir, ...env } }), (e) => isAgentError(e, 'CONFIG_INVALID') && re.test(e.message));
  bad({ STORJ_LISTEN: 'nonsense' }, /"listen" \(from STORJ_LISTEN\) must be host:port/);
  bad({ STORJ_LISTEN: '127.0.0.1:70000' }, /"listen".*65535/);
  bad({ STORJ_NETWORK: 'litecoin' }, /"network".*mainnet, testnet, regtest/);
  bad({ STORJ_CONFIRMATIONS: '1.5' }, /"confirmations".*integer/);
  bad({ STORJ_ZERO_CONF_MAX_SAT: '-1' }, /"zeroConfMaxSat"/);
  bad({ STORJ_ESPLORA_URL: 'ftp://x' }, /"esploraUrl".*http/);
  bad({ STORJ_NETWORK: 'mainnet' }, /"esploraUrl" must be set on mainnet/);
  bad({ STORJ_ADMIN_TOKEN: 'short' }, /"adminToken".*16 characters/);
});

test('outside regtest a chain backend is required to run, but not to initialise', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadConfig({ env: { STORJ_DATA_DIR: dir, STORJ_NETWORK: 'testnet' } }), (e) => isAgentError(e, 'CONFIG_INVALID'));
  assert.equal(loadConfig({ env: { STORJ_DATA_DIR: dir, STORJ_NETWORK: 'testnet' }, requireChain: false }).network, 'testnet');
});

test('unknown keys and broken JSON in the config file are errors', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ listne: '127.0.0.1:1' }));
  assert.throws(() => loadConfig({ env: { STORJ_DATA_DIR: dir } }), (e) => isAgentError(e, 'CONFIG_INVALID') && /"listne".*not a known setting/.test(e.message));
  writeFileSync(join(dir, 'config.json'), '{ not json');
  assert.throws(() => loadConfig({ env: { STORJ_DATA_DIR: dir } }), (e) => isAgentError(e, 'CONFIG_INVALID') && /not valid JSON/.test(e.message));
});

test('describeConfig masks the admin token', (t) => {
  const token = 'secret-token-0123456789';
  const c = loadConfig({ env: { STORJ_DATA_DIR: tempDir(t), STORJ_ADMIN_TOKEN: token } });
  assert.equal(c.adminToken, token);
  const text = JSON.stringify(describeConfig(c));
  assert.ok(!text.includes(token));
  assert.match(text, /"adminToken":"\(set\)"/);
});
