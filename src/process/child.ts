/**
 * The child's side of supervision: announce where it listens (the pid file), withdraw that on a clean exit, and
 * notice when a parent it must not outlive is gone.
 */
import { Socket } from 'node:net';
import { pidFilePath, removePidFile, writePidFile } from './pid-file.ts';

/**
 * The environment variable naming the child's end of a pipe whose other end only the parent holds. The kernel
 * closes the parent's end however the parent dies (kill -9 included), so the child reads EOF: no polling.
 */
export const PARENT_FD_ENV = 'STORJ_PARENT_FD';

/** Writes `<dir>/<name>.json` = `{...info, pid}` atomically: the child is ready and answers there. */
export async function announce<I extends object>(kind: { readonly name: string }, dir: string, info: I): Promise<void> {
  await writePidFile(pidFilePath(dir, kind.name), { ...info, pid: process.pid });
}

/** Removes `<dir>/<name>.json` if it names this process (a successor's file is left alone). */
export async function withdraw(kind: { readonly name: string }, dir: string): Promise<void> {
  await removePidFile(pidFilePath(dir, kind.name), process.pid);
}

/**
 * When this process was started by a supervisor it must not outlive, calls `onGone` once that parent is gone.
 * The default sends this process SIGTERM, so its own clean shutdown runs (or, with no handler, it ends).
 * @returns whether there is a parent to watch (false for a child meant to outlive its parent, or run by hand).
 */
export function watchParent(onGone: () => void = () => process.kill(process.pid, 'SIGTERM')): boolean {
  const fd = process.env[PARENT_FD_ENV];
  // Not handed down to this process's own children: the pipe is this process's alone.
  delete process.env[PARENT_FD_ENV];
  if (fd === undefined || !/^\d+$/.test(fd)) return false;
  const pipe = new Socket({ fd: Number(fd), readable: true, writable: false });
  pipe.on('error', () => undefined); // a reset counts as gone too: 'close' follows
  pipe.once('close', onGone);
  pipe.resume();
  pipe.unref();
  return true;
}

/**
 * A supervised child's shutdown: on SIGTERM or SIGINT, once, it closes what it serves, withdraws its pid file and
 * exits (0, or 1 when closing failed), saying so on stderr as `[label] ...`. The server it runs holds the event
 * loop open until then.
 */
export function stopOnSignals(kind: { readonly name: string }, dir: string, label: string, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[${label}] ${signal}: closing\n`);
    close()
      .then(() => withdraw(kind, dir))
      .then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`[${label}] close failed: ${(e as Error).message}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Runs a child's `main`: an exit code ends the process with it; -1 means it serves until a signal
 * (`stopOnSignals`); a throw is printed and ends it with 1.
 */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
