/**
 * The family's construction (src/family) and the payment sink shared with the host: the one watcher tells both of
 * every payment, and each acts only on its own addresses (files' addresses for the host, proposals' for the family).
 */
import type { PaymentSink } from '../chain/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { Family, renderUserData, runBattery, sandboxEvaluator, type Evaluator, type ReproductionParts } from '../family/index.ts';
import type { Host } from '../host/index.ts';
import { netTransport } from '../sandbox/index.ts';
import type { Treasury } from '../treasury/index.ts';
import type { Wallet } from '../../wallet/index.ts';
import type { DevControl } from './routes.ts';

/**
 * Reproduction's real parts: the user data of src/family/user-data.ts, the agent's own code hash (src/bundle), and
 * the test battery (src/family/battery.ts) with the parent's half of its input: this agent's code hash, network and
 * current prices, a budget, and payment from the agent's own wallet (on the devnet, a block mined after it).
 */
export function reproductionParts(deps: { config: Config; treasury: Treasury; host: Host; codeHash: string; dev?: DevControl | undefined }): ReproductionParts {
  const { config, treasury, host, codeHash, dev } = deps;
  return {
    userData: renderUserData,
    codeHash: () => codeHash,
    battery: async (child, signal) => {
      const prices = host.currentPrices();
      if (!prices) return { passed: false, checks: [{ name: 'prices', passed: false, detail: 'this agent has no prices yet to compare the child\'s with' }] };
      return runBattery({
        child,
        parent: { codeHash, network: config.network, prices: { storageMsatPerGibDay: prices.storageMsatPerGibDay, egressMsatPerGib: prices.egressMsatPerGib, minimumDepositSat: prices.minimumDepositSat } },
        budgetSat: config.batteryBudgetSat,
        pay: async (address, amountSat) => (await treasury.send(address, amountSat)).txid,
        ...(dev ? { mine: async () => void (await dev.mine(1)) } : {}),
        signal,
      });
    },
  };
}

/**
 * The family, wired to the wallet (its sealer, its identity), the treasury (deposit addresses, refunds, a spawn's
 * payments), the evaluator that runs each script in the sandbox (src/family/evaluation.ts), and, when `parts` gives
 * the child's user data, reproduction: readiness from the treasury's totals and the host's latest utilisation.
 */
export function buildFamily(deps: {
  db: Db;
  config: Config;
  wallet: Wallet;
  treasury: Treasury;
  host: Host;
  now: () => Date;
  publicUrl: () => string;
  esploraUrl: string;
  evaluate?: Evaluator;
  parts?: ReproductionParts;
}): Family {
  const { config, wallet, treasury, host, parts } = deps;
  const userData = parts?.userData;
  return new Family({
    db: deps.db,
    now: deps.now,
    network: config.network,
    scriptMaxBytes: config.proposalScriptMaxBytes,
    selectTimeoutSeconds: config.proposalSelectTimeoutSeconds,
    newAddress: () => treasury.newAddress('proposal').address,
    seal: (plaintext) => wallet.sealCredentials(plaintext),
    open: (sealed) => wallet.openCredentials(sealed),
    evaluate: deps.evaluate ?? sandboxEvaluator,
    payBack: (opts) => treasury.payBack(opts),
    rebroadcast: (txid, hex) => treasury.rebroadcast(txid, hex),
    nodeId: wallet.nodeId,
    publicUrl: deps.publicUrl,
    codeHash: () => parts?.codeHash?.(),
    ...(userData
      ? {
          spawn: {
            userData,
            ...(parts.battery ? { battery: parts.battery } : {}),
            esploraUrl: deps.esploraUrl,
            registerTimeoutSeconds: config.spawnRegisterTimeoutSeconds,
            transport: netTransport(),
            payFromDeposit: (opts) => treasury.payFromDeposit(opts),
            readinessInput: async () => ({
              force: config.reproduceForce,
              walletSat: (await treasury.totals()).confirmedSat,
              hostingCostSatPerMonth: config.hostingCostSatPerMonth,
              reserveMonths: config.reproduceReserveMonths,
              utilisationBps: utilisationBps(host),
              minUtilisationBps: config.reproduceMinUtilisationBps,
            }),
          },
        }
      : {}),
  });
}

/** Tells every sink of every payment, in order, inside the watcher's one transaction. */
export function composeSinks(...sinks: PaymentSink[]): PaymentSink {
  return {
    onCounted: (p) => {
      for (const s of sinks) s.onCounted(p);
    },
    onReversed: (p) => {
      for (const s of sinks) s.onReversed(p);
    },
  };
}

/** How full the disk was at the host's latest prices, in basis points (0 before the first). */
function utilisationBps(host: Host): bigint {
  const v = host.currentPrices()?.derivation.utilisationBps;
  return v !== undefined && /^[0-9]{1,12}$/.test(v) ? BigInt(v) : 0n;
}
