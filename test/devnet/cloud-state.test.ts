// The local cloud's first start: its wallet is made once, and a first start cut short before the state file was
// written is resumed with the same wallet (the same receive addresses), not refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openCloud } from '../../src/devnet/index.ts';
import { call, tempDir } from './cloud-helpers.ts';

// Nothing answers here: these tests make no payment, and a pass that cannot reach the chain is only logged.
const NO_CHAIN = 'http://127.0.0.1:9/api';

async function firstAddress(dir: string): Promise<string> {
  const open = await openCloud({ dir, esploraUrl: NO_CHAIN, port: 0, pollMs: 3_600_000 });
  try {
    return (await call(open.url, 'POST', '/v1/servers', { plan: 'small', days: 1, userData: '#cloud-config\n' })).json.invoice.address;
  } finally {
    await open.close();
  }
}

test('a first start cut short after making the wallet resumes with that wallet', async (t) => {
  const dir = tempDir(t);
  const first = await firstAddress(dir);
  assert.match(first, /^bcrt1q/);
  assert.equal(statSync(join(dir, 'wallet', 'passphrase')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'cloud-state.json')).mode & 0o777, 0o600);
  rmSync(join(dir, 'cloud-state.json'));
  assert.equal(await firstAddress(dir), first, 'the same wallet, from its first address again');
});

test('a restart keeps counting addresses: no address is given to two invoices', async (t) => {
  const dir = tempDir(t);
  const a = await firstAddress(dir);
  const b = await firstAddress(dir);
  assert.notEqual(a, b);
});
