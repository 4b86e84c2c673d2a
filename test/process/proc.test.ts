// What src/process/proc.ts reads from /proc: a zombie left by a parent that does not reap it counts as gone,
// though kill(pid, 0) still finds it (an orphaned child's reaper may be such a parent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGone, runsEntry } from '../../src/process/proc.ts';

test("a zombie whose parent never reaps it is gone, though kill(pid, 0) still finds it", async (t) => {
  // sh starts a short sleep in the background, then becomes a long `sleep`, which never waits for its child: the
  // short one, once over, stays a zombie.
  const sh = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => sh.kill('SIGKILL'));
  const [out] = (await once(sh.stdout, 'data')) as [Buffer];
  const zombie = Number(out.toString().trim());
  const state = (): string => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]?.[0] ?? '';
  for (let i = 0; i < 600 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(state(), 'Z');
  assert.doesNotThrow(() => process.kill(zombie, 0), 'the kernel still lists it');
  assert.equal(isGone(zombie), true);
  assert.equal(isGone(sh.pid ?? 0), false, 'its parent runs');
  assert.equal(await runsEntry(zombie, '/usr/bin/sleep'), false, 'a zombie runs nothing');
});

test('runsEntry: a pid runs a script when one of its arguments, resolved against its cwd, is that very file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-proc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'a', 'idle.cjs'), 'setInterval(() => {}, 1 << 30);\n');
  const idle = spawn(process.execPath, ['idle.cjs'], { cwd: join(dir, 'a'), stdio: 'ignore' });
  t.after(() => idle.kill('SIGKILL'));
  await once(idle, 'spawn');
  const pid = idle.pid ?? 0;
  // the command line shows up once node has exec'd: bounded polling
  for (let i = 0; i < 600 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('idle.cjs'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await runsEntry(pid, join(dir, 'a', 'idle.cjs')), true, 'named relatively, found through its cwd');
  assert.equal(await runsEntry(pid, join(dir, 'b', 'idle.cjs')), false, 'the same name in another folder is another script');
  assert.equal(await runsEntry(pid, join(dir, 'a', 'other.cjs')), false);
  assert.equal(await runsEntry(pid, join(dir, 'b', 'idle.cjs'), [join(dir, 'a', 'idle.cjs')]), true, 'an alias: the same program built elsewhere');
});
