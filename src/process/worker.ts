/**
 * Short-lived workers: a child process that does one job for its parent over Node's IPC channel and ends with
 * it (the sandbox that runs providers' scripts). `Supervisor` (./supervisor.ts) is for long-lived children that
 * announce an address in a pid file and answer probes across restarts of the parent; a worker has neither, so
 * it is started here instead, with the same two habits: the source's .ts entry runs under tsx and the build's
 * .js as it is, and a pipe to the parent lets the worker see the parent die (`watchParent`, ./child.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { PARENT_FD_ENV } from './child.ts';

interface WorkerOptions {
  /** Options for node itself, before the entry (a heap cap, say). */
  nodeArgs?: readonly string[];
  /**
   * The worker's whole environment besides the lifeline's variable: nothing of the parent's is inherited
   * unless given here, so that a worker that runs untrusted code cannot read the agent's environment.
   */
  env?: Readonly<Record<string, string>>;
  /** Bytes of the worker's stderr kept for a diagnosis (its last ones); default 4096. */
  stderrBytes?: number;
}

/** A started worker: the child (IPC through `send` and 'message'), and the tail of what it wrote to stderr. */
export interface Worker {
  readonly child: ChildProcess;
  stderrTail(): string;
}

/**
 * Starts `node [--import tsx] [...nodeArgs] entry ...args` with an IPC channel. The worker must call
 * `watchParent()` so that it ends once this process is gone, however it dies.
 * @throws whatever `child_process.spawn` throws synchronously (a bad argument); a failure to start arrives
 * as the child's 'error' event.
 */
export function startWorker(entry: string, args: readonly string[] = [], opts: WorkerOptions = {}): Worker {
  const loader = entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const child = spawn(process.execPath, [...loader, ...(opts.nodeArgs ?? []), entry, ...args], {
    env: { ...opts.env, [PARENT_FD_ENV]: '3' },
    // fd 3: the lifeline, whose end only this process holds; fd 4: IPC. stdout is not read: a worker talks
    // over IPC only.
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'ipc'],
  });
  // A send to a worker that has just died emits 'error' (ERR_IPC_CHANNEL_CLOSED); unheard, it would end this
  // process. The worker's end is seen through 'exit', which the caller listens for.
  child.on('error', () => undefined);
  // Pipes to a child are sockets (net.Socket), which can be unref'd.
  const lifeline = child.stdio[3] as Socket | null;
  lifeline?.on('error', () => undefined);
  // Nothing of the worker holds this process open: a worker left running must not keep its parent from exiting
  // (the worker then reads EOF on its lifeline and ends too). A caller that waits for a message or for the exit
  // refs the channel (`child.channel.ref()`) or the child (`child.ref()`) while it waits.
  lifeline?.unref();
  (child.stderr as Socket | null)?.unref();
  child.unref();
  child.channel?.unref();
  const keep = opts.stderrBytes ?? 4096;
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-keep);
  });
  child.once('exit', () => lifeline?.destroy());
  return { child, stderrTail: () => tail };
}
