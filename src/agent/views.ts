/**
 * The agent's two descriptions of itself: the public one (GET /v1/info) and the operator's (GET /v1/agent).
 */
import type { Config } from '../config/index.ts';
import type { CoinTotals } from '../chain/index.ts';
import type { PriceSet } from '../host/index.ts';
import type { JobRun } from '../scheduler/index.ts';
import type { Wallet } from '../../wallet/index.ts';
import type { Info } from './routes.ts';

/** GET /v1/info: prices, network and limits. */
export function agentInfo(a: { config: Config; version: string; nodeId: string; codeHash: string; prices: PriceSet | undefined }): Info {
  const { config, prices } = a;
  return {
    name: 'storj-agent',
    version: a.version,
    network: config.network,
    nodeId: a.nodeId,
    codeHash: a.codeHash,
    prices: {
      storageMsatPerGibDay: (prices?.storageMsatPerGibDay ?? 0n).toString(),
      egressMsatPerGib: (prices?.egressMsatPerGib ?? 0n).toString(),
      minimumDepositSat: Number(prices?.minimumDepositSat ?? 0n),
      quoteTtlSeconds: config.quoteTtlSeconds,
    },
    confirmations: { required: config.confirmations, zeroConfMaxSat: Number(config.zeroConfMaxSat) },
    graceSeconds: config.graceSeconds,
    maxFileSize: config.maxFileSize,
  };
}

/** GET /v1/agent, behind the admin token: identity, code, chain, coins, prices with how they were derived, last job runs. */
export function operatorView(a: {
  config: Config;
  codeHash: string;
  wallet: Pick<Wallet, 'nodeId' | 'accountXpub'>;
  chain: string | undefined;
  /** The local cloud's URL, when the agent runs one. */
  cloud?: string | undefined;
  now: Date;
  coins: Pick<CoinTotals, 'confirmedSat' | 'unconfirmedSat'>;
  prices: PriceSet | undefined;
  runs: readonly JobRun[];
}): Record<string, unknown> {
  const { config, prices } = a;
  return {
    nodeId: a.wallet.nodeId,
    codeHash: a.codeHash,
    network: config.network,
    chain: a.chain,
    ...(a.cloud ? { localCloud: a.cloud } : {}),
    now: a.now.toISOString(),
    wallet: { accountXpub: a.wallet.accountXpub(), confirmedSat: Number(a.coins.confirmedSat), unconfirmedSat: Number(a.coins.unconfirmedSat) },
    prices: prices
      ? {
          computedAt: prices.computedAt.toISOString(),
          storageMsatPerGibDay: prices.storageMsatPerGibDay.toString(),
          egressMsatPerGib: prices.egressMsatPerGib.toString(),
          minimumDepositSat: Number(prices.minimumDepositSat),
          feeRateSatPerKvb: Number(prices.feeRateSatPerKvb),
          derivation: {
            ...prices.derivation,
            hostingCostSatPerMonth: config.hostingCostSatPerMonth.toString(),
            capacityBytes: config.capacityBytes.toString(),
            targetUtilisationBps: config.targetUtilisationBps.toString(),
            marginBps: config.marginBps.toString(),
            bandwidthCostSatPerGib: config.bandwidthCostSatPerGib.toString(),
          },
        }
      : null,
    jobs: a.runs.map((r) => ({ job: r.job, outcome: r.outcome, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null, detail: r.detail ?? null })),
  };
}
