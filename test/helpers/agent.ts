/**
 * Test harness: a real regtest devnet (bcoin, in memory) and a real agent on it, in a temp data dir, talking
 * HTTP on a free port. The integration and e2e tests walk the same paths as the README.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { Devnet } from '../../src/devnet/index.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { initDataDir, startAgent, type Agent } from '../../src/agent/index.ts';

/** Cheap scrypt for tests (the real default is N=2^17); the keystore format is the same. */
export const TEST_KDF = { N: 2 ** 12, r: 8, p: 1 };
export const TEST_PASSPHRASE = 'test passphrase';

export interface Ctx {
  after(fn: () => unknown): void;
}

export function tempDir(t: Ctx, prefix = 'storj-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startDevnet(t: Ctx, opts: { dir?: string } = {}): Promise<Devnet> {
  const devnet = await Devnet.start(opts.dir ? { dir: opts.dir } : {});
  t.after(() => devnet.close());
  return devnet;
}

/** The environment an agent process (or loadConfig) needs to run on `devnet` from `dataDir`. */
export function agentEnv(dataDir: string, devnet: Devnet, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STORJ_DATA_DIR: dataDir,
    STORJ_NETWORK: 'regtest',
    STORJ_LISTEN: '127.0.0.1:0',
    STORJ_ESPLORA_URL: devnet.url,
    STORJ_DEV_CONTROL_URL: devnet.controlUrl,
    STORJ_PASSPHRASE: TEST_PASSPHRASE,
    // An agent process (`storj run`) logs JSON lines; tests keep them off unless they ask (extra overrides).
    STORJ_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** Makes a regtest data dir with a wallet; returns its mnemonic, nodeId and admin token, for tests that look for secrets. */
export async function initTestDataDir(dataDir: string): Promise<{ mnemonic: string; nodeId: string; adminToken: string }> {
  return initDataDir({ dataDir, network: 'regtest', passphrase: TEST_PASSPHRASE, kdf: TEST_KDF });
}

export interface TestAgent {
  agent: Agent;
  devnet: Devnet;
  config: Config;
  dataDir: string;
  api: Api;
}

/** Starts an agent on the devnet (in this process). `env` overrides settings (STORJ_*). */
export async function startTestAgent(t: Ctx, opts: { devnet?: Devnet; dataDir?: string; env?: Record<string, string>; init?: boolean } = {}): Promise<TestAgent> {
  const dataDir = opts.dataDir ?? tempDir(t);
  const devnet = opts.devnet ?? (await Devnet.start());
  const closeDevnet = () => (opts.devnet ? Promise.resolve() : devnet.close());
  let config: Config;
  let agent: Agent;
  try {
    if (opts.init !== false) await initTestDataDir(dataDir);
    config = loadConfig({ env: agentEnv(dataDir, devnet, opts.env) });
    agent = await startAgent({ config, passphrase: TEST_PASSPHRASE });
  } catch (e) {
    await closeDevnet();
    throw e;
  }
  // One teardown, agent first: a devnet closed under a running agent only makes its watcher retry.
  t.after(async () => {
    await agent.close();
    await closeDevnet();
  });
  return { agent, devnet, config, dataDir, api: api(agent.url) };
}

interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}
export type Api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse<T>>;

/** A small JSON client over fetch; a non-JSON body (a download) comes back as text. */
export function api(base: string): Api {
  return async <T,>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) init.body = body;
      else {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
    }
    const r = await fetch(`${base}${path}`, init);
    const text = await r.text();
    let parsed: unknown = undefined;
    if ((r.headers.get('content-type') ?? '').includes('application/json')) parsed = JSON.parse(text);
    return { status: r.status, headers: r.headers, body: parsed as T, text };
  };
}

/**
 * One GET on its own connection (not a keep-alive pool's, so that many run at once): the status, and the body's
 * length when it is a 200.
 */
export function getAlone(url: string): Promise<{ status: number; length: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let length = 0;
      res.on('data', (d: Buffer) => (length += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The URL an agent process prints once it listens ("listening on http://..."), read from its stdout.
 * @throws Error when it exits first or says nothing within `timeoutMs` (with everything it printed)
 */
export function listeningUrl(child: ChildProcess, output: () => string, exited: Promise<unknown>, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within ${timeoutMs / 1000} s:\n${output()}`)), timeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(output());
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the agent exited:\n${output()}`));
    });
  });
}

export interface AgentProcess {
  url: string;
  pid: number;
  output: () => string;
  /** kill -9: no cleanup of any kind runs. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A child process whose stdout and stderr are collected together, killed with `killSignal` at the test's end if
 * it is still running.
 */
export function spawnCaptured(t: Ctx, command: string, args: string[], options: SpawnOptions, killSignal: NodeJS.Signals): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(killSignal);
      await exited;
    }
  });
  return { child, output: () => output, exited };
}

/**
 * Runs the agent as its own process (`storj run`) on `devnet` from `dataDir`, as an operator would, so a test
 * can kill -9 it at any moment.
 */
export async function spawnAgent(t: Ctx, dataDir: string, devnet: Devnet, env: Record<string, string> = {}): Promise<AgentProcess> {
  const root = join(import.meta.dirname, '..', '..');
  const { child, output, exited } = spawnCaptured(t, process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', 'run'], { cwd: root, env: { ...process.env, ...agentEnv(dataDir, devnet, env) } }, 'SIGKILL');
  const url = await listeningUrl(child, output, exited, 60_000);
  return {
    url,
    pid: child.pid ?? 0,
    output,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
