/**
 * One configuration schema with defaults, read from `<dataDir>/config.json` and the environment
 * (`STORJ_<KEY>`, e.g. STORJ_DATA_DIR, STORJ_LISTEN, STORJ_ESPLORA_URL), checked once at start with an
 * error that names the bad key and where it came from, then frozen, so nothing reads an unchecked value.
 * Precedence: defaults < config file < environment < explicit overrides (CLI flags, tests).
 */
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AgentError } from '../errors/index.ts';

export { VERSION } from './version.ts';

/** The passphrase a regtest wallet gets when none is given: regtest coins are worthless, and `npm start` must not prompt. */
export const REGTEST_DEFAULT_PASSPHRASE = 'storj-regtest-devnet';

export type Network = 'mainnet' | 'testnet' | 'regtest';

export interface Config {
  /** Which Bitcoin network the agent runs on; `regtest` with no esploraUrl runs the embedded devnet. */
  readonly network: Network;
  /** Where the database, blobs, wallet and config file live. */
  readonly dataDir: string;
  /** host:port the HTTP server listens on (port 0 picks a free one). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Public base URL used in links; defaults to http://<listen>. */
  readonly publicUrl: string;
  /** Esplora API base URL (mempool.space, electrs); empty on regtest means the embedded devnet. */
  readonly esploraUrl: string;
  /** Regtest only: the devnet's control URL (pay, mine), when the chain is a devnet started elsewhere (tests). */
  readonly devControlUrl: string;
  /** Regtest only: run the local cloud (docs/local-cloud.md) beside the devnet; on by default with the embedded devnet. */
  readonly localCloud: boolean;
  /** The local cloud's port (0: any free port). */
  readonly cloudPort: number;
  /** Test only: the local cloud boots a tampered image, so that the battery's failure path can be seen end to end. */
  readonly cloudTamperedImage: boolean;
  /** Timeout for one chain backend request. */
  readonly chainTimeoutMs: number;
  /** Bearer token for the operator endpoints; a secret, never logged. */
  readonly adminToken: string;
  /** Confirmations an upload payment needs before the upload may proceed. */
  readonly confirmations: number;
  /** What may count at 0 confirmations toward any one file or quote, summed over all its unconfirmed outputs and top-ups. */
  readonly zeroConfMaxSat: bigint;
  /** What may count at 0 confirmations across the whole agent at once (its unconfirmed exposure). */
  readonly zeroConfTotalMaxSat: bigint;
  /** Monthly hosting cost in satoshis, the base of pricing. */
  readonly hostingCostSatPerMonth: bigint;
  /** Usable storage capacity in bytes. */
  readonly capacityBytes: bigint;
  /** Target utilisation of the capacity, in basis points (7000 = 70%). */
  readonly targetUtilisationBps: bigint;
  /** Margin over cost, in basis points (2000 = 20%). */
  readonly marginBps: bigint;
  /** Bandwidth cost per GiB sent, in satoshis. */
  readonly bandwidthCostSatPerGib: bigint;
  /** How long a quote's price is honoured. */
  readonly quoteTtlSeconds: number;
  /** Quotes one client (an IPv4 address, an IPv6 /64) may hold open (not expired, not uploaded) at once. */
  readonly quotesPerClientMax: number;
  /** Open quotes' addresses the payment watcher asks the chain backend about per pass, in turn (0-conf payments). */
  readonly mempoolPollMax: number;
  /** How long a file may stay frozen (negative balance) before it is deleted. */
  readonly graceSeconds: number;
  /** Largest file accepted, in bytes. */
  readonly maxFileSize: number;
  /** Spend policy: largest single payment the wallet makes, in satoshis. */
  readonly spendPerTxMaxSat: bigint;
  /** Spend policy: most the wallet pays out in any rolling 24 hours, in satoshis. */
  readonly spendPerDayMaxSat: bigint;
  /** Bytes of free disk kept back for SQLite and its WAL: quotes and uploads never use them, and below them the agent is degraded. */
  readonly diskReserveBytes: number;
  /** Base URL customers' files are served from, when it is another origin than publicUrl (empty: publicUrl). */
  readonly filesUrl: string;
  /** Largest POST /v1/proposals body (script, transcript and the rest), in bytes. */
  readonly proposalBodyMaxBytes: number;
  /** Largest provider script in a proposal, in UTF-8 bytes. */
  readonly proposalScriptMaxBytes: number;
  /** How long a funded proposal may wait to be selected before its deposit is refunded. */
  readonly proposalSelectTimeoutSeconds: number;
  /** Reproduce only with a reserve of the agent's own money of at least this many months of hosting cost. */
  readonly reproduceReserveMonths: number;
  /** Reproduce only when the disk's utilisation is at least this, in basis points (demand). */
  readonly reproduceMinUtilisationBps: bigint;
  /** Regtest only: reproduce whatever the reserve and demand (default on for the embedded devnet). */
  readonly reproduceForce: boolean;
  /** How long a spawned child has, from its server's creation, to register before its server is destroyed. */
  readonly spawnRegisterTimeoutSeconds: number;
  /** The most the test battery may pay a new child, in all (its paid upload). */
  readonly batteryBudgetSat: bigint;
  /** Trust X-Forwarded-For from a reverse proxy in front of the agent when telling clients apart (true only behind one). */
  readonly trustProxy: boolean;
  /** Free routes (quotes, proposals, status, info): requests one client may make per window. */
  readonly rateLimitMax: number;
  /** The rate limit's window. */
  readonly rateLimitWindowSeconds: number;
  /** Time for a request's headers to arrive in full. */
  readonly headersTimeoutMs: number;
  /** Time a request body (an upload) may go without sending a byte. */
  readonly bodyIdleTimeoutMs: number;
  /** Time for a whole request that does not stream (everything but uploads and downloads). */
  readonly requestTimeoutMs: number;
  /** Time an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections one client may hold at once. */
  readonly maxConnectionsPerClient: number;
  /** Time shutdown waits for requests in flight before it closes their connections. */
  readonly shutdownTimeoutMs: number;
  /** Download charges settled in memory are written to the ledger at most this long after the first of them (docs/metering.md). */
  readonly meterBatchMs: number;
  /** ...or as soon as the bytes they charge reach this many: the most egress a kill -9 can leave uncharged (docs/metering.md). */
  readonly meterBatchBytes: number;
  /** Log level of the JSON-lines log on stdout. */
  readonly logLevel: LogLevel;
  /** host:port of a separate listener that serves only GET /metrics, without a token (empty: /metrics on the main listener, behind the admin token). */
  readonly metricsListen: string;
}

type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Source = 'default' | 'file' | 'env' | 'override';
interface Field<T> {
  default: (partial: Record<string, unknown>) => T;
  parse: (raw: unknown) => T;
  doc: string;
}

class Invalid extends Error {}

const int = (min: number, max: number) => (raw: unknown): number => {
  const n = typeof raw === 'string' && /^-?[0-9]+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Invalid('must be an integer');
  if (n < min || n > max) throw new Invalid(`must be between ${min} and ${max}`);
  return n;
};
const sat = (min: bigint, max: bigint) => (raw: unknown): bigint => {
  let v: bigint;
  if (typeof raw === 'bigint') v = raw;
  else if (typeof raw === 'number' && Number.isSafeInteger(raw)) v = BigInt(raw);
  else if (typeof raw === 'string' && /^[0-9]+$/.test(raw.trim())) v = BigInt(raw.trim());
  else throw new Invalid('must be a non-negative integer (satoshis, bytes or basis points)');
  if (v < min || v > max) throw new Invalid(`must be between ${min} and ${max}`);
  return v;
};
const str = (check?: (s: string) => string | undefined) => (raw: unknown): string => {
  if (typeof raw !== 'string') throw new Invalid('must be a string');
  const problem = check?.(raw);
  if (problem) throw new Invalid(problem);
  return raw;
};
const url = (allowEmpty: boolean) => str((s) => {
  if (s === '' && allowEmpty) return undefined;
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL';
  } catch {
    return 'must be an http(s) URL';
  }
  return undefined;
});

const bool = (raw: unknown): boolean => {
  if (raw === true || raw === 'true' || raw === '1') return true;
  if (raw === false || raw === 'false' || raw === '0') return false;
  throw new Invalid('must be true or false');
};
const hostPort = (raw: unknown): { host: string; port: number } => {
  if (typeof raw !== 'string') throw new Invalid('must be a host:port string');
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(raw.trim());
  if (!m) throw new Invalid('must be host:port, e.g. 127.0.0.1:8420');
  const port = Number(m[2]);
  if (port > 65535) throw new Invalid('port must be at most 65535');
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
};

const GiB = 1024n ** 3n;
const MiB = 1024 * 1024;
const KiB = 1024;

const FIELDS: { [K in keyof Config]: Field<Config[K]> } = {
  network: {
    default: () => 'regtest',
    parse: (raw) => {
      if (raw === 'mainnet' || raw === 'testnet' || raw === 'regtest') return raw;
      if (raw === 'bitcoin') return 'mainnet';
      throw new Invalid('must be one of mainnet, testnet, regtest');
    },
    doc: 'mainnet | testnet | regtest',
  },
  dataDir: { default: () => join(homedir(), '.storj-agent'), parse: (raw) => resolve(str((s) => (s ? undefined : 'must not be empty'))(raw)), doc: 'data directory' },
  listen: {
    default: () => ({ host: '127.0.0.1', port: 8420 }),
    parse: hostPort,
    doc: 'host:port',
  },
  publicUrl: {
    default: (p) => {
      const l = p.listen as Config['listen'];
      const host = l.host === '0.0.0.0' || l.host === '::' ? '127.0.0.1' : l.host.includes(':') ? `[${l.host}]` : l.host;
      return `http://${host}:${l.port}`;
    },
    parse: (raw) => url(false)(raw).replace(/\/+$/, ''),
    doc: 'public base URL',
  },
  esploraUrl: { default: () => '', parse: (raw) => url(true)(raw).replace(/\/+$/, ''), doc: 'Esplora API base URL' },
  devControlUrl: { default: () => '', parse: (raw) => url(true)(raw).replace(/\/+$/, ''), doc: 'devnet control URL (regtest)' },
  localCloud: { default: (p) => p.network === 'regtest' && p.esploraUrl === '', parse: bool, doc: 'run the local cloud beside the devnet (regtest; default: with the embedded devnet)' },
  cloudPort: { default: () => 8430, parse: int(0, 65535), doc: "the local cloud's port (0: any free port)" },
  cloudTamperedImage: { default: () => false, parse: bool, doc: 'test only: the local cloud boots a tampered image (docs/local-cloud.md)' },
  chainTimeoutMs: { default: () => 15_000, parse: int(100, 600_000), doc: 'chain request timeout (ms)' },
  adminToken: {
    default: () => '',
    parse: str((s) => (s === '' || s.length >= 16 ? undefined : 'must be at least 16 characters')),
    doc: 'operator bearer token (secret)',
  },
  confirmations: { default: () => 1, parse: int(0, 100), doc: 'confirmations required' },
  zeroConfMaxSat: { default: () => 50_000n, parse: sat(0n, 21_000_000n * 100_000_000n), doc: 'most counted at 0-conf per file or quote (sat)' },
  zeroConfTotalMaxSat: { default: () => 500_000n, parse: sat(0n, 21_000_000n * 100_000_000n), doc: 'most counted at 0-conf across the agent (sat)' },
  // A small VPS (~$6/month) at ~100k USD/BTC is ~6,000 sat/month; the defaults are a plausible starting point, and the
  // scheduled pricing job recomputes prices from whatever the operator sets.
  hostingCostSatPerMonth: { default: () => 6_000n, parse: sat(0n, 10n ** 15n), doc: 'hosting cost (sat/month)' },
  capacityBytes: { default: () => 100n * GiB, parse: sat(1n, 10n ** 18n), doc: 'usable capacity (bytes)' },
  targetUtilisationBps: { default: () => 7_000n, parse: sat(1n, 10_000n), doc: 'target utilisation (bps)' },
  marginBps: { default: () => 2_000n, parse: sat(0n, 1_000_000n), doc: 'margin (bps)' },
  bandwidthCostSatPerGib: { default: () => 10n, parse: sat(0n, 10n ** 12n), doc: 'bandwidth cost (sat/GiB)' },
  quoteTtlSeconds: { default: () => 3_600, parse: int(60, 30 * 86_400), doc: 'quote lifetime (s)' },
  quotesPerClientMax: { default: () => 20, parse: int(1, 100_000), doc: 'open quotes per client' },
  mempoolPollMax: { default: () => 50, parse: int(1, 100_000), doc: 'quoted addresses polled in the mempool per watcher pass' },
  graceSeconds: { default: () => 7 * 86_400, parse: int(0, 365 * 86_400), doc: 'grace before deletion (s)' },
  maxFileSize: { default: () => 4 * 1024 ** 3, parse: int(1, Number.MAX_SAFE_INTEGER), doc: 'largest file (bytes)' },
  spendPerTxMaxSat: { default: () => 1_000_000n, parse: sat(0n, 21_000_000n * 100_000_000n), doc: 'per-transaction spend cap (sat)' },
  spendPerDayMaxSat: { default: () => 5_000_000n, parse: sat(0n, 21_000_000n * 100_000_000n), doc: 'rolling 24 h spend cap (sat)' },
  diskReserveBytes: { default: () => 64 * MiB, parse: int(0, Number.MAX_SAFE_INTEGER), doc: 'free disk kept for the database (bytes)' },
  filesUrl: { default: () => '', parse: (raw) => url(true)(raw).replace(/\/+$/, ''), doc: 'base URL of a separate origin for files' },
  proposalBodyMaxBytes: { default: () => 512 * KiB, parse: int(1 * KiB, 16 * MiB), doc: 'largest proposal body (bytes)' },
  proposalScriptMaxBytes: { default: () => 128 * KiB, parse: int(1, 16 * MiB), doc: 'largest provider script (bytes)' },
  proposalSelectTimeoutSeconds: { default: () => 30 * 86_400, parse: int(60, 3_650 * 86_400), doc: 'refund a funded proposal not selected within (s)' },
  reproduceReserveMonths: { default: () => 3, parse: int(0, 120), doc: 'reproduce with a reserve of at least (months of hosting cost)' },
  reproduceMinUtilisationBps: { default: () => 5_000n, parse: sat(0n, 10_000n), doc: 'reproduce at a disk utilisation of at least (bps)' },
  // On by default for `storj run` on regtest with the embedded devnet, so a spawn can be watched end to end there.
  reproduceForce: { default: (p) => p.network === 'regtest' && p.esploraUrl === '', parse: bool, doc: 'reproduce whatever the reserve and demand (regtest only)' },
  spawnRegisterTimeoutSeconds: { default: () => 1_800, parse: int(60, 30 * 86_400), doc: 'destroy a spawned child not registered within (s)' },
  batteryBudgetSat: { default: () => 50_000n, parse: sat(0n, 10n ** 15n), doc: "the most the test battery may pay a new child (sat)" },
  trustProxy: { default: () => false, parse: bool, doc: 'trust X-Forwarded-For (true behind a reverse proxy)' },
  rateLimitMax: { default: () => 120, parse: int(1, 1_000_000), doc: 'free requests per client per window' },
  rateLimitWindowSeconds: { default: () => 60, parse: int(1, 86_400), doc: 'rate limit window (s)' },
  headersTimeoutMs: { default: () => 10_000, parse: int(100, 600_000), doc: 'time for request headers (ms)' },
  bodyIdleTimeoutMs: { default: () => 60_000, parse: int(100, 3_600_000), doc: 'idle time allowed in a request body (ms)' },
  requestTimeoutMs: { default: () => 30_000, parse: int(100, 3_600_000), doc: 'time for a request that does not stream (ms)' },
  keepAliveTimeoutMs: { default: () => 5_000, parse: int(100, 600_000), doc: 'idle keep-alive connection lifetime (ms)' },
  maxConnectionsPerClient: { default: () => 64, parse: int(1, 100_000), doc: 'open connections per client' },
  shutdownTimeoutMs: { default: () => 10_000, parse: int(0, 600_000), doc: 'wait for requests in flight at shutdown (ms)' },
  meterBatchMs: { default: () => 1_000, parse: int(1, 60_000), doc: 'most time a settled download charge waits in memory before its group commit (ms)' },
  meterBatchBytes: { default: () => 16 * 1024 * 1024, parse: int(0, 1024 * 1024 * 1024), doc: 'egress bytes settled in memory that force a group commit (0: every download commits on its own)' },
  logLevel: {
    default: () => 'info',
    parse: (raw) => {
      if (typeof raw === 'string' && (LOG_LEVELS as readonly string[]).includes(raw)) return raw as LogLevel;
      throw new Invalid(`must be one of ${LOG_LEVELS.join(', ')}`);
    },
    doc: 'log level',
  },
  metricsListen: {
    default: () => '',
    parse: (raw) => {
      if (raw === '') return '';
      const hp = hostPort(raw);
      return `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
    },
    doc: 'separate host:port for /metrics (no token)',
  },
};

/** The keys a config file or the environment may set, in schema order. */
export const CONFIG_KEYS = Object.keys(FIELDS) as Array<keyof Config>;

/** `dataDir` -> `STORJ_DATA_DIR`. */
export function envName(key: string): string {
  return `STORJ_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything (CLI flags, tests). */
  overrides?: Partial<Record<keyof Config, unknown>>;
  /** Read `<dataDir>/config.json` (default true). */
  readFile?: boolean;
  /** Insist on a chain backend outside regtest (default true; `storj init` has none yet). */
  requireChain?: boolean;
}

/**
 * Builds the frozen configuration.
 * @throws AgentError CONFIG_INVALID naming the key, its source and what is wrong; unknown keys in the file are errors too.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const overrides = opts.overrides ?? {};
  const raw: Record<string, { value: unknown; source: Source }> = {};
  const put = (key: string, value: unknown, source: Source) => {
    if (value !== undefined) raw[key] = { value, source };
  };
  // dataDir first: it says where the file is.
  put('dataDir', env[envName('dataDir')], 'env');
  put('dataDir', overrides.dataDir, 'override');
  const out: Record<string, unknown> = {};
  const parseKey = (key: keyof Config) => {
    const field = FIELDS[key] as Field<unknown>;
    const r = raw[key];
    if (!r) {
      out[key] = field.default(out);
      return;
    }
    try {
      out[key] = field.parse(typeof r.value === 'string' && r.source === 'env' ? r.value.trim() : r.value);
    } catch (e) {
      const where = r.source === 'env' ? ` (from ${envName(key)})` : r.source === 'file' ? ' (from config.json)' : '';
      throw new AgentError('CONFIG_INVALID', `config key "${key}"${where} ${e instanceof Invalid ? e.message : 'is invalid'}`, { key });
    }
  };
  parseKey('dataDir');
  const dataDir = out.dataDir as string;
  const file = join(dataDir, 'config.json');
  if (opts.readFile !== false && existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new AgentError('CONFIG_INVALID', `config file ${file} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new AgentError('CONFIG_INVALID', `config file ${file} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (!(k in FIELDS)) throw new AgentError('CONFIG_INVALID', `config key "${k}" (from config.json) is not a known setting`, { key: k });
      if (k !== 'dataDir') put(k, v, 'file');
    }
  }
  for (const key of CONFIG_KEYS) {
    if (key === 'dataDir') continue;
    put(key, env[envName(key)], 'env');
    put(key, overrides[key], 'override');
  }
  for (const key of CONFIG_KEYS) if (key !== 'dataDir') parseKey(key);
  if (opts.requireChain !== false && out.network !== 'regtest' && out.esploraUrl === '') {
    throw new AgentError('CONFIG_INVALID', `config key "esploraUrl" must be set on ${String(out.network)} (only regtest has an embedded chain)`, { key: 'esploraUrl' });
  }
  if (out.localCloud === true && out.network !== 'regtest') {
    throw new AgentError('CONFIG_INVALID', `config key "localCloud" is for regtest only (the local cloud is paid on the devnet's chain)`, { key: 'localCloud' });
  }
  if (out.reproduceForce === true && out.network !== 'regtest') {
    throw new AgentError('CONFIG_INVALID', `config key "reproduceForce" may be true only on regtest, not ${String(out.network)}`, { key: 'reproduceForce' });
  }
  const listen = out.listen as { host: string; port: number };
  out.listen = Object.freeze({ ...listen });
  return Object.freeze(out) as unknown as Config;
}

/** A config as JSON for display: secrets masked, bigints as strings. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const v = config[key];
    out[key] = key === 'adminToken' ? (v ? '(set)' : '(unset)') : typeof v === 'bigint' ? v.toString() : v;
  }
  return out;
}

/** One line per setting with its environment variable, for `storj config --help` and the README. */
export function configDocs(): Array<{ key: string; env: string; doc: string }> {
  return CONFIG_KEYS.map((key) => ({ key, env: envName(key), doc: FIELDS[key].doc }));
}
