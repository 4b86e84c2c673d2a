/**
 * The parent's test battery of a child (docs/battery.md): checks run in order against the child's URL, each
 * independent where it can be, each ending in {name, passed, detail}. Whatever the child does (lies, hangs,
 * answers garbage or 500) fails a check with a detail; it never throws out of the battery. Only the parent's own
 * signal ends it early, with the signal's reason.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { printable } from '../net/index.ts';
import { CheckFailed, Probe } from './battery/probe.ts';
import { checkBounds, DEFAULT_BOUNDS, type BatteryBounds, type BatteryChild, type BatteryParent, type Ctx } from './battery/context.ts';
import { codeHash, health, identity, info, xpub } from './battery/checks.ts';
import { paymentRequired, range, uploadDownload } from './battery/paid.ts';

export interface BatteryInput {
  /** The child as it registered. */
  child: BatteryChild;
  parent: BatteryParent;
  /** Overrides of DEFAULT_BOUNDS (./battery/context.ts). */
  bounds?: Partial<BatteryBounds>;
  /** The most the battery may pay, in all. */
  budgetSat: bigint;
  /** Pays from the parent's wallet; resolves with the txid. */
  pay: (address: string, amountSat: bigint) => Promise<string>;
  /** Makes the chain move on (a devnet's block); called between looks at a payment the child has not counted yet. */
  mine?: () => Promise<void>;
  signal?: AbortSignal;
  /** Injected by tests: random bytes (nonces, the file), the wait between looks, the clock (ms). */
  random?: (bytes: number) => Uint8Array;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

interface BatteryCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface BatteryResult {
  passed: boolean;
  checks: BatteryCheck[];
  /** What the battery paid the child (the paid upload), within budgetSat. */
  spentSat: bigint;
}

const CHECKS: ReadonlyArray<readonly [string, (ctx: Ctx) => Promise<string>]> = [
  ['identity', identity],
  ['health', health],
  ['info', info],
  ['codeHash', codeHash],
  ['xpub', xpub],
  ['upload-download', uploadDownload],
  ['range', range],
  ['402', paymentRequired],
];

/** The names of the checks, in the order they run. */
export const BATTERY_CHECKS: readonly string[] = CHECKS.map(([name]) => name);

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepMs(ms, undefined, signal ? { signal } : undefined);
}

/** `detail` as it may be shown to anyone: no secret of the battery's, printable, bounded. */
function clean(detail: string, secrets: ReadonlySet<string>): string {
  let out = detail;
  for (const s of secrets) out = out.split(s).join('***');
  return printable(out, 600);
}

/**
 * Runs every check against the child. `passed` is true when every check passed.
 * @throws the signal's reason when `input.signal` aborts; nothing else
 */
export async function runBattery(input: BatteryInput): Promise<BatteryResult> {
  const { signal } = input;
  const bounds: BatteryBounds = { ...DEFAULT_BOUNDS, ...input.bounds };
  let probe: Probe | undefined;
  let setupFailure = '';
  try {
    checkBounds(bounds);
    probe = new Probe({ url: input.child.url, timeoutMs: bounds.timeoutMs, maxJsonBytes: bounds.maxJsonBytes, signal });
  } catch (e) {
    setupFailure = `the battery could not start (the child's URL or a bound): ${e instanceof Error ? e.message : String(e)}`;
  }
  const checks: BatteryCheck[] = [];
  if (!probe) {
    for (const [name] of CHECKS) checks.push({ name, passed: false, detail: setupFailure });
    return { passed: false, checks, spentSat: 0n };
  }
  const ctx: Ctx = {
    child: input.child,
    parent: input.parent,
    bounds,
    probe,
    random: input.random ?? ((n) => new Uint8Array(randomBytes(n))),
    sleep: input.sleep ?? defaultSleep,
    now: input.now ?? Date.now,
    signal,
    pay: input.pay,
    mine: input.mine,
    budgetSat: input.budgetSat,
    spentSat: 0n,
    secrets: new Set(),
    file: undefined,
    derived: [],
  };
  for (const [name, run] of CHECKS) {
    signal?.throwIfAborted();
    try {
      checks.push({ name, passed: true, detail: clean(await run(ctx), ctx.secrets) });
    } catch (e) {
      signal?.throwIfAborted();
      const detail = e instanceof CheckFailed ? e.message : `the check could not run: ${e instanceof Error ? e.message : String(e)}`;
      checks.push({ name, passed: false, detail: clean(detail, ctx.secrets) });
    }
  }
  return { passed: checks.every((c) => c.passed), checks, spentSat: ctx.spentSat };
}
