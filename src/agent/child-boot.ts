/**
 * A child's boot, `storj run --spawn FILE --data-dir DIR`: the agent a parent spawned on a server it bought, started
 * from the spawn file its user data wrote (src/family/user-data.ts).
 *
 * First boot (no wallet in DIR): the data dir (0700), a random passphrase kept in DIR/passphrase (0600, never
 * printed or logged), the config from the spawn file (network, esploraUrl) and the environment the server gives
 * (PORT, STORJ_PUBLIC_URL), then a fresh wallet and identity. Every boot: the agent starts on the spawn file's chain
 * (never an embedded devnet), records its parent in meta (`family.parent`), and, until the parent once answered
 * 201 (`family.registered`), registers with it, signed by its identity key, retrying with a capped backoff. A 401
 * (the ticket is unknown or used) or another refusal stops the retries. The ticket is read from the spawn file
 * and sent to the parent; it is never written anywhere else, logged or repeated in an error.
 *
 * Every step survives a kill -9: the passphrase file is written (atomically) before the wallet it opens, the
 * config is merged (so writing it again changes nothing), and registration is asked again at the next boot until
 * it is recorded.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { loadConfig, type Config } from '../config/index.ts';
import { MetaStore, type Db } from '../db/index.ts';
import { AgentError } from '../errors/index.ts';
import { parseSpawnFile } from '../family/index.ts';
import { HttpClient, type HttpResponse } from '../net/index.ts';
import { signedRegistration, Wallet, type SignedRegistration } from '../../wallet/index.ts';
import { initDataDir, makeDataDirPrivate, writePrivate } from './data-dir.ts';

/** Meta keys (src/db's `meta`) of the family's: the parent `{nodeId, url}`, and the parent's 201 once it came. */
export const META_PARENT = 'family.parent';
export const META_REGISTERED = 'family.registered';

interface ChildLog {
  info(line: string): void;
  error(line: string): void;
}

export interface ChildBootOptions {
  spawnFile: string;
  dataDir: string;
  /** Where PORT and STORJ_PUBLIC_URL come from, and every other STORJ_ setting as for any agent. */
  env: NodeJS.ProcessEnv;
  log: ChildLog;
  /** JSON lines on stdout at config.logLevel, as `storj run` has them. */
  logger?: boolean;
}

/** What the boot needs of the agent it starts (src/agent/index.ts passes startAgent in, which gives an Agent). */
interface BootedAgent {
  readonly config: Config;
  readonly url: string;
  readonly db: Db;
  readonly wallet: Wallet;
  close(): Promise<void>;
}

type StartAgent<A extends BootedAgent> = (opts: { config: Config; passphrase: string; stopDevnet: 'never'; logger: boolean }) => Promise<A>;

export interface ChildAgent<A extends BootedAgent> {
  agent: A;
  /** True when this boot made the wallet. */
  firstBoot: boolean;
  /** Ends when the registration does: at the parent's 201, a refusal, or close(). */
  registration: Promise<RegistrationOutcome>;
  /** Stops the registration, then the agent. */
  close(): Promise<void>;
}

type RegistrationOutcome = 'registered' | 'already' | 'refused' | 'stopped';

/**
 * Boots the child (see the file's comment) and starts its registration in the background.
 * @throws AgentError FAMILY_BAD_SPAWN_SPEC for a spawn file that cannot be read or is malformed,
 * WALLET_KEYSTORE_CORRUPT for a passphrase file that is missing beside a wallet or that others may read,
 * CONFIG_INVALID, and what startAgent throws
 */
export async function bootChild<A extends BootedAgent>(opts: ChildBootOptions, startAgent: StartAgent<A>): Promise<ChildAgent<A>> {
  let text: string;
  try {
    text = readFileSync(opts.spawnFile, 'utf8');
  } catch {
    throw new AgentError('FAMILY_BAD_SPAWN_SPEC', `cannot read the spawn file ${opts.spawnFile}`);
  }
  const spec = parseSpawnFile(text);
  makeDataDirPrivate(opts.dataDir);
  const walletDir = join(opts.dataDir, 'wallet');
  const firstBoot = !Wallet.exists(walletDir);
  const passphrase = childPassphrase(join(opts.dataDir, 'passphrase'), firstBoot);
  mergeConfigFile(join(opts.dataDir, 'config.json'), { network: spec.network, esploraUrl: spec.esploraUrl, ...listenSettings(opts.env) });
  if (firstBoot) await initDataDir({ dataDir: opts.dataDir, network: spec.network, passphrase });
  // The spawn file's chain wins over anything else: a child never runs an embedded devnet.
  const config = loadConfig({ env: opts.env, overrides: { dataDir: opts.dataDir, network: spec.network, esploraUrl: spec.esploraUrl } });
  const agent = await startAgent({ config, passphrase, stopDevnet: 'never', logger: opts.logger ?? false });
  const meta = new MetaStore(agent.db);
  let registered: boolean;
  try {
    meta.set(META_PARENT, JSON.stringify({ nodeId: spec.parentNodeId, url: spec.parentUrl }));
    registered = meta.get(META_REGISTERED) !== undefined;
  } catch (e) {
    await agent.close();
    throw e;
  }
  const stop = new AbortController();
  const registration: Promise<RegistrationOutcome> = registered
    ? Promise.resolve(alreadyRegistered(opts.log, spec.parentUrl))
    : registerWithParent({
        parentUrl: spec.parentUrl,
        body: signedRegistration(agent.wallet, { ticket: spec.ticket, url: childUrl(agent), codeHash: spec.codeHash }),
        signal: stop.signal,
        log: opts.log,
      }).then((r) => {
        // Recorded even when close() has begun: it waits for this before the database closes.
        if (r.outcome === 'registered') {
          try {
            meta.set(META_REGISTERED, JSON.stringify({ at: new Date().toISOString(), ...(r.proposalId ? { proposalId: r.proposalId } : {}) }));
          } catch (e) {
            opts.log.error(`registered with the parent, but could not record it (${e instanceof Error ? e.message : 'failed'}); the next boot registers again`);
          }
        }
        return r.outcome;
      });
  return {
    agent,
    firstBoot,
    registration,
    async close() {
      stop.abort();
      await registration.catch(() => undefined);
      await agent.close();
    },
  };
}

function alreadyRegistered(log: ChildLog, parentUrl: string): 'already' {
  log.info(`already registered with the parent at ${parentUrl}`);
  return 'already';
}

/** Where the parent and everyone else reach this child: its public URL, or the port it bound when it picked one. */
function childUrl(agent: BootedAgent): string {
  return agent.config.publicUrl.endsWith(':0') ? agent.url : agent.config.publicUrl;
}

/**
 * The child's passphrase: read from its file, or on first boot made (32 random bytes, base64url) and written
 * atomically with mode 0600 before any wallet exists, so a kill -9 never leaves a wallet nobody can open.
 */
function childPassphrase(file: string, firstBoot: boolean): string {
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the passphrase file ${file} may be read by others; make it private with chmod 600`);
    const passphrase = readFileSync(file, 'utf8').trim();
    if (passphrase === '') throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the passphrase file ${file} is empty`);
    return passphrase;
  }
  if (!firstBoot) throw new AgentError('WALLET_KEYSTORE_CORRUPT', `the wallet has no passphrase file ${file}`);
  const passphrase = randomBytes(32).toString('base64url');
  writePrivate(file, `${passphrase}\n`);
  return passphrase;
}

/**
 * What the server's environment says about listening: port PORT, publicUrl STORJ_PUBLIC_URL, and 127.0.0.1 when
 * that URL's host is loopback (a local cloud's server), else every interface.
 */
function listenSettings(env: NodeJS.ProcessEnv): { listen?: string; publicUrl?: string } {
  const port = env.PORT?.trim() || undefined;
  const publicUrl = env.STORJ_PUBLIC_URL?.trim() || undefined;
  if (port === undefined && publicUrl === undefined) return {};
  if (port !== undefined && !(/^[0-9]{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw new AgentError('CONFIG_INVALID', 'PORT must be a port number (1 to 65535)', { key: 'listen' });
  }
  let loopback = false;
  if (publicUrl !== undefined) {
    try {
      const host = new URL(publicUrl).hostname;
      loopback = host === 'localhost' || host === '[::1]' || /^127\.[0-9.]+$/.test(host);
    } catch {
      throw new AgentError('CONFIG_INVALID', 'STORJ_PUBLIC_URL must be an http(s) URL', { key: 'publicUrl' });
    }
  }
  return { listen: `${loopback ? '127.0.0.1' : '0.0.0.0'}:${port ?? 8420}`, ...(publicUrl ? { publicUrl } : {}) };
}

/** Sets `values` in the data dir's config.json, keeping its other keys (the admin token). */
function mergeConfigFile(file: string, values: Partial<Record<keyof Config, string>>): void {
  let existing: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      existing = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new AgentError('CONFIG_INVALID', `${file} is not JSON`);
    }
  }
  writePrivate(file, `${JSON.stringify({ ...existing, ...values }, null, 2)}\n`);
}

interface RegisterOptions {
  parentUrl: string;
  body: SignedRegistration;
  signal: AbortSignal;
  log: ChildLog;
  /** The first wait between tries, doubled each time up to `maxDelayMs`. Defaults 1 s and 60 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected by tests: the wait (rejecting when `signal` aborts) and the jitter source in [0, 1). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /** One try's deadline. Default 15 s. */
  timeoutMs?: number;
}

/** What the parent answered that the child reports: its error code, when it sent one in the one envelope. */
function answerCode(res: HttpResponse): string {
  try {
    const code = (JSON.parse(res.body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? ` ${code}` : '';
  } catch {
    return '';
  }
}

function proposalIdOf(res: HttpResponse): string | undefined {
  try {
    const id = (JSON.parse(res.body.toString('utf8')) as { proposalId?: unknown }).proposalId;
    return typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `POST {parentUrl}/v1/family/register` until the parent answers 201. Network errors, timeouts, 408, 429 and 5xx
 * are tried again after a capped exponential backoff with jitter; 401 (the ticket is unknown or used) and any
 * other 4xx are final: retrying cannot change them. Nothing it logs holds the ticket.
 */
export async function registerWithParent(opts: RegisterOptions): Promise<{ outcome: 'registered' | 'refused' | 'stopped'; proposalId?: string }> {
  const client = new HttpClient({ baseUrl: opts.parentUrl, retries: 0, timeoutMs: opts.timeoutMs ?? 15_000 });
  const sleep = opts.sleep ?? ((ms, signal) => sleepMs(ms, undefined, { signal }));
  const random = opts.random ?? Math.random;
  const base = opts.baseDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 60_000;
  const where = `${opts.parentUrl}/v1/family/register`;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal.aborted) return { outcome: 'stopped' };
    let why: string;
    try {
      const res = await client.request({ method: 'POST', path: '/v1/family/register', headers: { 'content-type': 'application/json' }, body: JSON.stringify(opts.body), maxBytes: 64 * 1024, signal: opts.signal });
      if (res.status === 201) {
        opts.log.info(`registered with the parent at ${opts.parentUrl} as ${opts.body.nodeId}`);
        const proposalId = proposalIdOf(res);
        return { outcome: 'registered', ...(proposalId ? { proposalId } : {}) };
      }
      if (res.status === 401 || (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)) {
        opts.log.error(`registration refused: the parent at ${where} answered ${res.status}${answerCode(res)}; not trying again`);
        return { outcome: 'refused' };
      }
      why = `answered ${res.status}${answerCode(res)}`;
    } catch (e) {
      if (opts.signal.aborted) return { outcome: 'stopped' };
      // The client's errors carry no credentials, and the ticket is only in the body, which they never repeat.
      why = e instanceof Error ? e.message : 'failed';
    }
    const delay = Math.round(Math.min(max, base * 2 ** Math.min(attempt, 30)) * (0.5 + random() / 2));
    opts.log.info(`registration with the parent at ${where} ${why}; trying again in ${delay} ms`);
    try {
      await sleep(delay, opts.signal);
    } catch {
      return { outcome: 'stopped' };
    }
  }
}
