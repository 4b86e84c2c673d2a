/**
 * What the operating system says about a pid, read from Linux's /proc: whether it is gone, and whether
 * it still runs a given script. A pid in a pid file may have died and been reused by an unrelated program, so a
 * pid is signalled only after its command line shows the child's entry script.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';

const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/**
 * True when `pid` no longer runs: no such process, or another process's zombie. A child orphaned by a killed
 * parent is reparented to pid 1 (or a subreaper), which need not reap it, so a dead child can stay a zombie that
 * `kill(pid, 0)` still finds; in /proc/<pid>/stat, field 3 says Z (zombie) or X (dead), field 4 is its parent. A zombie
 * of this process is not gone yet: Node reaps its own children at once, and until then `kill(pid, 0)` would
 * still find it for a caller who asks right after.
 */
export function isGone(pid: number): boolean {
  if (HAS_PROC) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return true;
    }
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so the fields follow the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (state === 'Z' || state === 'X') && Number(ppid) !== process.pid;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/**
 * Whether `pid` runs the script `entry` (or one of `aliases`, the same program built elsewhere): one of its
 * arguments, resolved against its working directory (a child started by hand may name its script relatively), is
 * that file. 'unknown' where there is no /proc to ask.
 */
export async function runsEntry(pid: number, entry: string, aliases: readonly string[] = []): Promise<boolean | 'unknown'> {
  if (!HAS_PROC) return 'unknown';
  let args: string[];
  try {
    args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
  } catch {
    return false;
  }
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
  const wanted = [entry, ...aliases];
  const names = new Set(wanted.map((w) => basename(w)));
  const want = new Set(wanted.map(real));
  for (const arg of args) {
    if (!names.has(basename(arg))) continue;
    if (!isAbsolute(arg) && cwd === null) continue;
    if (want.has(real(resolve(cwd ?? '/', arg)))) return true;
  }
  return false;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Sends `signal` to `pid`; false when it is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}
