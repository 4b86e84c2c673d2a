/**
 * The local cloud's one image: what booting a paid server does. Its root is `<cloud dir>/servers/<id>/root`,
 * standing for the server's filesystem: `write_files` land under it (an absolute path maps into it as in a
 * chroot, and never outside it), and so does any absolute path in a runcmd argument. Of the runcmd lines, the
 * image runs only the commands it ships (IMAGE_COMMANDS); the others (package installs, systemctl, ...) are
 * recorded as skipped, because the image ships what they would install. The first shipped command becomes the
 * server's process, started in its own process group with `PORT` set to the port its `url` names.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isGone, signal } from '../../process/index.ts';
import { parseCloudConfig } from './cloud-config.ts';

/** The marker file every image carries; a tampered image's says so (the battery's failure path). */
const IMAGE_MARKER = '/etc/storj-image';
const IMAGE_NAME = 'local-cloud-image/1';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The stand-in for the agent's code that `storj` runs until the cloud is told which entry to run. */
export const STUB_ENTRY = fileURLToPath(new URL(FROM_SOURCE ? './image-stub.ts' : './image-stub.js', import.meta.url));

export interface ImageSettings {
  /** The script `storj` runs (node, under tsx when it is .ts); the stub image by default. */
  storjEntry: string;
  /** Test-only: boot a tampered image (the marker file and STORJ_IMAGE_TAMPERED=1 say so to the process). */
  tampered: boolean;
}

/** The commands the image ships: `storj` is the agent's own command line. */
const IMAGE_COMMANDS = ['storj'] as const;

export interface Booted {
  pid: number;
  port: number;
  /** runcmd lines not run, as text. */
  skipped: string[];
}

/** A path of the server's filesystem as a path under its root: `..` cannot climb above the root. */
function underRoot(root: string, path: string): string {
  return join(root, posix.resolve('/', path));
}

/** Writes a file under the root, refusing to follow a symbolic link the server's own process may have made. */
function writeUnder(root: string, path: string, content: string, mode: number): void {
  const target = underRoot(root, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  const realRoot = realpathSync(root);
  const realParent = realpathSync(dirname(target));
  if (realParent !== realRoot && !realParent.startsWith(`${realRoot}/`)) throw new Error(`write_files ${path} leads outside the server`);
  try {
    if (lstatSync(target).isSymbolicLink()) throw new Error(`write_files ${path} is a symbolic link`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** A port nobody listens on at this moment, for the server's `url`. */
async function freePort(): Promise<number> {
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
 * Boots a server: writes its files and the image marker, and starts its process. With no shipped command in
 * runcmd there is no process (pid 0): the server never answers and stays `booting`, as a VPS whose user data
 * starts nothing.
 * @throws Error for user data that is not valid #cloud-config or a file outside the root
 */
export async function boot(serverDir: string, userData: string, serverId: string, settings: ImageSettings): Promise<Booted> {
  const config = parseCloudConfig(userData);
  const root = join(serverDir, 'root');
  mkdirSync(root, { recursive: true, mode: 0o755 });
  writeUnder(root, IMAGE_MARKER, settings.tampered ? `${IMAGE_NAME} (tampered)\n` : `${IMAGE_NAME}\n`, 0o644);
  for (const f of config.writeFiles) writeUnder(root, f.path, f.content, f.mode);
  const skipped: string[] = [];
  let argv: string[] | null = null;
  for (const line of config.runcmd) {
    if (argv === null && (IMAGE_COMMANDS as readonly string[]).includes(line[0]!)) argv = line;
    else skipped.push(line.join(' '));
  }
  const port = await freePort();
  if (argv === null) return { pid: 0, port, skipped };
  const args = argv.slice(1).map((a) => (a.startsWith('/') ? underRoot(root, a) : a));
  const entry = settings.storjEntry;
  const nodeArgs = entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const consoleFd = openSync(join(serverDir, 'console.log'), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...nodeArgs, entry, ...args], {
      cwd: root,
      detached: true,
      stdio: ['ignore', consoleFd, consoleFd],
      // Only what the image sets: none of the cloud's own environment reaches a customer's server.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: root,
        PORT: String(port),
        STORJ_SERVER_ID: serverId,
        STORJ_SERVER_ROOT: root,
        ...(settings.tampered ? { STORJ_IMAGE_TAMPERED: '1' } : {}),
      },
    });
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error('the server process did not start');
    return { pid: child.pid, port, skipped };
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
 * Whether `pid` is still the server's process: alive and working in the server's root (a pid left in the state
 * by an earlier run of the cloud may since have been reused by another program, which must not be signalled).
 */
export function isServerProcess(pid: number, serverDir: string): boolean {
  if (pid <= 0 || isGone(pid)) return false;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(join(serverDir, 'root'));
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
