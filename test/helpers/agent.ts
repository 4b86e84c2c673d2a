/**
 * Test harness: a real regtest devnet (bcoin, in memory) and a real agent on it, in a temp data dir, talking
 * HTTP on a free port. The integration and e2e tests walk the same paths as the README.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    ...extra,
  };
}

export async function initTestDataDir(dataDir: string): Promise<void> {
  await initDataDir({ dataDir, network: 'regtest', passphrase: TEST_PASSPHRASE, kdf: TEST_KDF });
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
  const devnet = opts.devnet ?? (await startDevnet(t));
  const dataDir = opts.dataDir ?? tempDir(t);
  if (opts.init !== false) await initTestDataDir(dataDir);
  const config = loadConfig({ env: agentEnv(dataDir, devnet, opts.env) });
  const agent = await startAgent({ config, passphrase: TEST_PASSPHRASE });
  t.after(() => agent.close());
  return { agent, devnet, config, dataDir, api: api(agent.url) };
}

export interface ApiResponse<T = Record<string, unknown>> {
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
