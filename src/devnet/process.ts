/**
 * The devnet as its own process, so the chain outlives the agent (a restart, even a kill -9 of the
 * agent, finds the same chain and mempool). `dir/devnet.json` = {url, controlUrl, pid} tells other
 * processes (the agent, the CLI) where a running devnet answers.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../errors/index.ts';

export interface DevnetProcessInfo {
  url: string;
  controlUrl: string;
  pid: number;
}

const INFO_FILE = 'devnet.json';
const LOG_FILE = 'devnet.log';
/**
 * The devnet's entry point beside this module: main.ts when running from source (under tsx, which the child
 * then needs too), main.js in the build (`npm run build`, dist/), which node runs as it is.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN_PATH = fileURLToPath(new URL(FROM_SOURCE ? './main.ts' : './main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

/** The contents of `dir/devnet.json`, or null when absent or malformed. */
export async function readDevnetInfo(dir: string): Promise<DevnetProcessInfo | null> {
  let text: string;
  try {
    text = await readFile(join(dir, INFO_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as Partial<DevnetProcessInfo>;
    if (typeof v.url === 'string' && typeof v.controlUrl === 'string' && typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0) {
      return { url: v.url, controlUrl: v.controlUrl, pid: v.pid };
    }
  } catch {
    // a torn or foreign file counts as no devnet; the next start rewrites it
  }
  return null;
}

/** Writes `dir/devnet.json` atomically (temp file, fsync, rename), so a reader never sees half of it. */
export async function writeDevnetInfo(dir: string, info: DevnetProcessInfo): Promise<void> {
  const file = join(dir, INFO_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(JSON.stringify(info) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** Removes `dir/devnet.json` if it still names `pid` (a successor's file is left alone). */
export async function removeDevnetInfo(dir: string, pid: number): Promise<void> {
  const info = await readDevnetInfo(dir);
  if (info?.pid !== pid) return;
  await unlink(join(dir, INFO_FILE)).catch(() => undefined);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/blocks/tip/height`, { signal: AbortSignal.timeout(2000) });
    return res.ok && /^\d+$/.test(await res.text());
  } catch {
    return false;
  }
}

/** The devnet running for `dir`: devnet.json names a live process whose API answers. */
export async function liveDevnet(dir: string): Promise<DevnetProcessInfo | null> {
  const info = await readDevnetInfo(dir);
  if (!info || !pidAlive(info.pid)) return null;
  return (await answers(info.url)) ? info : null;
}

/**
 * Reuses the devnet running for `dir`, or starts `src/devnet/main.ts` detached (its output goes to
 * `dir/devnet.log`) and waits until it answers.
 * @returns where it answers, its pid, and whether this call started it.
 * @throws AgentError DEVNET_START_FAILED when it exits or does not answer within `timeoutMs`.
 */
export async function ensureDevnetProcess(
  dir: string,
  opts: { host?: string; port?: number; timeoutMs?: number } = {},
): Promise<DevnetProcessInfo & { started: boolean }> {
  const root = resolve(dir);
  const live = await liveDevnet(root);
  if (live) return { ...live, started: false };

  await mkdir(root, { recursive: true });
  const args = [...(FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : []), MAIN_PATH, '--dir', root];
  if (opts.host !== undefined) args.push('--host', opts.host);
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  const log = openSync(join(root, LOG_FILE), 'a');
  let exited: number | string | null | undefined;
  let child;
  try {
    child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  child.on('exit', (code, signal) => {
    exited = code ?? signal;
  });
  child.on('error', (e) => {
    exited = e.message;
  });
  child.unref();
  const pid = child.pid;

  const deadline = Date.now() + (opts.timeoutMs ?? START_TIMEOUT_MS);
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    if (exited !== undefined) {
      // main.ts exits 0 when another process won the race to this dir: use that one.
      const other = await liveDevnet(root);
      if (other) return { ...other, started: false };
      if (exited !== 0) break;
      continue;
    }
    const info = await readDevnetInfo(root);
    if (info && info.pid === pid && (await answers(info.url))) return { ...info, started: true };
  }
  if (exited === undefined && pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const tail = await readFile(join(root, LOG_FILE), 'utf8').then((t) => t.slice(-2000), () => '');
  throw new AgentError(
    'DEVNET_START_FAILED',
    exited === undefined ? `the devnet for ${root} did not answer in time` : `the devnet for ${root} exited (${String(exited)})`,
    { log: tail },
  );
}

/**
 * Stops the devnet running for `dir` (SIGTERM, so it closes its database cleanly; SIGKILL after
 * `timeoutMs`) and removes a stale devnet.json.
 * @returns true when a devnet process was stopped.
 */
export async function stopDevnetProcess(dir: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const root = resolve(dir);
  const info = await readDevnetInfo(root);
  if (!info) return false;
  // A pid from devnet.json may have been reused by an unrelated process after a crash: only a
  // process that answers as the devnet, or whose command line is main.ts, is signalled.
  if (!pidAlive(info.pid) || !((await answers(info.url)) || (await isDevnetCommand(info.pid)))) {
    await removeDevnetInfo(root, info.pid);
    return false;
  }
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + (opts.timeoutMs ?? STOP_TIMEOUT_MS);
  while (pidAlive(info.pid) && Date.now() < deadline) await sleep(POLL_MS);
  if (pidAlive(info.pid)) {
    process.kill(info.pid, 'SIGKILL');
    const killDeadline = Date.now() + 5000;
    while (pidAlive(info.pid) && Date.now() < killDeadline) await sleep(POLL_MS);
  }
  await removeDevnetInfo(root, info.pid);
  return true;
}

async function isDevnetCommand(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(MAIN_PATH);
  } catch {
    return false;
  }
}
