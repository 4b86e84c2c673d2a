/**
 * What the benchmarks share: the result type, the cleanup stack, medians and units, the one HTTP client
 * (curl, for the agent and for nginx alike), free ports, and reading a process's memory from /proc.
 */
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const GIB = 1024 ** 3;
/**
 * Timed runs of each side of a benchmark, the median reported: 3, or STORJ_BENCH_RUNS (1..21) on a machine
 * too noisy for 3 to agree.
 */
export const RUNS = ((): number => {
  const raw = process.env.STORJ_BENCH_RUNS;
  const n = raw === undefined ? 3 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 21) throw new Error(`STORJ_BENCH_RUNS must be an integer from 1 to 21, not ${raw}`);
  return n;
})();
/** Throughput and memory are reported in MB = 10^6 bytes (so MB/s compares with disk and NIC figures). */
export const MB = 1e6;

export interface BenchResult {
  name: string;
  /** The benchmark's one line, printed as soon as it is measured. */
  line: string;
  /** Columns of the closing summary table. */
  measured: string;
  reference: string;
  ratio: string;
  target: string;
  pass: boolean;
  /** Indented lines after the one line: how the figure came about. */
  details?: string[];
}

/** Things to undo on exit, newest first; each step's failure is reported and the rest still run. */
export class Cleanup {
  readonly #steps: Array<{ label: string; fn: () => unknown }> = [];
  #running: Promise<void> | undefined;

  add(label: string, fn: () => unknown): void {
    this.#steps.push({ label, fn });
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
        try {
          await step.fn();
        } catch (e) {
          console.error(`cleanup: ${step.label} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    })();
    return this.#running;
  }
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const mbps = (bytes: number, seconds: number): number => bytes / seconds / MB;
export const fmt = (x: number, digits = 0): string => x.toFixed(digits);
export const verdict = (pass: boolean): string => (pass ? 'PASS' : 'MISS');

/** progress goes to stderr, so stdout carries only the results. */
export function progress(msg: string): void {
  console.error(`  .. ${msg}`);
}

/** The first of `candidates` that runs with `args` (exit 0), or undefined. */
export function findExecutable(candidates: string[], args: string[]): { path: string; output: string } | undefined {
  for (const path of candidates) {
    const r = spawnSync(path, args, { encoding: 'utf8' });
    if (!r.error && r.status === 0) return { path, output: `${r.stdout}${r.stderr}` };
  }
  return undefined;
}

export interface CurlResult {
  status: number;
  sizeDownload: number;
  sizeUpload: number;
  /** curl's own time_total: from name lookup to the last byte, without curl's process start. */
  seconds: number;
  body: string;
}

const CURL_MARK = '\n@@curl@@ ';

/**
 * On a 2-core machine the scheduler may put the server and the client on the same core in one run and on
 * different cores in the next, which made transfer figures jump between two modes (0.35x and 0.85x for the
 * same build). Pinning the server (agent or nginx, with all its threads) to core 0 and the client to core 1
 * gives both servers the same single core, so the ratio compares them and not the scheduler's luck.
 */
export const SERVER_CPU = '0';
export const CLIENT_CPU = '1';
const HAS_TASKSET = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

/** `cmd args` run on `cpu` with taskset (when there is more than one core and taskset exists). */
export function pinned(cpu: string, cmd: string, args: string[]): [string, string[]] {
  if (!HAS_TASKSET || availableParallelism() < 2) return [cmd, args];
  return ['taskset', ['-c', cpu, cmd, ...args]];
}

/**
 * Runs curl with `args` and the options every measurement shares: HTTP/1.1, no proxy (nothing may leave
 * 127.0.0.1 even if the environment names a proxy), no `Expect: 100-continue` round trip, a hard time limit.
 * @throws Error when curl cannot run or fails at the transport level
 */
export async function curl(args: string[], maxSeconds = 600): Promise<CurlResult> {
  const all = ['-sS', '--http1.1', '--noproxy', '*', '-H', 'Expect:', '--max-time', String(maxSeconds), '-w', `${CURL_MARK}%{http_code} %{size_download} %{size_upload} %{time_total}`, ...args];
  const [cmd, argv] = pinned(CLIENT_CPU, 'curl', all);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c ?? -1));
  });
  const text = Buffer.concat(out).toString('utf8');
  if (code !== 0) throw new Error(`curl ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8').trim()}`);
  const at = text.lastIndexOf(CURL_MARK);
  const fields = text.slice(at + CURL_MARK.length).trim().split(' ').map(Number);
  if (at < 0 || fields.length !== 4 || fields.some((n) => !Number.isFinite(n))) throw new Error(`curl printed no timing: ${text.slice(-200)}`);
  const [status, sizeDownload, sizeUpload, seconds] = fields as [number, number, number, number];
  return { status, sizeDownload, sizeUpload, seconds, body: text.slice(0, at) };
}

/** A port free on 127.0.0.1 right now (for nginx, which cannot report a port it picked itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof addr !== 'object' || addr === null) throw new Error('no port');
  return addr.port;
}

/**
 * Waits until something accepts connections on 127.0.0.1:port, checking `alive` between tries.
 * @throws Error when `alive` says no or the deadline passes
 */
export async function waitForPort(port: number, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A process's memory from /proc/<pid>/status, in bytes: VmRSS now, VmHWM the kernel's peak RSS so far. */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** CPU time a process (all its threads) has used so far, in seconds, from /proc/<pid>/stat (USER_HZ = 100). */
export function procCpu(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces: utime and stime are
  // the 14th and 15th fields of the line, the 12th and 13th after the ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (i: number): number => Number(rest[i]) / 100;
  return { user: ticks(11), sys: ticks(12) };
}

/**
 * Resets a process's VmHWM to its current VmRSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+), so the peak
 * of one phase can be read apart from what came before. Needs the same user as the process.
 */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Runs `a` and `b` alternately, `RUNS` times each, starting with the other one each time (so drift hits both). */
export async function interleave(a: (run: number) => Promise<number>, b: (run: number) => Promise<number>): Promise<{ a: number[]; b: number[] }> {
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      out.a.push(await a(i));
      out.b.push(await b(i));
    } else {
      out.b.push(await b(i));
      out.a.push(await a(i));
    }
  }
  return out;
}
