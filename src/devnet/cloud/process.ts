/**
 * The local cloud as its own process, beside the devnet chain and outliving the agent (a kill -9 of the agent
 * leaves its servers and invoices as they were). `dir/cloud.json` = {url, pid} says where it answers. Started,
 * probed, stopped and adopted by the one supervisor (src/process/index.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpProbe, Supervisor, type ChildKind } from '../../process/index.ts';

export interface CloudProcessInfo {
  url: string;
  pid: number;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN_PATH = fileURLToPath(new URL(FROM_SOURCE ? '../cloud-main.ts' : '../cloud-main.js', import.meta.url));
const OTHER_BUILD = fileURLToPath(new URL(FROM_SOURCE ? '../../../dist/src/devnet/cloud-main.js' : '../../../../src/devnet/cloud-main.ts', import.meta.url));

/** The cloud as a supervised child: it outlives its parent, and answers once its plan list does. */
export const CLOUD: ChildKind<Omit<CloudProcessInfo, 'pid'>> = {
  name: 'cloud',
  label: 'the local cloud',
  entry: MAIN_PATH,
  aliases: [OTHER_BUILD],
  outlive: true,
  // The cloud is part of the devnet: a start that fails is the devnet's (the message names the cloud's log).
  errorCode: 'DEVNET_START_FAILED',
  parse: (v) => (typeof v.url === 'string' ? { url: v.url } : null),
  probe: httpProbe('/v1/plans', (body) => Array.isArray((JSON.parse(body) as { plans?: unknown }).plans)),
};

/** The cloud's supervisor for `dir`. */
export function cloudSupervisor(dir: string, opts: { startTimeoutMs?: number; stopTimeoutMs?: number } = {}): Supervisor<Omit<CloudProcessInfo, 'pid'>> {
  return new Supervisor(CLOUD, resolve(dir), opts);
}

export interface EnsureCloudOptions {
  /** The devnet chain's Esplora API, where the cloud watches its invoices. */
  esploraUrl: string;
  /** 8430 by default (the port spawn-scripts/local-cloud.js names); 0 for any free port. */
  port?: number;
  /** Between two passes over invoices and servers; 1000 ms by default. */
  pollMs?: number;
  /** The script the image's `storj` command runs; a stub that answers HTTP by default. */
  storjEntry?: string;
  /** Test-only: every server boots a tampered image (docs/local-cloud.md, "The image"). */
  tamperedImage?: boolean;
  timeoutMs?: number;
}

/**
 * Reuses the cloud running for `dir`, or starts src/devnet/cloud-main.ts detached (its output goes to
 * `dir/cloud.log`) and waits until it answers. A running cloud is adopted as it is, whatever these options say.
 * @throws AgentError DEVNET_START_FAILED when it exits or does not answer in time
 */
export async function ensureCloudProcess(dir: string, opts: EnsureCloudOptions): Promise<CloudProcessInfo & { started: boolean }> {
  const root = resolve(dir);
  const args = ['--dir', root, '--esplora', opts.esploraUrl];
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  if (opts.pollMs !== undefined) args.push('--poll-ms', String(opts.pollMs));
  if (opts.storjEntry !== undefined) args.push('--storj-entry', resolve(opts.storjEntry));
  if (opts.tamperedImage === true) args.push('--tampered-image');
  return cloudSupervisor(root, opts.timeoutMs === undefined ? {} : { startTimeoutMs: opts.timeoutMs }).ensure(args);
}

/** Stops the cloud running for `dir` (its servers keep running, as VPSes do while a provider's API restarts). */
export async function stopCloudProcess(dir: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const sup = cloudSupervisor(dir, opts.timeoutMs === undefined ? {} : { stopTimeoutMs: opts.timeoutMs });
  return (await sup.stop()) !== 'none';
}

/** The contents of `dir/cloud.json`, or null when absent or malformed. */
export async function readCloudInfo(dir: string): Promise<CloudProcessInfo | null> {
  return cloudSupervisor(dir).read();
}

/**
 * Moves the clock of the cloud running for `dir` forward with the devnet's (its POST /v1/dev/advance), for the
 * agent's own POST /v1/dev/advance.
 * @returns the cloud's new time (ms since the epoch), or null when no cloud is running for `dir`.
 * @throws Error when the cloud answers with an error
 */
export async function advanceCloudClock(dir: string, seconds: number): Promise<number | null> {
  const running = await cloudSupervisor(dir).live();
  if (!running) return null;
  const res = await fetch(`${running.url}/v1/dev/advance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seconds }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { now?: unknown };
  if (!res.ok || typeof body.now !== 'number') throw new Error(`the local cloud refused to advance its clock (${res.status})`);
  return body.now;
}
