// The devnet's process files through the supervisor (src/process): a devnet.json left behind by a devnet that
// died, or naming a pid now running another program, is not taken for a devnet and that program is never signalled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDevnetInfo, stopDevnetProcess } from '../../src/devnet/index.ts';
import { spawnBystander } from '../helpers/bystander.ts';

test('a devnet.json naming another program is removed by a stop, and that program is not signalled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-devnet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Another program that answers the devnet's probe (a height on /blocks/tip/height) and that SIGTERM would end.
  const { child: other, url, pid } = await spawnBystander(t, '500');
  writeFileSync(join(dir, 'devnet.json'), JSON.stringify({ url, controlUrl: `${url}/dev`, pid }));
  assert.deepEqual(await readDevnetInfo(dir), { url, controlUrl: `${url}/dev`, pid });

  assert.equal(await stopDevnetProcess(dir, { timeoutMs: 1000 }), false);
  assert.equal(existsSync(join(dir, 'devnet.json')), false);
  assert.equal(await (await fetch(`${url}/blocks/tip/height`)).text(), '500', 'the other program still answers');
  assert.equal(other.exitCode, null);
  assert.equal(other.signalCode, null);
});

test('a devnet.json naming a dead pid is removed by a stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-devnet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dead = spawn(process.execPath, ['-e', '0']);
  await once(dead, 'exit');
  writeFileSync(join(dir, 'devnet.json'), JSON.stringify({ url: 'http://127.0.0.1:9', controlUrl: 'http://127.0.0.1:9/dev', pid: dead.pid }));
  assert.equal(await stopDevnetProcess(dir), false);
  assert.equal(existsSync(join(dir, 'devnet.json')), false);
  assert.equal(await readDevnetInfo(dir), null);
});
