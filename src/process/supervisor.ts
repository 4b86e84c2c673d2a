/**
 * One supervisor for the processes the agent runs beside itself (the devnet today; the sandbox, the local cloud
 * and children later). A child gets its own data dir, where it writes its pid file once ready (`<name>.json`,
 * src/process/pid-file.ts) and its output goes to `<name>.log`. The supervisor starts it and probes it, stops it
 * with SIGTERM then SIGKILL, and on a restart adopts a child left running or cleans up what is left of one. It
 * signals only a pid whose command line runs the child's entry script (src/process/proc.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type ErrorCode } from '../errors/index.ts';
import { PARENT_FD_ENV } from './child.ts';
import { logFilePath, pidFilePath, readPidFile, removePidFile } from './pid-file.ts';
import { isGone, runsEntry, signal } from './proc.ts';

/** What kind of child: the same description serves the supervisor and the child itself (announce, withdraw). */
export interface ChildKind<I extends object> {
  /** Names its files in the data dir: `<name>.json` (pid file) and `<name>.log`. */
  readonly name: string;
  /** How messages name it, e.g. "the devnet". */
  readonly label: string;
  /** The absolute path of its script (run by node; a .ts one under tsx). A pid is the child only if it runs this. */
  readonly entry: string;
  /**
   * The same program's other entry scripts, taken for the child too: the build's .js beside the source's .ts, so
   * a child started from one is adopted and stopped by a parent running the other.
   */
  readonly aliases?: readonly string[];
  /**
   * Whether it keeps running when its parent dies (a kill -9 included). If not, it is handed a pipe to its parent
   * and must call `watchParent()` (src/process/child.ts), which ends it once that pipe reads EOF.
   */
  readonly outlive?: boolean;
  /** The announced fields of a pid file (untrusted input), checked; null when they are not what this child writes. */
  parse(fields: Record<string, unknown>): I | null;
  /** Whether the child answers where it announced (e.g. an HTTP GET); without one, the pid file appearing is ready. */
  probe?(info: I): Promise<boolean>;
  /** The code of the AgentError thrown when it does not start; INTERNAL by default. */
  readonly errorCode?: ErrorCode;
}

/**
 * A probe over HTTP for a child that announces its `url`: a GET of `path` there answers 2xx within two seconds
 * with a body `accept` takes. No answer, a timeout, or a body `accept` throws on is a failed probe.
 */
export function httpProbe(path: string, accept: (body: string) => boolean): (info: { url: string }) => Promise<boolean> {
  return async ({ url }) => {
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2000) });
      return res.ok && accept(await res.text());
    } catch {
      return false;
    }
  };
}

/** A child's announced fields and its pid, as its pid file says. */
export type Announced<I extends object> = I & { pid: number };

/** The time the waits read and the way they pause, passed in so that tests can run the timeouts on a fake clock. */
export interface Waits {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface SupervisorOptions {
  waits?: Waits;
  /** How long a start may take to answer; default 60 s. */
  startTimeoutMs?: number;
  /** How long SIGTERM has before SIGKILL; default 30 s (a database closes cleanly in that time). */
  stopTimeoutMs?: number;
  /** How long to wait for a process to be gone after SIGKILL; default 5 s. */
  killTimeoutMs?: number;
  /** Between two looks at the pid file or the pid; default 100 ms. */
  pollMs?: number;
  /** How many failed probes, `pollMs` apart, make a running child unresponsive (killed on adoption); default 3. */
  probeTries?: number;
  /** Added to this process's environment for the child. */
  env?: NodeJS.ProcessEnv;
}

/** How a stop ended: nothing of the child was running, it ended on SIGTERM, or it needed SIGKILL. */
export type StopResult = 'none' | 'terminated' | 'killed';

const SYSTEM_WAITS: Waits = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/**
 * The parent's ends of the pipes to children that must not outlive it, held while they run: the kernel closes
 * them when this process dies, however it dies, and each child reads EOF.
 */
const lifelines = new Map<number, Socket>();

/** Supervises the child of one kind that runs for one data dir. */
export class Supervisor<I extends object> {
  readonly dir: string;
  readonly pidFile: string;
  readonly logFile: string;
  private readonly waits: Waits;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly killTimeoutMs: number;
  private readonly pollMs: number;
  private readonly probeTries: number;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly kind: ChildKind<I>,
    dir: string,
    opts: SupervisorOptions = {},
  ) {
    this.dir = resolve(dir);
    this.pidFile = pidFilePath(this.dir, kind.name);
    this.logFile = logFilePath(this.dir, kind.name);
    this.waits = opts.waits ?? SYSTEM_WAITS;
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.killTimeoutMs = opts.killTimeoutMs ?? 5_000;
    this.pollMs = opts.pollMs ?? 100;
    this.probeTries = opts.probeTries ?? 3;
    this.env = opts.env ?? {};
  }

  /** What the pid file announces, or null when it is absent or not what this kind of child writes. */
  async read(): Promise<Announced<I> | null> {
    const record = await readPidFile(this.pidFile);
    if (!record) return null;
    const { pid, ...fields } = record;
    const info = this.kind.parse(fields);
    return info ? { ...info, pid } : null;
  }

  /** The child running for this dir: the pid file names a live pid that runs the entry and answers. No side effects. */
  async live(): Promise<Announced<I> | null> {
    const found = await this.read();
    if (!found || isGone(found.pid)) return null;
    if ((await runsEntry(found.pid, this.kind.entry, this.kind.aliases)) === false) return null;
    return (await this.answers(found, 1)) ? found : null;
  }

  /**
   * The child left running for this dir (by an earlier parent, even one killed with kill -9), or null once what
   * is left of one is cleaned up: a pid file naming a dead pid, or a pid running another program, is removed
   * without a signal; a child that no longer answers is stopped and its pid file removed.
   */
  async adopt(): Promise<Announced<I> | null> {
    const record = await readPidFile(this.pidFile);
    if (!record) return null;
    const { pid } = record;
    const ours = isGone(pid) ? false : await runsEntry(pid, this.kind.entry, this.kind.aliases);
    if (ours === false) {
      await removePidFile(this.pidFile, pid);
      return null;
    }
    const found = await this.read();
    if (found && (await this.answers(found, this.probeTries))) return found;
    // Without /proc a pid that does not answer cannot be told apart from a reused one: it is left alone.
    if (ours === 'unknown') return null;
    await this.terminate(pid);
    await removePidFile(this.pidFile, pid);
    return null;
  }

  /**
   * The child running for this dir, adopted, or else started.
   * @throws AgentError (the kind's code) when a new child exits before it is ready or does not answer in time.
   */
  async ensure(args: readonly string[] = []): Promise<Announced<I> & { started: boolean }> {
    const running = await this.adopt();
    if (running) return { ...running, started: false };
    return this.start(args);
  }

  /**
   * Starts the child (`node [--import tsx] entry ...args`, in a session of its own so that a signal to the
   * parent's process group does not reach it) and waits until its pid file names it and it answers. A child may
   * instead exit 0 because another already runs for this dir; then that one is returned, `started: false`.
   * @throws AgentError (the kind's code) when the child exits before it is ready or does not answer within the
   * start timeout (then it is stopped); the message names its log file.
   */
  async start(args: readonly string[] = []): Promise<Announced<I> & { started: boolean }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const outlive = this.kind.outlive === true;
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.env };
    delete env[PARENT_FD_ENV];
    if (!outlive) env[PARENT_FD_ENV] = '3';
    const nodeArgs = this.kind.entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
    const log = openSync(this.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...nodeArgs, this.kind.entry, ...args], {
        detached: true,
        env,
        stdio: outlive ? ['ignore', log, log] : ['ignore', log, log, 'pipe'],
      });
    } finally {
      closeSync(log);
    }
    let exited: string | undefined;
    let exitCode: number | null = null;
    child.once('exit', (code, sig) => {
      exitCode = code;
      exited = code === null ? `signal ${String(sig)}` : `code ${code}`;
    });
    child.once('error', (e) => {
      exited ??= e.message;
    });
    child.unref();
    const pid = child.pid;
    if (!outlive && pid !== undefined) holdLifeline(child, pid);

    const deadline = this.waits.now() + this.startTimeoutMs;
    for (;;) {
      if (exited !== undefined) {
        const other = await this.live();
        if (other) return { ...other, started: false };
        // An exit 0 steps aside for another child of this dir, which may not answer yet: keep looking for it.
        if (exitCode !== 0) break;
      } else if (pid !== undefined) {
        const found = await this.read();
        if (found?.pid === pid && (await this.answers(found, 1))) return { ...found, started: true };
      }
      if (this.waits.now() >= deadline) break;
      await this.waits.sleep(this.pollMs);
    }
    const why = exited === undefined ? 'did not answer in time' : `exited (${exited}) before it was ready`;
    // Our own child, not yet reaped, so its pid cannot have been reused: no need to check what it runs.
    if (exited === undefined && pid !== undefined) await this.terminate(pid);
    if (pid !== undefined) await removePidFile(this.pidFile, pid);
    const tail = await readFile(this.logFile, 'utf8').then((t) => t.slice(-2000), () => '');
    throw new AgentError(this.kind.errorCode ?? 'INTERNAL', `${this.kind.label} for ${this.dir} ${why}; its log is ${this.logFile}`, { log: tail });
  }

  /**
   * Stops the child running for this dir: SIGTERM, then SIGKILL after the stop timeout, and waits until it is
   * gone; removes its pid file. A pid file naming a dead pid or another program is removed and nothing signalled.
   */
  async stop(): Promise<StopResult> {
    const record = await readPidFile(this.pidFile);
    if (!record) return 'none';
    const { pid } = record;
    let ours = isGone(pid) ? false : await runsEntry(pid, this.kind.entry, this.kind.aliases);
    if (ours === 'unknown') {
      // Without /proc, only a process that answers as the child is taken for it.
      const found = await this.read();
      ours = found !== null && (await this.answers(found, 1));
    }
    if (!ours) {
      await removePidFile(this.pidFile, pid);
      return 'none';
    }
    const how = await this.terminate(pid);
    await removePidFile(this.pidFile, pid);
    return how;
  }

  /** SIGTERM, then SIGKILL once the stop timeout has passed; resolves when the pid is gone (or SIGKILL's wait ends). */
  private async terminate(pid: number): Promise<StopResult> {
    if (!signal(pid, 'SIGTERM')) return 'none';
    if (await this.waitGone(pid, this.stopTimeoutMs)) return 'terminated';
    signal(pid, 'SIGKILL');
    await this.waitGone(pid, this.killTimeoutMs);
    return 'killed';
  }

  private async waitGone(pid: number, ms: number): Promise<boolean> {
    const deadline = this.waits.now() + ms;
    while (!isGone(pid)) {
      if (this.waits.now() >= deadline) return false;
      await this.waits.sleep(this.pollMs);
    }
    return true;
  }

  private async answers(info: I, tries: number): Promise<boolean> {
    if (!this.kind.probe) return true;
    for (let i = 0; i < tries; i++) {
      if (i > 0) await this.waits.sleep(this.pollMs);
      if (await this.kind.probe(info).catch(() => false)) return true;
    }
    return false;
  }
}

/** Keeps the parent's end of the child's pipe (fd 3) open, without holding this process's event loop, until it exits. */
function holdLifeline(child: ChildProcess, pid: number): void {
  const end = child.stdio[3] as Socket | null | undefined;
  if (!end) return;
  end.on('error', () => undefined);
  end.unref();
  lifelines.set(pid, end);
  child.once('exit', () => {
    lifelines.delete(pid);
    end.destroy();
  });
}
