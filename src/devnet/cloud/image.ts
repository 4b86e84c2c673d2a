/**
 * The local cloud's one image: what booting a paid server does. Its root is `<cloud dir>/servers/<id>/root`,
 * standing for the server's filesystem: `write_files` land under it (an absolute path maps into it as in a
 * chroot, and never outside it), and so does every path a command uses. Of the runcmd items it runs:
 * - `[sh, -c, "set -e; ..."]`, in the image's own shell (./shell.ts) with the commands it ships (./commands.ts),
 *   whose `systemctl enable --now UNIT` starts the unit's ExecStart (./unit.ts) as the server's process;
 * - `storj ARGS`, the agent's own command line (`--storj-entry`, a stub by default), the image's older form;
 * and records every other item as skipped, because the image ships what it would install. One process per
 * server, in a process group of its own, with `PORT` set to the port its `url` names. Every step is written to
 * the server's console.log.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCloudConfig } from './cloud-config.ts';
import type { ShellContext } from './shell-context.ts';
import { underRoot, writeUnder } from './root-fs.ts';
import { consoleLog, freePort, spawnServer, stopServerProcess, type ServerCommand } from './server-process.ts';
import { isShellLine, runShellLine } from './shell.ts';
import { unitCommand } from './unit.ts';

export { answers, isServerProcess, stopServerProcess } from './server-process.ts';

/** The marker file every image carries; a tampered image's says so (the battery's failure path). */
const IMAGE_MARKER = '/etc/storj-image';
const IMAGE_NAME = 'local-cloud-image/1';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The stand-in for the agent's code that `storj` runs until the cloud is told which entry to run. */
export const STUB_ENTRY = fileURLToPath(new URL(FROM_SOURCE ? './image-stub.ts' : './image-stub.js', import.meta.url));

export interface ImageSettings {
  /** The script `storj` runs (node, under tsx when it is .ts); the stub image by default. */
  storjEntry: string;
  /** Test-only: boot a tampered image (the marker file, STORJ_IMAGE_TAMPERED=1, and a changed unpacked file). */
  tampered: boolean;
}

export interface Booted {
  pid: number;
  port: number;
  /** runcmd items not run, as text. */
  skipped: string[];
}

/** The older form: `storj ARGS` runs the configured entry in the root, its absolute paths mapped into it. */
function storjCommand(argv: string[], root: string, port: number, serverId: string, settings: ImageSettings): ServerCommand {
  const entry = settings.storjEntry;
  const nodeArgs = entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  return {
    command: process.execPath,
    args: [...nodeArgs, entry, ...argv.slice(1).map((a) => (a.startsWith('/') ? underRoot(root, a) : a))],
    cwd: root,
    // Only what the image sets: none of the cloud's own environment reaches a customer's server.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      PORT: String(port),
      STORJ_SERVER_ID: serverId,
      STORJ_SERVER_ROOT: root,
      ...(settings.tampered ? { STORJ_IMAGE_TAMPERED: '1' } : {}),
    },
  };
}

/**
 * Boots a server: writes its files and the image marker, runs its runcmd, and starts its process. With nothing
 * that starts one there is no process (pid 0): the server never answers and stays `booting`, as a VPS whose user
 * data starts nothing. `port` is the one its url names (a free one when not given).
 * @throws Error for user data it cannot read, a file outside the root, or a command that failed (then no
 *   process is left running)
 */
export async function boot(serverDir: string, userData: string, serverId: string, settings: ImageSettings, port?: number): Promise<Booted> {
  const root = join(serverDir, 'root');
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const log = consoleLog(serverDir);
  const skipped: string[] = [];
  let pid = 0;
  const portNo = port ?? (await freePort());
  const start = (what: string, cmd: ServerCommand): void => {
    if (pid !== 0) throw new Error(`${what}: the server's process is already running`);
    pid = spawnServer(serverDir, cmd);
    log(`started ${what} (pid ${pid}, port ${portNo})`);
  };
  try {
    const config = parseCloudConfig(userData);
    writeUnder(root, IMAGE_MARKER, settings.tampered ? `${IMAGE_NAME} (tampered)\n` : `${IMAGE_NAME}\n`, 0o644);
    for (const f of config.writeFiles) writeUnder(root, f.path, f.content, f.mode);
    log(`wrote ${config.writeFiles.length} file(s) from write_files`);
    const ctx: ShellContext = {
      root,
      tampered: settings.tampered,
      log,
      startUnit: (unitName) => start(unitName, unitCommand({ root, unitName, port: portNo, serverId, tampered: settings.tampered })),
    };
    for (const line of config.runcmd) {
      if (isShellLine(line)) {
        await runShellLine(line, ctx);
      } else if (line[0] === 'storj' && pid === 0) {
        start('storj', storjCommand(line, root, portNo, serverId, settings));
      } else {
        skipped.push(line.join(' '));
        log(`skipped: ${line.join(' ')} (the image ships what it would do)`);
      }
    }
  } catch (e) {
    log(`boot failed: ${(e as Error).message}`);
    if (pid !== 0) await stopServerProcess(pid, serverDir);
    throw e;
  }
  return { pid, port: portNo, skipped };
}
