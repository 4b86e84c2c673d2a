// The on-disk devnet: the chain, the mempool and the faucet key survive a close, and a devnet
// process survives being killed with SIGKILL (the agent's chain must outlive a crash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Devnet, ensureDevnetProcess, readDevnetInfo, stopDevnetProcess } from '../../src/devnet/index.ts';
import { getJson, getText, newKey, post } from './helpers.ts';
import type { EsploraUtxo } from './helpers.ts';

function tempDir(t: { after: (fn: () => unknown) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-devnet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A temp folder for a devnet process; afterwards the process is stopped before the folder goes (a devnet must not outlive its test). */
function processDir(t: { after: (fn: () => unknown) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-devnet-'));
  t.after(async () => {
    await stopDevnetProcess(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('an on-disk devnet reopens with the same chain, mempool and faucet', async (t) => {
  const dir = tempDir(t);
  const k = newKey();
  const first = await Devnet.start({ dir });
  let height: number;
  let tip: string;
  let pending: string;
  let faucet: string;
  try {
    assert.equal(first.height(), 500);
    await first.pay(k.address, 10_000n);
    await first.mine(3);
    pending = await first.pay(k.address, 20_000n);
    height = first.height();
    tip = first.tipHash();
    faucet = first.faucetAddress;
  } finally {
    await first.close();
  }
  // the faucet key is private to its owner, and says it is for regtest only
  assert.equal(statSync(join(dir, 'faucet-key.json')).mode & 0o777, 0o600);

  const second = await Devnet.start({ dir });
  try {
    assert.equal(second.height(), height, 'nothing mined on reopen');
    assert.equal(second.tipHash(), tip);
    assert.equal(second.faucetAddress, faucet);
    assert.equal((await getText(`${second.url}/blocks/tip/hash`)).body, tip);
    const utxos = await getJson<EsploraUtxo[]>(`${second.url}/address/${k.address}/utxo`);
    assert.deepEqual(
      utxos.map((u) => [u.value, u.status.confirmed]).sort(),
      [
        [10_000, true],
        [20_000, false],
      ].sort(),
    );
    assert.deepEqual(await getJson(`${second.url}/tx/${pending}/status`), { confirmed: false });
    // the persisted key still spends the old coinbases
    const again = await second.pay(k.address, 30_000n);
    const { height: h2 } = await second.mine(1);
    assert.equal((await getJson<{ block_height: number }>(`${second.url}/tx/${again}/status`)).block_height, h2);
    assert.equal((await getJson<{ block_height: number }>(`${second.url}/tx/${pending}/status`)).block_height, h2);
  } finally {
    await second.close();
  }
});

test('a devnet process keeps its chain across SIGKILL and restarts', async (t) => {
  const dir = processDir(t);

  const t0 = Date.now();
  const a = await ensureDevnetProcess(dir);
  t.diagnostic(`fresh devnet process answered after ${Date.now() - t0} ms`);
  assert.equal(a.started, true);
  assert.ok(alive(a.pid));
  assert.deepEqual(await readDevnetInfo(dir), { url: a.url, controlUrl: a.controlUrl, pid: a.pid });
  assert.equal((await getText(`${a.url}/blocks/tip/height`)).body, '500');

  // a second caller reuses it
  const same = await ensureDevnetProcess(dir);
  assert.deepEqual(same, { ...a, started: false });
  // and so does running main.ts by hand: it prints the URL and exits 0
  const main = fileURLToPath(new URL('../../src/devnet/main.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--dir', dir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), a.url);

  const k = newKey();
  const paid = await post(`${a.controlUrl}/pay`, { address: k.address, amountSat: 40_000 });
  assert.equal(paid.status, 200, paid.body);
  const mined = await post(`${a.controlUrl}/mine`, { blocks: 4 });
  assert.equal(mined.status, 200, mined.body);
  const { height, hashes } = mined.json as { height: number; hashes: string[] };
  const tip = hashes[hashes.length - 1];
  assert.equal(height, 504);

  process.kill(a.pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(a.pid); i++) await sleep(50);
  assert.equal(alive(a.pid), false);

  const b = await ensureDevnetProcess(dir);
  assert.equal(b.started, true);
  assert.notEqual(b.pid, a.pid);
  assert.equal((await getText(`${b.url}/blocks/tip/height`)).body, String(height));
  assert.equal((await getText(`${b.url}/blocks/tip/hash`)).body, tip);
  const utxos = await getJson<EsploraUtxo[]>(`${b.url}/address/${k.address}/utxo`);
  assert.equal(utxos.length, 1);
  assert.equal(utxos[0]?.status.block_height, 501);

  assert.equal(await stopDevnetProcess(dir), true);
  assert.equal(alive(b.pid), false);
  assert.equal(existsSync(join(dir, 'devnet.json')), false, 'a clean stop removes devnet.json');
  assert.equal(await stopDevnetProcess(dir), false, 'nothing left to stop');
});

test('two callers starting the devnet for one dir at once share one process', async (t) => {
  const dir = processDir(t);
  const [a, b] = await Promise.all([ensureDevnetProcess(dir), ensureDevnetProcess(dir)]);
  assert.equal(a.pid, b.pid);
  assert.equal(a.url, b.url);
  assert.deepEqual([a.started, b.started].sort(), [false, true]);
  // the faucet key on disk is the one the running chain pays: the faucet can spend
  const paid = await post(`${a.controlUrl}/pay`, { address: newKey().address, amountSat: 10_000 });
  assert.equal(paid.status, 200, paid.body);
});
