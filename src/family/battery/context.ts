/**
 * What the battery's checks share (docs/battery.md): the child as registered, the parent's own figures, the bounds,
 * the probe, the money spent so far against the budget, and the file the paid upload left for the later checks.
 */
import type { Network } from '../../config/index.ts';
import { xpubReceiveAddress } from '../../../wallet/index.ts';
import { fail, type Probe } from './probe.ts';

/** The parent's prices, as its own /v1/info gives them. */
export interface BatteryPrices {
  storageMsatPerGibDay: bigint;
  egressMsatPerGib: bigint;
  minimumDepositSat: bigint;
}

export interface BatteryBounds {
  /** A child's price may lie from the parent's x priceMinBps / 10000 to the parent's x priceMaxBps / 10000. */
  priceMinBps: bigint;
  priceMaxBps: bigint;
  /** Deadline of each request to the child, connect to last byte. */
  timeoutMs: number;
  /** How many receive addresses of the registered account a quote's address is looked for among (indexes 0..n-1). */
  xpubWindow: number;
  /** Size of the random file the battery uploads (at least 64 bytes, for the Range check). */
  fileBytes: number;
  /** How long the child may take to see the battery's payment. */
  paymentTimeoutMs: number;
  /** Pause between two looks at the upload's status while waiting for the payment. */
  pollMs: number;
  /** Most bytes the 402 check downloads to use up a file's balance; a balance that would take more is not used up. */
  exhaustMaxBytes: number;
  /** Largest bundle read from the child. */
  bundleMaxBytes: number;
  /** Largest JSON answer read from the child. */
  maxJsonBytes: number;
}

export const DEFAULT_BOUNDS: Readonly<BatteryBounds> = Object.freeze({
  priceMinBps: 5_000n,
  priceMaxBps: 20_000n,
  timeoutMs: 15_000,
  xpubWindow: 1_000,
  fileBytes: 1_024,
  paymentTimeoutMs: 10 * 60_000,
  pollMs: 2_000,
  exhaustMaxBytes: 4 * 1024 * 1024,
  bundleMaxBytes: 64 * 1024 * 1024,
  maxJsonBytes: 1024 * 1024,
});

/**
 * Bounds whose every figure is usable: integers in range, a price band that is a band.
 * @throws RangeError naming the first bound that is not
 */
export function checkBounds(b: BatteryBounds): BatteryBounds {
  const ints: Array<[keyof BatteryBounds, number, number]> = [
    ['timeoutMs', 1, 600_000],
    ['xpubWindow', 1, 100_000],
    ['fileBytes', 64, 64 * 1024 * 1024],
    ['paymentTimeoutMs', 0, 7 * 86_400_000],
    ['pollMs', 0, 3_600_000],
    ['exhaustMaxBytes', 0, Number.MAX_SAFE_INTEGER],
    ['bundleMaxBytes', 1, Number.MAX_SAFE_INTEGER],
    ['maxJsonBytes', 1024, Number.MAX_SAFE_INTEGER],
  ];
  for (const [key, min, max] of ints) {
    const v = b[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`bounds.${key} must be an integer in ${min}..${max}`);
  }
  if (b.priceMinBps < 0n || b.priceMaxBps < b.priceMinBps) throw new RangeError('bounds.priceMinBps..priceMaxBps must be a band of non-negative basis points');
  return b;
}

export interface BatteryChild {
  url: string;
  nodeId: string;
  codeHash: string;
  accountXpub: string;
}

export interface BatteryParent {
  codeHash: string;
  network: Network;
  prices: BatteryPrices;
}

/** The file the paid upload left, for the Range and 402 checks. */
interface UploadedFile {
  fileId: string;
  /** Its top-up address (the quote's). */
  address: string;
  bytes: Buffer;
  sha256: string;
}

export interface Ctx {
  child: BatteryChild;
  parent: BatteryParent;
  bounds: BatteryBounds;
  probe: Probe;
  random: (bytes: number) => Uint8Array;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
  signal: AbortSignal | undefined;
  /** Pays from the parent's wallet, within the budget (./paid.ts). */
  pay: (address: string, amountSat: bigint) => Promise<string>;
  mine: (() => Promise<void>) | undefined;
  budgetSat: bigint;
  spentSat: bigint;
  /** Values that never go into a detail (upload tokens): the details may be shown to anyone. */
  secrets: Set<string>;
  file: UploadedFile | undefined;
  /** Receive addresses of the registered account derived so far, by index. */
  derived: string[];
}

/** Derivations between two yields to the event loop: each takes a few milliseconds of pure-JS elliptic curve work. */
const DERIVE_BATCH = 16;

/**
 * The index of `address` among the first `bounds.xpubWindow` receive addresses of the registered account. Derived
 * addresses are kept for the next search, and the search yields to the event loop between batches, so a long one
 * does not hold up the agent's other work.
 * @throws CheckFailed when the registered key does not parse, or the address is not among them
 * @throws the signal's reason when the battery's signal aborts
 */
export async function xpubIndexOf(ctx: Ctx, address: string): Promise<number> {
  const { child, parent, bounds } = ctx;
  for (let i = 0; i < bounds.xpubWindow; i++) {
    if (ctx.derived[i] === undefined) {
      if (i % DERIVE_BATCH === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        ctx.signal?.throwIfAborted();
      }
      try {
        ctx.derived[i] = xpubReceiveAddress(child.accountXpub, parent.network, i);
      } catch (e) {
        return fail(`the registered accountXpub gives no address of ${parent.network}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (ctx.derived[i] === address) return i;
  }
  return fail(`the quote's address ${address} is not among the first ${bounds.xpubWindow} receive addresses of the registered accountXpub`);
}
