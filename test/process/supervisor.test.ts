// The process supervisor (src/process) with a real child process (fixture-child.ts): start and readiness, stop
// by SIGTERM or, for a child that ignores it, SIGKILL; a child that dies or never answers before ready; after a
// kill -9 of the parent, a child meant to outlive it is adopted and one that is not has exited; a stale pid file
// is cleaned up without signalling a process that is not the child. Timeouts run on an injected clock where a
// test needs one to pass; no test reads the time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { AgentError } from '../../src/errors/index.ts';
import { Supervisor, type Waits } from '../../src/process/index.ts';
import { isGone } from '../../src/process/proc.ts';
import { spawnBystander } from '../helpers/bystander.ts';
import { CHILD_ENTRY, PARENT_ENTRY, echoKind, processesFor } from './kind.ts';

type Ctx = { after: (fn: () => unknown) => void };

/** A temp data dir; afterwards nothing started for it may still run (a test's children end with it). */
function dataDir(t: Ctx, sub?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'storj-process-'));
  const dir = sub === undefined ? root : join(root, sub);
  t.after(() => {
    for (const pid of processesFor(dir)) process.kill(pid, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });
  return dir;
}

/** A clock that moves only when the supervisor sleeps: each sleep adds its milliseconds and yields to I/O once. */
function fakeWaits(): Waits {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      await new Promise((r) => setTimeout(r, 1));
    },
  };
}

/** Bounded polling (600 looks, 50 ms apart) until `cond` holds. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function health(url: string): Promise<string> {
  return (await fetch(`${url}/health`)).text();
}

function log(dir: string): string {
  return readFileSync(join(dir, 'echo.log'), 'utf8');
}

/** Runs fixture-parent.ts, which starts the child; resolves with the parent and the child's pid and URL. */
async function spawnParent(t: Ctx, dir: string, mode: 'outlive' | 'bound'): Promise<{ parent: ReturnType<typeof spawn>; pid: number; url: string }> {
  const parent = spawn(process.execPath, ['--import', 'tsx', PARENT_ENTRY, dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => parent.kill('SIGKILL'));
  let out = '';
  let err = '';
  parent.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    parent.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before its child was ready: ${err}`)));
  });
  const { pid, url } = JSON.parse(line) as { pid: number; url: string };
  return { parent, pid, url };
}

test('start: the child gets its data dir, a pid file naming where it listens, its log, and answers', async (t) => {
  const dir = dataDir(t, 'not-yet');
  const sup = new Supervisor(echoKind(false), dir);
  assert.equal(await sup.read(), null);
  assert.equal(await sup.stop(), 'none', 'nothing to stop yet');

  const child = await sup.start(['--dir', dir]);
  assert.equal(child.started, true);
  assert.equal(isGone(child.pid), false);
  assert.match(child.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await health(child.url), 'ok');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'echo.json'), 'utf8')), { url: child.url, pid: child.pid });
  assert.deepEqual(await sup.read(), { url: child.url, pid: child.pid });
  assert.deepEqual(await sup.live(), { url: child.url, pid: child.pid });
  assert.match(log(dir), new RegExp(`pid ${child.pid}\\n[^]*ready`));

  // a second ensure finds it rather than starting another
  assert.deepEqual(await sup.ensure(['--dir', dir]), { url: child.url, pid: child.pid, started: false });
  assert.deepEqual(processesFor(dir), [child.pid]);
});

test('stop: SIGTERM is honoured, the child is gone and its pid file removed', async (t) => {
  const dir = dataDir(t);
  const sup = new Supervisor(echoKind(false), dir);
  const child = await sup.start(['--dir', dir]);
  assert.equal(await sup.stop(), 'terminated');
  assert.equal(isGone(child.pid), true);
  assert.equal(existsSync(sup.pidFile), false);
  assert.match(log(dir), /SIGTERM/);
  assert.doesNotMatch(log(dir), /ignoring/);
  assert.equal(await sup.stop(), 'none', 'nothing left to stop');
});

test('stop: a child that ignores SIGTERM is killed with SIGKILL once the stop timeout passes', async (t) => {
  const dir = dataDir(t);
  const sup = new Supervisor(echoKind(false), dir, { waits: fakeWaits(), stopTimeoutMs: 2_000, killTimeoutMs: 60_000 });
  const child = await new Supervisor(echoKind(false), dir).start(['--dir', dir, '--ignore-term']);
  assert.equal(await sup.stop(), 'killed');
  assert.equal(isGone(child.pid), true);
  assert.equal(existsSync(sup.pidFile), false);
  assert.match(log(dir), /SIGTERM\nignoring SIGTERM/, 'SIGTERM came first');
});

test('start: a child that exits before it is ready is an error naming its log file', async (t) => {
  const dir = dataDir(t);
  const sup = new Supervisor(echoKind(false), dir);
  await assert.rejects(sup.start(['--dir', dir, '--exit-before-ready', '3']), (e: unknown) => {
    assert.ok(e instanceof AgentError);
    assert.equal(e.code, 'INTERNAL');
    assert.ok(e.message.includes(sup.logFile), e.message);
    assert.match(e.message, /exited \(code 3\) before it was ready/);
    assert.match(String(e.details?.log), /dying before ready/);
    return true;
  });
  assert.equal(existsSync(sup.pidFile), false);
  assert.deepEqual(processesFor(dir), []);
});

test('start: a child that never answers is stopped when the start timeout passes, and the error names its log', async (t) => {
  const dir = dataDir(t);
  const sup = new Supervisor({ ...echoKind(false), errorCode: 'DEVNET_START_FAILED' }, dir, { waits: fakeWaits(), startTimeoutMs: 5_000 });
  await assert.rejects(sup.start(['--dir', dir, '--never-ready']), (e: unknown) => {
    assert.ok(e instanceof AgentError);
    assert.equal(e.code, 'DEVNET_START_FAILED', "the kind's own error code");
    assert.match(e.message, /did not answer in time/);
    assert.ok(e.message.includes(sup.logFile), e.message);
    return true;
  });
  assert.deepEqual(processesFor(dir), [], 'the child was stopped, not left running');
});

test('after a kill -9 of its parent, a child meant to outlive it keeps running and is adopted', async (t) => {
  const dir = dataDir(t);
  const { parent, pid, url } = await spawnParent(t, dir, 'outlive');
  const exited = once(parent, 'exit');
  parent.kill('SIGKILL');
  await exited;
  assert.equal(isGone(pid), false, 'the child outlived its parent');
  assert.equal(await health(url), 'ok');

  const sup = new Supervisor(echoKind(true), dir);
  assert.deepEqual(await sup.ensure(['--dir', dir]), { url, pid, started: false });
  assert.deepEqual(processesFor(dir), [pid], 'adopted, not started again');
  assert.doesNotMatch(log(dir), /parent gone/);
  // The adopted child is no child of this process (an orphan, whose reaper may leave it a zombie): it is still
  // stopped, and seen to be gone.
  assert.equal(await sup.stop(), 'terminated');
  assert.equal(isGone(pid), true);
  assert.equal(existsSync(sup.pidFile), false);
});

test('after a kill -9 of its parent, a child that must not outlive it exits by itself', async (t) => {
  const dir = dataDir(t);
  const { parent, pid, url } = await spawnParent(t, dir, 'bound');
  assert.equal(await health(url), 'ok');
  const exited = once(parent, 'exit');
  parent.kill('SIGKILL');
  await exited;
  await until(() => isGone(pid), 'the orphan to exit');
  assert.match(log(dir), /parent gone\nSIGTERM/);
  assert.equal(existsSync(join(dir, 'echo.json')), false, 'it withdrew its pid file on the way out');
  assert.deepEqual(processesFor(dir), []);
});

test('a pid file naming a dead pid is removed, and a new child started', async (t) => {
  const dir = dataDir(t);
  const dead = spawn(process.execPath, ['-e', '0']);
  const [code] = (await once(dead, 'exit')) as [number];
  assert.equal(code, 0);
  const deadPid = dead.pid ?? 0;
  writeFileSync(join(dir, 'echo.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid: deadPid }));
  const sup = new Supervisor(echoKind(false), dir);
  assert.equal(await sup.live(), null);
  assert.equal(await sup.adopt(), null);
  assert.equal(existsSync(sup.pidFile), false, 'the stale pid file is gone');

  writeFileSync(sup.pidFile, JSON.stringify({ url: 'http://127.0.0.1:9', pid: deadPid }));
  const child = await sup.ensure(['--dir', dir]);
  assert.equal(child.started, true);
  assert.notEqual(child.pid, deadPid);
  assert.deepEqual(await sup.read(), { url: child.url, pid: child.pid });
});

test('a pid file naming a live pid of another program is removed without signalling that program, even when it answers', async (t) => {
  const dir = dataDir(t);
  // Another program that answers the probe as the child would (GET /health: "ok") and that any SIGTERM would end.
  const { child: bystander, url, pid } = await spawnBystander(t, 'ok');
  const stale = JSON.stringify({ url, pid });
  const sup = new Supervisor(echoKind(false), dir);

  writeFileSync(sup.pidFile, stale);
  assert.equal(await sup.live(), null, 'not taken for the child');
  assert.equal(await sup.stop(), 'none', 'nothing of the child to stop');
  assert.equal(existsSync(sup.pidFile), false);

  writeFileSync(sup.pidFile, stale);
  const child = await sup.ensure(['--dir', dir]);
  assert.equal(child.started, true);
  assert.notEqual(child.pid, pid);

  assert.equal(await health(url), 'ok', 'the other program still answers');
  assert.equal(isGone(pid), false);
  assert.equal(bystander.exitCode, null);
  assert.equal(bystander.signalCode, null);
});

test('a child that runs but no longer answers is stopped and replaced on adoption', async (t) => {
  const dir = dataDir(t);
  const sup = new Supervisor(echoKind(false), dir);
  const hung = await sup.start(['--dir', dir]);
  process.kill(hung.pid, 'SIGUSR2');
  await until(async () => !(await fetch(`${hung.url}/health`).then(() => true, () => false)), 'the child to stop answering');

  const fresh = await sup.ensure(['--dir', dir]);
  assert.equal(fresh.started, true);
  assert.notEqual(fresh.pid, hung.pid);
  assert.equal(isGone(hung.pid), true);
  assert.match(log(dir), new RegExp(`pid ${hung.pid}\\n[^]*no longer answering\\nSIGTERM`));
  assert.deepEqual(processesFor(dir), [fresh.pid]);
});

test('a child started by hand, naming its script relatively, is still recognised as the child', async (t) => {
  const dir = dataDir(t);
  const byHand = spawn(process.execPath, ['--import', 'tsx', basename(CHILD_ENTRY), '--dir', dir], { cwd: dirname(CHILD_ENTRY), stdio: 'ignore' });
  t.after(() => byHand.kill('SIGKILL'));
  const sup = new Supervisor(echoKind(false), dir);
  await until(async () => (await sup.live()) !== null, 'the hand-started child to announce itself');
  assert.equal((await sup.live())?.pid, byHand.pid);
  assert.equal(await sup.stop(), 'terminated');
  assert.equal(isGone(byHand.pid ?? 0), true);
});
