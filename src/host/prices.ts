/**
 * The host's price sets: the latest one for new quotes and downloads, the one a quote was made with, and the
 * pricing job that derives a new set from the config's costs, the disk's fill level and the fee rate
 * (src/host/pricing.ts has the arithmetic).
 */
import type { Config } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import type { BlobStore } from '../storage/index.ts';
import { computePrices, type PriceDerivation } from './pricing.ts';
import type { HostRepository, PriceSetRow } from './repository.ts';
import type { PriceSet } from './types.ts';

interface PricesDeps {
  repo: HostRepository;
  config: Config;
  blobs: BlobStore;
  now: () => Date;
  feeRate: () => Promise<bigint>;
}

export class PriceBook {
  readonly #d: PricesDeps;

  constructor(deps: PricesDeps) {
    this.#d = deps;
  }

  /** The latest price set, computing a first one if there is none. */
  async prices(): Promise<PriceSet> {
    const row = this.current();
    if (row) return row;
    await this.recompute();
    const again = this.current();
    if (!again) throw new AgentError('INTERNAL', 'no price set');
    return again;
  }

  /** The latest price set without touching the network, if one exists. */
  current(): PriceSet | undefined {
    return priceSet(this.#d.repo.latestPriceSet());
  }

  /** The set a quote was made with. @throws AgentError INTERNAL when it is gone (quotes keep theirs). */
  byId(id: bigint): PriceSet {
    const set = priceSet(this.#d.repo.priceSetById(id));
    if (!set) throw new AgentError('INTERNAL', `price set ${id} is missing`);
    return set;
  }

  /** Recomputes prices from the config's costs, the disk's fill level and the fee rate (the pricing job). */
  async recompute(): Promise<PriceDerivation> {
    const c = this.#d.config;
    const [usage, feeRate] = await Promise.all([this.#d.blobs.usage(), this.#d.feeRate()]);
    const p = computePrices({
      hostingCostSatPerMonth: c.hostingCostSatPerMonth,
      capacityBytes: c.capacityBytes,
      targetUtilisationBps: c.targetUtilisationBps,
      marginBps: c.marginBps,
      bandwidthCostSatPerGib: c.bandwidthCostSatPerGib,
      usedBytes: usage.usedBytes,
      feeRateSatPerKvb: feeRate,
    });
    this.#d.repo.addPriceSet({
      computedAt: BigInt(this.#d.now().getTime()),
      storageMsatPerGibDay: p.storageMsatPerGibDay,
      egressMsatPerGib: p.egressMsatPerGib,
      minimumDepositSat: p.minimumDepositSat,
      feeRateSatPerKvb: p.feeRateSatPerKvb,
      inputs: JSON.stringify({ ...p.explain, usedBytes: usage.usedBytes.toString() }),
    });
    return p;
  }
}

function priceSet(r: PriceSetRow | undefined): PriceSet | undefined {
  if (!r) return undefined;
  return {
    id: r.id,
    computedAt: new Date(Number(r.computed_at)),
    storageMsatPerGibDay: r.storage_msat_per_gib_day,
    egressMsatPerGib: r.egress_msat_per_gib,
    minimumDepositSat: r.minimum_deposit_sat,
    feeRateSatPerKvb: r.fee_rate_sat_per_kvb,
    derivation: JSON.parse(r.inputs) as Record<string, string>,
  };
}
