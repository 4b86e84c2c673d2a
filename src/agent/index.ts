/**
 * The composition root: builds every part from the frozen config and wires them together. The CLI's
 * `storj run` and the tests start an agent the same way, through `startAgent`.
 */
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { VERSION, type Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { createChainBackend, PaymentWatcher, type ChainBackend } from '../chain/index.ts';
import { FsBlobStore, type BlobStore } from '../storage/index.ts';
import { Host, hostRoutes } from '../host/index.ts';
import { DevClock, Scheduler, SystemClock, type Clock } from '../scheduler/index.ts';
import { buildServer, loggerOptions, startMetricsListener, type MetricsListener } from '../http/index.ts';
import { AgentMetrics } from '../metrics/index.ts';
import { Treasury } from '../treasury/index.ts';
import { AgentError, diskFullError } from '../errors/index.ts';
import { makeDataDirPrivate, paths } from './data-dir.ts';
import { openAgentDb, type ModuleParts } from './modules.ts';
import { agentRoutes, type DevControl } from './routes.ts';
import { agentInfo, operatorView } from './views.ts';
import { devControlClient } from './dev-control.ts';
import { freeBytes, Health, releaseBallastIfFull } from './health.ts';
import { identityMessage, Wallet } from '../../wallet/index.ts';
import { buildBundleApart, bundleRoutes, packageRoot } from '../bundle/index.ts';
import { familyRoutes, type Family, type ReproductionParts } from '../family/index.ts';
import { buildFamily, composeSinks, reproductionParts } from './family.ts';
import { startLocalCloud, type LocalCloud } from './local-cloud.ts';
import { bootChild, type ChildAgent, type ChildBootOptions } from './child-boot.ts';
import { web } from '../web/index.ts';


export { initDataDir, paths } from './data-dir.ts';
export { META_PARENT, META_REGISTERED } from './child-boot.ts';
export { openAgentDb } from './modules.ts';

export interface ChainConnection {
  chain: ChainBackend;
  dev?: DevControl;
  /** Where the chain comes from, for display. */
  describe: string;
  /** The local cloud beside the devnet, when config `localCloud` asked for it (./local-cloud.ts). */
  cloud?: LocalCloud;
  /** The Esplora API the chain is read from (the embedded devnet's, when it is that). */
  esploraUrl: string;
  close(): Promise<void>;
}

/**
 * Connects to the configured chain: an Esplora URL, or on regtest without one, the embedded devnet, run as its
 * own process under the data dir so that its chain outlives the agent (even a kill -9). With `localCloud` (on
 * regtest), the local cloud too, beside that chain, closed with it.
 */
export async function connectChain(config: Config, opts: { stopDevnet?: 'always' | 'if-started' | 'never'; localCloud?: boolean } = {}): Promise<ChainConnection> {
  const conn = await connectChainOnly(config, opts.stopDevnet ?? 'if-started');
  if (opts.localCloud !== true || config.network !== 'regtest') return conn;
  try {
    const local = await startLocalCloud(config, conn.esploraUrl, opts.stopDevnet ?? 'if-started');
    const close = async (): Promise<void> => {
      await local.close();
      await conn.close();
    };
    return { ...conn, cloud: local.cloud, close };
  } catch (e) {
    await conn.close();
    throw e;
  }
}

async function connectChainOnly(config: Config, stop: 'always' | 'if-started' | 'never'): Promise<ChainConnection & { esploraUrl: string }> {
  if (config.esploraUrl) {
    const chain = createChainBackend({ esploraUrl: config.esploraUrl, timeoutMs: config.chainTimeoutMs });
    const dev = config.network === 'regtest' && config.devControlUrl ? devControlClient(config.devControlUrl) : undefined;
    return { chain, ...(dev ? { dev } : {}), describe: config.esploraUrl, esploraUrl: config.esploraUrl, close: async () => {} };
  }
  if (config.network !== 'regtest') throw new AgentError('CONFIG_INVALID', 'config key "esploraUrl" must be set outside regtest', { key: 'esploraUrl' });
  const dir = paths(config).devnet;
  // Loaded only here: bcoin is a large module the agent does not need when its chain is an Esplora URL.
  const { ensureDevnetProcess, stopDevnetProcess } = await import('../devnet/index.ts');
  const d = await ensureDevnetProcess(dir);
  const chain = createChainBackend({ esploraUrl: d.url, timeoutMs: config.chainTimeoutMs });
  const stopOnClose = stop === 'always' || (stop === 'if-started' && d.started);
  return {
    chain,
    dev: devControlClient(d.controlUrl),
    describe: `embedded devnet ${d.url}`,
    esploraUrl: d.url,
    close: async () => {
      if (stopOnClose) await stopDevnetProcess(dir);
    },
  };
}

export interface Agent {
  readonly config: Config;
  readonly url: string;
  readonly app: FastifyInstance;
  readonly db: Db;
  readonly wallet: Wallet;
  /** sha256 of the code bundle this agent serves (GET /v1/bundle): the code it runs. */
  readonly codeHash: string;
  readonly treasury: Treasury;
  readonly chain: ChainBackend;
  readonly chainDescription: string;
  /** The local cloud's URL, when the agent runs one beside the devnet (config `localCloud`). */
  readonly cloudUrl?: string;
  readonly host: Host;
  readonly family: Family;
  /** The files' bytes (content-addressed); the host decides what is kept. */
  readonly blobs: BlobStore;
  readonly watcher: PaymentWatcher;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly metrics: AgentMetrics;
  /** The separate metrics listener's URL (`metricsListen`), when there is one. */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  passphrase: string;
  /** JSON lines on stdout at config.logLevel (`storj run`); default off (the tests). */
  logger?: boolean;
  /**
   * What to do with an embedded devnet when the agent closes: `always` stop it (`storj run`: the devnet belongs
   * to this data dir's agent, even one it found running after a kill -9), stop it `if-started` by this agent
   * (default), or `never`.
   */
  stopDevnet?: 'always' | 'if-started' | 'never';
  /** Reproduction's parts, each replacing the real one (./family.ts reproductionParts): tests give a stub image's user data. */
  family?: ReproductionParts;
}

/**
 * Opens the database, the wallet and the chain, and starts the HTTP server.
 * @throws AgentError WALLET_NOT_FOUND, WALLET_BAD_PASSPHRASE, CHAIN_UNAVAILABLE, CONFIG_INVALID
 */
export async function startAgent(opts: StartOptions): Promise<Agent> {
  const { config } = opts;
  const p = paths(config);
  makeDataDirPrivate(config.dataDir);
  if (!Wallet.exists(p.wallet)) throw new AgentError('WALLET_NOT_FOUND', `no wallet in ${config.dataDir}: run \`storj init\` first`);
  const wallet = await Wallet.open({ dir: p.wallet, passphrase: opts.passphrase });
  if (wallet.network !== config.network) {
    throw new AgentError('CONFIG_INVALID', `config key "network" is ${config.network} but the wallet in ${p.wallet} is for ${wallet.network}`, { key: 'network' });
  }
  // The server's logger once it exists (built below, before anything runs on a schedule); until then stderr.
  const logTo: { logger?: FastifyBaseLogger; scheduler?: FastifyBaseLogger } = {};
  const log = (line: string): void => {
    if (logTo.logger) logTo.logger.warn(line);
    // eslint-disable-next-line no-console -- before the server's logger exists, stderr is the only place a start-up warning can go
    else console.error(`[agent] ${line}`);
  };
  // Room for SQLite to open and write what start-up needs, even on a full disk (see ./health.ts).
  const ballastBytes = Math.min(config.diskReserveBytes, BALLAST_MAX_BYTES);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (await releaseBallastIfFull(config.dataDir, ballastBytes)) log('the disk is full: released the disk ballast so the database can open');
  const db = openAgentDb(p.db);
  let conn: ChainConnection | undefined;
  let metricsListener: MetricsListener | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  try {
    // The code this agent runs, as the children it spawns will fetch it (src/bundle): built once, in a worker
    // process while the chain connects, and kept in memory.
    const building = buildBundleApart(packageRoot());
    // Awaited below; a start that fails before then must not leave the rejection unheard.
    building.catch(() => undefined);
    conn = await connectChain(config, { stopDevnet: opts.stopDevnet ?? 'if-started', localCloud: config.localCloud });
    const bundle = await building;
    const cloud = conn.cloud;
    const chain = conn.chain;
    // Devnet time can be moved forward (POST /v1/dev/advance); everywhere else the clock is the system's.
    const clock: Clock = conn.dev ? new DevClock({ db }) : new SystemClock();
    const now = () => clock.now();
    // The watcher is built below; the treasury asks it for coins only once both exist.
    const watched = { unspent: () => watcher.unspent(), unspentTotals: (except?: readonly string[]) => watcher.unspentTotals(except) };
    const treasury = new Treasury({ db, wallet, chain, now, watched, perTxMaxSat: config.spendPerTxMaxSat, perDayMaxSat: config.spendPerDayMaxSat });
    const blobs = new FsBlobStore({ dir: p.blobs });
    // What interrupted uploads left behind: removing it needs no space, but making the store's folders on a
    // first start does; the store makes them again at its first upload.
    await startupStepAsync(log, 'clearing interrupted uploads', () => blobs.recover());
    const health = new Health({ db, dataDir: config.dataDir, reserveBytes: BigInt(config.diskReserveBytes), chainAlive: () => chain.getTipHeight(AbortSignal.timeout(HEALTH_CHAIN_TIMEOUT_MS)), ballastBytes, log });
    // The blobs' filesystem (a mount of its own, maybe); the data dir's until the store has made its folder.
    // statfs, not the store's usage(), whose first call walks every blob.
    const blobsFreeBytes = (): Promise<bigint> => freeBytes(p.blobs).catch(() => freeBytes(config.dataDir));
    // Read at scrape time; the host, ledger and watcher they read are built just below.
    const metrics = new AgentMetrics({
      balanceSumMsat: () => host.ledger.totalBalanceMsat(),
      openQuotes: () => host.openQuotes(),
      unconfirmedExposureSat: () => watcher.unconfirmedCountedSat(),
      watcherLagBlocks: async () => {
        const applied = watcher.appliedHeight();
        return applied === undefined ? undefined : Math.max(0, (await chain.getTipHeight()) - applied);
      },
      diskFreeBytes: () => blobsFreeBytes(),
    });
    const host: Host = new Host({
      db,
      config,
      blobs,
      now,
      newAddress: () => treasury.newAddress('upload'),
      feeRate: () => treasury.feeRate(),
      // The watcher is built just below (it needs the host's payment sink); this runs only after both exist.
      received: (address) => watcher.received(address),
      events: metrics.hostEvents,
      storageProblems: () => health.storage(),
      freeBytes: blobsFreeBytes,
      log,
    });
    // boundUrl is set once the server listens, before any job runs.
    const family: Family = buildFamily({ db, config, wallet, treasury, host, now, publicUrl: () => boundUrl, esploraUrl: conn.esploraUrl, parts: { ...reproductionParts({ config, treasury, host, codeHash: bundle.codeHash, dev: conn.dev }), ...opts.family } });
    const watcher: PaymentWatcher = new PaymentWatcher({
      db,
      chain,
      ours: (script) => treasury.addressOfScript(script),
      policy: { required: config.confirmations, zeroConfMaxSat: config.zeroConfMaxSat, zeroConfTotalMaxSat: config.zeroConfTotalMaxSat },
      sink: composeSinks(host.paymentSink, family.paymentSink),
      now,
      mempoolAddresses: () => host.mempoolAddresses(),
      // An investor's deposit counts only at its confirmations, even when a polled transaction also pays it.
      zeroConfAllowed: (address) => !family.isDepositAddress(address),
    });
    // A full disk must not keep the agent from starting: what cannot be written now is retried (on the timer
    // below, or on demand: a first quote computes the prices it needs), and /healthz says why it is degraded.
    startupStep(log, 'releasing the holds of interrupted downloads', () => host.releaseStaleHolds());
    if (!host.currentPrices()) await startupStepAsync(log, 'computing the first prices', () => host.recomputePrices());
    const scheduler = new Scheduler({
      db,
      clock,
      log: (line, level) => logTo.scheduler?.[level](line),
      onRun: (run, seconds) => {
        metrics.jobRun(run.job, run.outcome, seconds);
        logTo.scheduler?.debug({ job: run.job, outcome: run.outcome, seconds, detail: run.detail }, 'job run');
      },
    });
    // Links use the configured public URL, or, when that is only the default for a port picked at start
    // (listen port 0), the address actually bound.
    let boundUrl = config.publicUrl;
    // What each module hands over: its routes for the server, its jobs for the scheduler.
    const modules: ModuleParts[] = [
      { name: 'chain', jobs: [watcher.job()] },
      // File links point at the separate origin for customers' bytes when one is set (src/host/file-headers.ts).
      { name: 'host', routes: hostRoutes(host, () => config.filesUrl || boundUrl), fastPath: host.serveFast, jobs: host.jobs() },
      { name: 'family', routes: familyRoutes(family, { bodyLimit: config.proposalBodyMaxBytes }), jobs: family.jobs() },
      { name: 'bundle', routes: bundleRoutes(bundle) },
      // The pages customers use in a browser; "pay with devnet" only where the devnet controls exist.
      { name: 'web', routes: web({ devnet: conn.dev !== undefined, filesUrl: config.filesUrl, vendor: { 'tus.js': createRequire(import.meta.url).resolve('tus-js-client/dist/tus.min.js') } }) },
      {
        name: 'agent',
        routes: agentRoutes({
          config,
          publicUrl: () => boundUrl,
          info: () => agentInfo({ config, version: VERSION, nodeId: wallet.nodeId, codeHash: bundle.codeHash, prices: host.currentPrices() }),
          identity: (nonce) => ({ nodeId: wallet.nodeId, signature: Buffer.from(wallet.signIdentity(identityMessage(nonce))).toString('hex') }),
          dev: conn.dev,
          jobs: {
            advance: async (seconds) => {
              const now = (await scheduler.advance(seconds)).now;
              // The local cloud's clock is the devnet's too (docs/local-cloud.md); the agent's has moved either way.
              await cloud?.advance(seconds).catch((e: unknown) => log(`the local cloud did not advance its clock: ${(e as Error).message}`));
              return now;
            },
            // The devnet's "run this job now" should report a run that started after the request, so a run
            // already in flight (a cron tick, the start-up catch-up) is waited for instead of reported as skipped.
            run: async (name) => {
              for (let attempt = 0; ; attempt++) {
                const r = await scheduler.runNow(name);
                if (r.outcome !== 'skipped' || attempt >= 20) return r;
                await scheduler.idle();
              }
            },
          },
          health: () => health.report(),
          // Summed in SQL by the watcher over its index of unspent coins, not a request per address nor a row per
          // coin: this must stay cheap with a million files.
          operator: () => Promise.resolve(operatorView({ config, codeHash: bundle.codeHash, wallet, chain: conn?.describe, cloud: cloud?.url, now: clock.now(), coins: watcher.unspentTotals(), prices: host.currentPrices(), runs: scheduler.lastRuns() })),
        }),
      },
    ];
    for (const m of modules) for (const job of m.jobs ?? []) scheduler.add(job);
    const app = await buildServer({
      config,
      version: VERSION,
      routes: modules.flatMap((m) => (m.routes ? [m.routes] : [])),
      fastPaths: modules.flatMap((m) => (m.fastPath ? [m.fastPath] : [])),
      // The passphrase is among the secrets scrubbed from every line, though nothing should ever log it.
      logger: opts.logger ? loggerOptions({ level: config.logLevel, secrets: [config.adminToken, opts.passphrase] }) : false,
      metrics,
    });
    logTo.logger = app.log;
    logTo.scheduler = app.log.child({ component: 'scheduler' });
    await app.listen({ host: config.listen.host, port: config.listen.port });
    if (config.metricsListen) {
      try {
        metricsListener = await startMetricsListener(config.metricsListen, metrics);
      } catch (e) {
        await app.close();
        throw e;
      }
    }
    scheduler.start();
    retryTimer = setInterval(() => host.retryPendingWrites(), RETRY_WRITES_MS);
    retryTimer.unref();
    // The first look at the disk also lays down the ballast a later start on a full disk will need.
    void health.storage();
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
    const listenHost = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    const url = `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${port}`;
    if (config.listen.port === 0 && config.publicUrl.endsWith(':0')) boundUrl = url;
    const connection = conn;
    let closed: Promise<void> | undefined;
    return {
      config,
      url,
      app,
      db,
      wallet,
      codeHash: bundle.codeHash,
      treasury,
      chain,
      chainDescription: conn.describe,
      ...(cloud ? { cloudUrl: cloud.url } : {}),
      host,
      family,
      blobs,
      watcher,
      scheduler,
      clock,
      metrics,
      ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
      close() {
        // Once: a second call (a test's teardown after the test closed it) waits for the first.
        closed ??= (async () => {
          clearInterval(retryTimer);
          await metricsListener?.close();
          // Requests in flight get shutdownTimeoutMs to finish; then their connections are closed, so clients
          // that stopped reading or sending cannot hold the shutdown.
          await app.closeWithin(config.shutdownTimeoutMs);
          await scheduler.stop();
          // The download charges waiting for their group commit, and any a full disk kept back: a last try; what
          // is left is lost to the agent, never charged (docs/metering.md), and said here.
          const left = host.retryPendingWrites();
          const lost = host.stopMetering();
          if (left.pending > 0) log(`shutting down with ${left.pending} write(s) the full disk kept back; ${lost} download charge(s) among them are lost to the agent, never charged`);
          db.close();
          await connection.close();
        })();
        return closed;
      },
    };
  } catch (e) {
    clearInterval(retryTimer);
    await metricsListener?.close();
    db.close();
    await conn?.close();
    throw e;
  }
}

/** A spawned child's boot, `storj run --spawn FILE` (./child-boot.ts), starting the agent as startAgent does. */
export function startChild(opts: ChildBootOptions): Promise<ChildAgent<Agent>> {
  return bootChild(opts, startAgent);
}

/** How long /healthz waits for the chain backend (its client retries, which could otherwise take minutes). */
const HEALTH_CHAIN_TIMEOUT_MS = 5000;
/** How often writes a full disk kept back (download settlements, stale holds) are tried again. */
const RETRY_WRITES_MS = 5000;
/** The largest disk ballast (see ./health.ts): enough for SQLite's WAL index and start-up's writes. */
const BALLAST_MAX_BYTES = 4 * 1024 * 1024;

/** Runs a start-up write; a full disk is logged and left for later instead of refusing to start. */
function startupStep(log: (line: string) => void, what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    const full = diskFullError(e);
    if (!full) throw e;
    log(`${what} failed (${full.message}); retried later`);
  }
}

async function startupStepAsync(log: (line: string) => void, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const full = diskFullError(e);
    if (!full) throw e;
    log(`${what} failed (${full.message}); retried later`);
  }
}
