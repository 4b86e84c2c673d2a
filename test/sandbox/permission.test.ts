// The permission flags the built sandbox worker runs under (src/sandbox/session.ts): each readable path once, since
// Node 20 aborts at start when one is given twice, which is what an install (node_modules a real folder, not a
// link) gave before. A process under them reads what they allow and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { permissionFlags } from '../../src/sandbox/session.ts';
import { tempDir } from '../helpers/agent.ts';

test('the same path given twice is allowed once, and the process starts, reads it and nothing else', (t) => {
  const dir = tempDir(t, 'storj-permission-');
  const allowed = join(dir, 'allowed');
  mkdirSync(allowed);
  writeFileSync(join(allowed, 'code.txt'), 'the code');
  writeFileSync(join(dir, 'secret.txt'), 'the data dir');
  const flags = permissionFlags([allowed, allowed, allowed]);
  assert.equal(flags.filter((f) => f.startsWith('--allow-fs-read=')).length, 1);
  const script = `
    const fs = require('node:fs');
    console.log(fs.readFileSync(${JSON.stringify(join(allowed, 'code.txt'))}, 'utf8'));
    try { fs.readFileSync(${JSON.stringify(join(dir, 'secret.txt'))}, 'utf8'); console.log('read the secret'); } catch (e) { console.log(e.code); }`;
  const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${r.signal ?? ''} ${r.stderr.slice(0, 500)}`);
  assert.deepEqual(r.stdout.trim().split('\n'), ['the code', 'ERR_ACCESS_DENIED']);
});
