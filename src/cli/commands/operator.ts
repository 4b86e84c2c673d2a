/**
 * The operator's commands: init, run, config and wallet. Nothing secret is printed except the mnemonic, once,
 * at `storj init`.
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { loadConfig, describeConfig, configDocs, VERSION, type Config, type Network } from '../../config/index.ts';
import { AgentError } from '../../errors/index.ts';
import { formatBtc, parseBtc, parseSat } from '../../money/index.ts';
import type { Treasury } from '../../treasury/index.ts';
import type { Agent } from '../../agent/index.ts';
import type { resolvePassphrase as ResolvePassphrase } from '../prompt.ts';
import { reportError } from '../render/errors.ts';

/** Adds init, run, config and wallet to `program`, whose global options give --data-dir and --json. */
export function registerOperatorCommands(program: Command): void {
  // The agent, its wallet and its treasury are loaded by the commands that use them, so the customer's commands
  // never load them (docs/memory.md).
  const agentDoor = () => import('../../agent/index.ts');
  const resolvePassphrase = async (...a: Parameters<typeof ResolvePassphrase>) => (await import('../prompt.ts')).resolvePassphrase(...a);
  function config(extra: Partial<Record<keyof Config, unknown>> = {}, requireChain = true): Config {
    const opts = program.opts<{ dataDir?: string }>();
    return loadConfig({ overrides: { ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...extra }, requireChain });
  }
  const json = () => program.opts<{ json?: boolean }>().json === true;
  const print = (human: string, data: unknown) => {
    console.log(json() ? JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) : human);
  };

  /** Runs `fn` with what the wallet commands need (the wallet, the database, the chain), closing them after. */
  async function withTreasury<T>(fn: (treasury: Treasury) => Promise<T> | T): Promise<T> {
    const c = config();
    const [{ connectChain, openAgentDb, paths }, { Treasury }, { Wallet }] = await Promise.all([agentDoor(), import('../../treasury/index.ts'), import('../../../wallet/index.ts')]);
    const p = paths(c);
    const { passphrase } = await resolvePassphrase(c.network);
    const wallet = await Wallet.open({ dir: p.wallet, passphrase });
    const db = openAgentDb(p.db);
    try {
      const conn = await connectChain(c, { stopDevnet: 'if-started' });
      try {
        return await fn(new Treasury({ db, wallet, chain: conn.chain, perTxMaxSat: c.spendPerTxMaxSat, perDayMaxSat: c.spendPerDayMaxSat }));
      } finally {
        await conn.close();
      }
    } finally {
      db.close();
    }
  }

  program
    .command('init')
    .description('create the data dir, config (with an admin token) and wallet; shows the mnemonic once')
    .option('--network <network>', 'mainnet | testnet | regtest')
    .option('--import', 'import an existing BIP39 mnemonic from STORJ_MNEMONIC instead of creating one')
    .action(async (o: { network?: string; import?: boolean }) => {
      // The chain backend can be set after init (STORJ_ESPLORA_URL or config.json) and is checked at `storj run`.
      const c = config(o.network ? { network: o.network } : {}, false);
      const network: Network = c.network;
      const { initDataDir, paths } = await agentDoor();
      const { passphrase, source } = await resolvePassphrase(network, { confirm: true });
      const mnemonic = o.import ? process.env.STORJ_MNEMONIC : undefined;
      if (o.import && !mnemonic) throw new AgentError('BAD_REQUEST', '--import reads the mnemonic from STORJ_MNEMONIC, which is not set');
      const r = await initDataDir({ dataDir: c.dataDir, network, passphrase, ...(mnemonic ? { mnemonic } : {}) });
      if (json()) {
        print('', { dataDir: c.dataDir, network, nodeId: r.nodeId, ...(o.import ? {} : { mnemonic: r.mnemonic }) });
        return;
      }
      console.log(`Initialised ${c.dataDir} for ${network}. nodeId ${r.nodeId}`);
      console.log(`The admin token is in ${paths(c).configFile} (mode 0600).`);
      if (source === 'regtest-default') console.log('The regtest wallet uses the default passphrase; set STORJ_PASSPHRASE to choose one.');
      if (!o.import) {
        console.log('\nWrite down this mnemonic. It is shown once and is the only way to recover the wallet:\n');
        console.log(`  ${r.mnemonic}\n`);
      }
    });

  program
    .command('run')
    .description('run the agent (on regtest with no esploraUrl: the embedded devnet, creating data dir and wallet on first start)')
    .option('--spawn <file>', "run as a parent's spawned child from this spawn file (its data dir: --data-dir; the first boot makes the wallet)")
    .action(async (o: { spawn?: string }) => {
      // Everything the agent writes is its own: the data dir is 0700 and the database 0600 whatever the umask
      // (src/agent, src/db), and this keeps whatever else it or its devnet creates closed too.
      process.umask(0o077);
      const started = o.spawn ? await startSpawned(o.spawn) : await startOwn();
      const { agent } = started;
      console.log(`storj-agent ${VERSION} on ${agent.config.network} (${agent.chainDescription})`);
      // Before "listening on", the line that says the agent is up (tests wait for it).
      if (agent.cloudUrl) console.log(`local cloud on ${agent.cloudUrl}`);
      console.log(`listening on ${agent.url}`);
      if (agent.metricsUrl) console.log(`metrics on ${agent.metricsUrl}/metrics`);
      let closing = false;
      const stop = (signal: string) => {
        if (closing) return;
        closing = true;
        console.log(`${signal}: shutting down`);
        started.close().then(
          () => process.exit(0),
          (e: unknown) => {
            reportError(e, json());
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  /** `storj run`: the data dir's own agent (a regtest one is made on first start). */
  async function startOwn(): Promise<{ agent: Agent; close(): Promise<void> }> {
    const c = config();
    const [{ initDataDir, paths, startAgent }, { Wallet }] = await Promise.all([agentDoor(), import('../../../wallet/index.ts')]);
    const { passphrase } = await resolvePassphrase(c.network);
    if (!Wallet.exists(paths(c).wallet) && c.network === 'regtest') {
      mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
      const r = await initDataDir({ dataDir: c.dataDir, network: 'regtest', passphrase });
      console.log(`First start: created a regtest wallet in ${c.dataDir} (nodeId ${r.nodeId}).`);
    }
    // Re-read: a first start has just written the admin token into config.json. JSON lines on stdout at
    // config.logLevel (STORJ_LOG_LEVEL); the human lines stay, and tests read "listening on".
    const agent = await startAgent({ config: config(), passphrase, stopDevnet: 'always', logger: true });
    return { agent, close: () => agent.close() };
  }

  /** `storj run --spawn FILE`: a spawned child (src/agent/child-boot.ts), its passphrase kept in its data dir. */
  async function startSpawned(spawnFile: string): Promise<{ agent: Agent; close(): Promise<void> }> {
    const dataDir = program.opts<{ dataDir?: string }>().dataDir ?? process.env.STORJ_DATA_DIR;
    if (!dataDir) throw new AgentError('BAD_REQUEST', '--spawn needs --data-dir (or STORJ_DATA_DIR)');
    const { startChild } = await agentDoor();
    const child = await startChild({ spawnFile, dataDir, env: process.env, logger: true, log: { info: (l) => console.log(l), error: (l) => console.error(l) } });
    if (child.firstBoot) console.log(`First boot: created a ${child.agent.config.network} wallet in ${dataDir} (nodeId ${child.agent.wallet.nodeId}).`);
    return child;
  }

  program
    .command('config')
    .description('print the effective configuration (secrets masked) and every STORJ_ environment variable')
    .action(() => {
      const c = config({}, false);
      print(
        [...Object.entries(describeConfig(c)).map(([k, v]) => `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`), '', ...configDocs().map((d) => `${d.env}: ${d.doc}`)].join('\n'),
        describeConfig(c),
      );
    });

  const wallet = program.command('wallet').description("the agent's own wallet");
  wallet
    .command('balance')
    .description('confirmed and unconfirmed balance of every address the wallet handed out')
    .action(async () => {
      const b = await withTreasury((t) => t.balance());
      print(`confirmed:   ${formatBtc(b.confirmedSat)} BTC (${b.confirmedSat} sat)\nunconfirmed: ${formatBtc(b.unconfirmedSat)} BTC (${b.unconfirmedSat} sat)\ncoins:       ${b.utxos.length}`, {
        confirmedSat: b.confirmedSat,
        unconfirmedSat: b.unconfirmedSat,
        coins: b.utxos.length,
      });
    });
  wallet
    .command('address')
    .description('a fresh receive address (never handed out before)')
    .action(async () => {
      const a = await withTreasury((t) => t.newAddress('receive'));
      print(a.address, a);
    });
  wallet
    .command('send')
    .description('pay AMOUNT (BTC, e.g. 0.001, or satoshis with --sat) to ADDRESS, within the spend policy')
    .argument('<address>')
    .argument('<amount>')
    .option('--sat', 'AMOUNT is in satoshis')
    .option('--fee-rate <satPerVb>', 'fee rate in sat/vB (default: the chain backend estimate)')
    .action(async (address: string, amount: string, o: { sat?: boolean; feeRate?: string }) => {
      const amountSat = o.sat ? parseSat(amount) : parseBtc(amount);
      const feeRateSatPerKvb = o.feeRate === undefined ? undefined : parseSat(o.feeRate, 'fee rate') * 1000n;
      const r = await withTreasury((t) => t.send(address, amountSat, feeRateSatPerKvb === undefined ? {} : { feeRateSatPerKvb }));
      print(`sent ${formatBtc(amountSat)} BTC to ${address}\ntxid ${r.txid}\nfee ${r.feeSat} sat, change ${r.changeSat} sat`, r);
    });
}
