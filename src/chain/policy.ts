/**
 * The payment watcher's policy step (docs/payments.md): which recorded payments now count, and what the
 * watcher's pieces (src/chain/watcher.ts, follow.ts, mempool.ts) share to take their steps.
 */
import { AgentError } from '../errors/index.ts';
import type { ChainRepository, PaymentRow } from './repository.ts';
import type { ChainBackend } from './types.ts';
import type { ConfirmationPolicy, PaymentSink, WatchedPayment } from './watcher-types.ts';
import { ZeroConfBudget } from './zeroconf.ts';

/** What a watcher step works with: its settings, its backend, its repository and its sink. */
export interface WatcherContext {
  readonly repo: ChainRepository;
  readonly chain: ChainBackend;
  readonly ours: (script: Buffer) => string | undefined;
  readonly policy: Required<ConfirmationPolicy>;
  readonly sink: PaymentSink;
  readonly keepBlocks: number;
  readonly mempoolAddresses: () => string[];
  readonly zeroConfAllowed: (address: string) => boolean;
  readonly startHeight: () => number | undefined;
  readonly nowMs: () => bigint;
}

export function requireSat(value: unknown, key: string): bigint {
  if (typeof value !== 'bigint' || value < 0n) throw new AgentError('CONFIG_INVALID', `${key} must be a bigint >= 0`);
  return value;
}

export function requireCount(value: number, key: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new AgentError('CONFIG_INVALID', `${key} must be an integer >= ${min}`);
  return value;
}

/**
 * Counts every payment the policy now accepts (inside the caller's transaction): those with their
 * confirmations, then, in first-seen order, unconfirmed ones that may count early while they fit both caps.
 */
export function applyPolicy(ctx: WatcherContext, tip: number | undefined, now: bigint): number {
  const { repo, policy, sink } = ctx;
  let n = 0;
  let budget: ZeroConfBudget | undefined;
  for (const row of repo.uncounted()) {
    const p = watched(row, tip);
    let counts = p.confirmations >= policy.required;
    if (!counts && row.state === 'mempool' && row.zero_conf === 1n) {
      budget ??= new ZeroConfBudget((address) => repo.exposureOf(address), repo.exposure(), policy.zeroConfMaxSat, policy.zeroConfTotalMaxSat);
      counts = budget.admit(row.address, row.value_sat);
    }
    if (counts) {
      repo.setCounted(p.txid, p.vout, now);
      sink.onCounted(p);
      n++;
    }
  }
  return n;
}

/** A payment row as the sink sees it, at `tip` (undefined: no block applied, so no confirmations). */
export function watched(row: PaymentRow, tip: number | undefined): WatchedPayment {
  const blockHeight = row.state === 'confirmed' && row.block_height !== null ? Number(row.block_height) : null;
  const confirmations = blockHeight !== null && tip !== undefined ? Math.max(0, tip - blockHeight + 1) : 0;
  return { txid: row.txid, vout: Number(row.vout), address: row.address, valueSat: row.value_sat, blockHeight, confirmations };
}
