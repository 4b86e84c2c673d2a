/**
 * The server's filesystem is a directory, its root: every path the image reads or writes for the server maps into
 * it as in a chroot (`/etc/x` is `<root>/etc/x`, and `..` stops at the root), and nothing is ever written through
 * a symbolic link that leads outside it.
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync, realpathSync, writeSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/** A path of the server's filesystem (relative ones are from `/`) as a path under its root. */
export function underRoot(root: string, path: string): string {
  return join(root, posix.resolve('/', path));
}

/** Whether `real` (a real path) is the root or inside it. */
function inside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(`${realRoot}/`);
}

/**
 * Checks that `target`, a path under the root, resolves inside it: its nearest existing ancestor (symbolic links
 * followed) must be the root or under it.
 * @throws Error when it leads outside the server
 */
export function checkInside(root: string, target: string, what: string): void {
  const realRoot = realpathSync(root);
  let probe = target;
  for (;;) {
    try {
      if (!inside(realRoot, realpathSync(probe))) throw new Error(`${what} leads outside the server`);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || probe === dirname(probe)) throw e;
      probe = dirname(probe);
    }
  }
}

/** Makes a directory (and its parents) under the root, refusing one that leads outside it. */
export function mkdirUnder(root: string, path: string): string {
  const target = underRoot(root, path);
  checkInside(root, target, path);
  mkdirSync(target, { recursive: true, mode: 0o755 });
  checkInside(root, target, path);
  return target;
}

/** Whether a file is a symbolic link (false when it does not exist). */
function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Opens a file under the root for writing (created or truncated), refusing one whose folder leads outside the
 * root or that is a symbolic link itself (the server's own process may have left either).
 * @returns the file descriptor, and the real path under the root
 */
export function openUnder(root: string, path: string, mode: number): { fd: number; target: string } {
  const target = underRoot(root, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  checkInside(root, dirname(target), path);
  if (isLink(target)) throw new Error(`${path} is a symbolic link`);
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  return { fd, target };
}

/** Writes a whole file under the root (see openUnder). */
export function writeUnder(root: string, path: string, content: string, mode: number): void {
  const { fd } = openUnder(root, path, mode);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}
