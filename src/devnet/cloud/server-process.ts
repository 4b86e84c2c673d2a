/**
 * A server's process: started in a process group of its own (so a stop ends it and its children), its output
 * appended to the server's console.log, found again by pid and root after a restart of the cloud, and stopped.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGone, signal } from '../../process/index.ts';

/** What to run as the server's process: a node command line, its folder and its whole environment. */
export interface ServerCommand {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The server's console: the image's own lines, then its process's output. */
export function consoleLog(serverDir: string): (line: string) => void {
  const path = join(serverDir, 'console.log');
  return (line) => appendFileSync(path, `[image] ${line}\n`, { mode: 0o600 });
}

/** A port nobody listens on at this moment, for the server's `url`. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts the server's process detached, in its own process group, output to console.log.
 * @returns its pid
 */
export function spawnServer(serverDir: string, cmd: ServerCommand): number {
  const consoleFd = openSync(join(serverDir, 'console.log'), 'a', 0o600);
  try {
    const child = spawn(cmd.command, cmd.args, { cwd: cmd.cwd, detached: true, stdio: ['ignore', consoleFd, consoleFd], env: cmd.env });
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error('the server process did not start');
    return child.pid;
  } finally {
    closeSync(consoleFd);
  }
}

/** Whether something answers HTTP at the server's url (any status): the server is up. */
export async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `pid` is still the server's process: alive and working in the server's root or a folder under it (a pid
 * left in the state by an earlier run of the cloud may since have been reused by another program, which must
 * not be signalled).
 */
export function isServerProcess(pid: number, serverDir: string): boolean {
  if (pid <= 0 || isGone(pid)) return false;
  try {
    const root = realpathSync(join(serverDir, 'root'));
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cwd === root || cwd.startsWith(`${root}/`);
  } catch (e) {
    // Without /proc there is no telling: a live pid is taken for the server.
    return (e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync('/proc/self');
  }
}

/** Stops the server's process group: SIGTERM, then SIGKILL once `graceMs` has passed; resolves when it is gone. */
export async function stopServerProcess(pid: number, serverDir: string, graceMs = 5000): Promise<void> {
  if (!isServerProcess(pid, serverDir)) return;
  const group = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      signal(pid, sig);
    }
  };
  group('SIGTERM');
  const deadline = performance.now() + graceMs;
  while (!isGone(pid) && performance.now() < deadline) await sleep(50);
  if (!isGone(pid)) group('SIGKILL');
  while (!isGone(pid) && performance.now() < deadline + 5000) await sleep(50);
}
