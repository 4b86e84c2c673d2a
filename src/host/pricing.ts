/**
 * Prices follow operating cost: price per GiB-day = monthly hosting cost / (usable GiB x
 * target utilisation x 30) x (1 + margin), raised further as the disk fills past the target; egress from the
 * bandwidth cost plus margin; and a minimum deposit that makes every payment worth spending. All integer
 * arithmetic, rounded up (the agent never prices below cost).
 */
import { ceilDiv, MSAT_PER_SAT } from '../money/index.ts';
import { egressMsat, GIB, storageMsatPerDay } from '../ledger/index.ts';
// The wallet's own figures for its outputs (Bitcoin Core's dust threshold, the vsize of spending one), so a
// deposit is priced by the same numbers the wallet spends it with.
import { P2WPKH_DUST_SAT, P2WPKH_INPUT_VBYTES } from '../../wallet/index.ts';

export { P2WPKH_DUST_SAT };
const BPS = 10_000n;
const DAYS_PER_MONTH = 30n;

export interface PricingInputs {
  hostingCostSatPerMonth: bigint;
  capacityBytes: bigint;
  targetUtilisationBps: bigint;
  marginBps: bigint;
  bandwidthCostSatPerGib: bigint;
  /** Bytes already stored. */
  usedBytes: bigint;
  /** Current fee rate, sat per 1000 vbytes. */
  feeRateSatPerKvb: bigint;
}

export interface Prices {
  storageMsatPerGibDay: bigint;
  egressMsatPerGib: bigint;
  minimumDepositSat: bigint;
  feeRateSatPerKvb: bigint;
}

export interface PriceDerivation extends Prices {
  /** How each price came about, for the operator (GET /v1/agent). */
  explain: {
    baseMsatPerGibDay: string;
    scarcityBps: string;
    utilisationBps: string;
    spendFeeSat: string;
  };
}

/** Derives the prices from costs, capacity and fill level. */
export function computePrices(i: PricingInputs): PriceDerivation {
  const util = i.targetUtilisationBps > 0n ? i.targetUtilisationBps : 1n;
  // hosting msat per month, spread over the GiB-days the target utilisation sells.
  const base = ceilDiv(i.hostingCostSatPerMonth * MSAT_PER_SAT * GIB * BPS, i.capacityBytes * util * DAYS_PER_MONTH);
  const withMargin = ceilDiv(base * (BPS + i.marginBps), BPS);
  // Above the target fill, the price rises linearly up to 3x when the disk is full: scarce space costs more,
  // which slows uploads before the disk runs out.
  const targetBytes = (i.capacityBytes * util) / BPS;
  let scarcity = BPS;
  if (i.usedBytes > targetBytes && i.capacityBytes > targetBytes) {
    const over = i.usedBytes - targetBytes;
    const room = i.capacityBytes - targetBytes;
    scarcity = BPS + (2n * BPS * (over > room ? room : over)) / room;
  }
  const storage = ceilDiv(withMargin * scarcity, BPS);
  const egress = ceilDiv(i.bandwidthCostSatPerGib * MSAT_PER_SAT * (BPS + i.marginBps), BPS);
  const spendFee = ceilDiv(i.feeRateSatPerKvb * BigInt(P2WPKH_INPUT_VBYTES), 1000n);
  return {
    storageMsatPerGibDay: storage,
    egressMsatPerGib: egress,
    minimumDepositSat: spendFee + P2WPKH_DUST_SAT,
    feeRateSatPerKvb: i.feeRateSatPerKvb,
    explain: {
      baseMsatPerGibDay: base.toString(),
      scarcityBps: scarcity.toString(),
      utilisationBps: i.capacityBytes > 0n ? ((i.usedBytes * BPS) / i.capacityBytes).toString() : '0',
      spendFeeSat: spendFee.toString(),
    },
  };
}

/** What `days` of storage and `downloads` full downloads of a `size`-byte file cost, in msat. */
export function serviceCostMsat(size: bigint, days: bigint, downloads: bigint, p: Prices): bigint {
  return storageMsatPerDay(size, p.storageMsatPerGibDay) * days + egressMsat(size, p.egressMsatPerGib) * downloads;
}

/** The amount a quote asks for: the service in whole satoshis, and never less than the minimum deposit. */
export function quoteAmountSat(size: bigint, days: bigint, downloads: bigint, p: Prices): bigint {
  const service = ceilDiv(serviceCostMsat(size, days, downloads, p), MSAT_PER_SAT);
  return service > p.minimumDepositSat ? service : p.minimumDepositSat;
}
