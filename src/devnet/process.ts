/**
 * The devnet as its own process, so the chain outlives the agent (a restart, even a kill -9 of the
 * agent, finds the same chain and mempool). `dir/devnet.json` = {url, controlUrl, pid} tells other
 * processes (the agent, the CLI) where a running devnet answers. Started, probed, stopped and adopted by
 * the one supervisor (src/process/index.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpProbe, Supervisor, type ChildKind } from '../process/index.ts';

export interface DevnetProcessInfo {
  url: string;
  controlUrl: string;
  pid: number;
}

/**
 * The devnet's entry point beside this module: main.ts when running from source (under tsx, which the child
 * then needs too), main.js in the build (`npm run build`, dist/ under the package root: tsconfig.build.json),
 * which node runs as it is. Each is the other's alias: the agent run from the build (`npm start`) and the
 * `storj` command run from source share one devnet.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN_PATH = fileURLToPath(new URL(FROM_SOURCE ? './main.ts' : './main.js', import.meta.url));
const OTHER_BUILD = fileURLToPath(new URL(FROM_SOURCE ? '../../dist/src/devnet/main.js' : '../../../src/devnet/main.ts', import.meta.url));

/** The devnet as a supervised child: it outlives its parent, and answers once its Esplora API gives a height. */
export const DEVNET: ChildKind<Omit<DevnetProcessInfo, 'pid'>> = {
  name: 'devnet',
  label: 'the devnet',
  entry: MAIN_PATH,
  aliases: [OTHER_BUILD],
  outlive: true,
  errorCode: 'DEVNET_START_FAILED',
  parse: (v) => (typeof v.url === 'string' && typeof v.controlUrl === 'string' ? { url: v.url, controlUrl: v.controlUrl } : null),
  probe: httpProbe('/blocks/tip/height', (body) => /^\d+$/.test(body)),
};

/** The devnet's supervisor for `dir`. */
export function devnetSupervisor(dir: string, opts: { startTimeoutMs?: number; stopTimeoutMs?: number } = {}): Supervisor<Omit<DevnetProcessInfo, 'pid'>> {
  return new Supervisor(DEVNET, resolve(dir), opts);
}

/** The contents of `dir/devnet.json`, or null when absent or malformed. */
export async function readDevnetInfo(dir: string): Promise<DevnetProcessInfo | null> {
  return devnetSupervisor(dir).read();
}

/**
 * Reuses the devnet running for `dir`, or starts `src/devnet/main.ts` detached (its output goes to
 * `dir/devnet.log`) and waits until it answers. A devnet.json left by a devnet that died, or naming a
 * pid now running another program, is removed; a devnet that no longer answers is stopped first.
 * @returns where it answers, its pid, and whether this call started it.
 * @throws AgentError DEVNET_START_FAILED when it exits or does not answer within `timeoutMs`.
 */
export async function ensureDevnetProcess(
  dir: string,
  opts: { host?: string; port?: number; timeoutMs?: number } = {},
): Promise<DevnetProcessInfo & { started: boolean }> {
  const root = resolve(dir);
  const args = ['--dir', root];
  if (opts.host !== undefined) args.push('--host', opts.host);
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  return devnetSupervisor(root, opts.timeoutMs === undefined ? {} : { startTimeoutMs: opts.timeoutMs }).ensure(args);
}

/**
 * Stops the devnet running for `dir` (SIGTERM, so it closes its database cleanly; SIGKILL after
 * `timeoutMs`) and removes a stale devnet.json. A pid that is not the devnet's main.ts is never signalled.
 * @returns true when a devnet process was stopped.
 */
export async function stopDevnetProcess(dir: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const sup = devnetSupervisor(dir, opts.timeoutMs === undefined ? {} : { stopTimeoutMs: opts.timeoutMs });
  return (await sup.stop()) !== 'none';
}
