/**
 * The agent as its own process, started as `npm start` starts it, on a devnet that lives in the bench
 * process, so the agent's memory can be read from /proc without the devnet's or the client's in it. Node is
 * spawned directly, not through npm or the tsx binary, because those wrappers run the agent in a child and
 * /proc would show the wrapper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Devnet } from '../../src/devnet/index.ts';
import { initDataDir } from '../../src/agent/index.ts';
import { pinned, SERVER_CPU } from './lib.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PASSPHRASE = 'bench passphrase';
/** Cheap scrypt, as in the tests (the real default is N=2^17): unlocking the wallet is not what is measured. */
const KDF = { N: 2 ** 12, r: 8, p: 1 };
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * The node arguments of package.json's `start` script (`node ARGS...`), so the benchmark measures the agent
 * exactly as it is started.
 * @throws Error when the script is not a plain `node ...` command
 */
function npmStart(): { env: Record<string, string>; args: string[] } {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const words = (pkg.scripts?.start ?? '').trim().split(/\s+/);
  // Leading NAME=VALUE words are the environment the script gives node (MALLOC_ARENA_MAX).
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const [name = '', ...value] = (words.shift() ?? '').split('=');
    env[name] = value.join('=');
  }
  const [cmd, ...args] = words;
  if (cmd !== 'node' || args.length === 0) throw new Error(`package.json's start script is not "[NAME=VALUE...] node ARGS...": ${pkg.scripts?.start ?? '(none)'}`);
  return { env, args };
}

/** The environment package.json's `start` script gives node, which the agent (and the idle reference) get too. */
export function agentNodeEnv(): Record<string, string> {
  return npmStart().env;
}

/** The node arguments the agent is started with (STORJ_BENCH_AGENT_ARGS, else package.json's `start` script). */
function agentNodeArgs(): string[] {
  return process.env.STORJ_BENCH_AGENT_ARGS ? process.env.STORJ_BENCH_AGENT_ARGS.split(' ') : npmStart().args;
}

/** Those arguments before the script's path: node's own flags (and an --import's module). */
export function agentNodeFlags(): string[] {
  const args = agentNodeArgs();
  const script = args.findIndex((a) => /\.(js|ts)$/.test(a));
  return script < 0 ? args : args.slice(0, script);
}

export interface Quote {
  id: string;
  address: string;
  amountSat: number;
  uploadToken: string;
}

export class AgentProcess {
  readonly url: string;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #log: string[];

  private constructor(child: ChildProcess, url: string, log: string[]) {
    this.#child = child;
    this.url = url;
    this.pid = child.pid ?? -1;
    this.#log = log;
  }

  /**
   * Initialises `dataDir` and starts the agent on `devnet`; resolves once it prints the URL it listens on.
   * @throws Error when the agent exits or says nothing within 60 s (its last output is in the message)
   */
  static async start(dataDir: string, devnet: Devnet): Promise<AgentProcess> {
    await initDataDir({ dataDir, network: 'regtest', passphrase: PASSPHRASE, kdf: KDF });
    // Nothing from the caller's own STORJ_* settings may leak in: this agent is configured here alone.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('STORJ_')) env[k] = v;
    Object.assign(env, {
      // What package.json's start script sets before node (MALLOC_ARENA_MAX).
      ...agentNodeEnv(),
      STORJ_DATA_DIR: dataDir,
      STORJ_NETWORK: 'regtest',
      STORJ_LISTEN: '127.0.0.1:0',
      STORJ_ESPLORA_URL: devnet.url,
      STORJ_DEV_CONTROL_URL: devnet.controlUrl,
      STORJ_PASSPHRASE: PASSPHRASE,
    });
    // As `npm start` runs it (the build in dist/, which ./run.ts refreshes first). STORJ_BENCH_AGENT_ARGS
    // replaces the node arguments, to compare V8 flags or the sources under tsx
    // (e.g. "--import tsx src/cli/storj.ts run").
    const args = agentNodeArgs();
    const [cmd, argv] = pinned(SERVER_CPU, process.execPath, args);
    const child = spawn(cmd, argv, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Both pipes are read to the end (a full pipe would stall the agent); the last lines explain a failure.
    const log: string[] = [];
    // STORJ_BENCH_AGENT_LOG=FILE keeps all of it (e.g. with --trace-gc in STORJ_BENCH_AGENT_ARGS).
    const logFile = process.env.STORJ_BENCH_AGENT_LOG;
    const keep = (line: string) => {
      if (logFile) appendFileSync(logFile, `${line}\n`);
      log.push(line);
      if (log.length > 40) log.shift();
    };
    let url: string | undefined;
    let exited: string | undefined;
    let buffered = '';
    child.stdout.on('data', (b: Buffer) => {
      buffered += b.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        keep(line);
        const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
        if (m) url ??= m[1];
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) if (line) keep(line);
    });
    child.once('exit', (code, signal) => {
      exited = `the agent exited (${signal ?? code})`;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (url === undefined && exited === undefined && Date.now() < deadline) await sleep(50);
    if (url === undefined) {
      if (exited === undefined) child.kill('SIGKILL');
      throw new Error(`${exited ?? `the agent printed no URL within ${START_TIMEOUT_MS} ms`}; its last output:\n${log.join('\n')}`);
    }
    return new AgentProcess(child, url, log);
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The agent's last lines of output, for an error message. */
  lastOutput(): string {
    return this.#log.join('\n');
  }

  /** SIGTERM (the agent closes its server and database), SIGKILL after 15 s. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    if ((await Promise.race([gone.then(() => 'gone'), sleep(STOP_TIMEOUT_MS, 'late')])) === 'late') {
      this.#child.kill('SIGKILL');
      await gone;
    }
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await r.text();
    try {
      return { status: r.status, body: JSON.parse(text) as T };
    } catch {
      throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 200)}`);
    }
  }

  /**
   * `n` quotes for `size` bytes, each paid by the devnet's faucet and confirmed in one block; resolves when the
   * agent counts every payment.
   * @throws Error when a quote is refused or a payment is not counted after a few watcher runs
   */
  async paidQuotes(devnet: Devnet, n: number, size: number, downloads: number): Promise<Quote[]> {
    const quotes: Quote[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.#json<Quote>('POST', '/v1/uploads', { size, days: 1, downloads, filename: `bench-${i}.bin` });
      if (r.status !== 201) throw new Error(`quote refused: ${r.status} ${JSON.stringify(r.body)}`);
      quotes.push(r.body);
    }
    for (const q of quotes) await devnet.pay(q.address, BigInt(q.amountSat));
    await devnet.mine(1);
    for (let attempt = 0; attempt < 10; attempt++) {
      const run = await this.#json<{ outcome: string; detail: string | null }>('POST', '/v1/dev/jobs/watcher');
      if (run.body.outcome !== 'ok') throw new Error(`watcher run failed: ${JSON.stringify(run.body)}`);
      const states = await Promise.all(quotes.map((q) => this.#json<{ state: string }>('GET', `/v1/uploads/${q.id}`)));
      if (states.every((s) => s.body.state === 'paid')) return quotes;
      await sleep(200);
    }
    throw new Error('the agent did not count the payments after 10 watcher runs');
  }
}
