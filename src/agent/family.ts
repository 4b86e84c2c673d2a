/**
 * The family's construction (src/family) and the payment sink shared with the host: the one watcher tells both of
 * every payment, and each acts only on its own addresses (files' addresses for the host, proposals' for the family).
 */
import type { PaymentSink } from '../chain/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { Family, staticEvaluator, type Evaluator } from '../family/index.ts';
import type { Treasury } from '../treasury/index.ts';
import type { Wallet } from '../../wallet/index.ts';

/**
 * The family, wired to the wallet (its sealer), the treasury (deposit addresses, refunds) and, until the sandbox
 * runs the scripts, the static evaluator (src/family/evaluation.ts).
 */
export function buildFamily(deps: { db: Db; config: Config; wallet: Wallet; treasury: Treasury; now: () => Date; evaluate?: Evaluator }): Family {
  const { config, wallet, treasury } = deps;
  return new Family({
    db: deps.db,
    now: deps.now,
    network: config.network,
    scriptMaxBytes: config.proposalScriptMaxBytes,
    selectTimeoutSeconds: config.proposalSelectTimeoutSeconds,
    newAddress: () => treasury.newAddress('proposal').address,
    seal: (plaintext) => wallet.sealCredentials(plaintext),
    open: (sealed) => wallet.openCredentials(sealed),
    evaluate: deps.evaluate ?? staticEvaluator,
    payBack: (opts) => treasury.payBack(opts),
    rebroadcast: (txid, hex) => treasury.rebroadcast(txid, hex),
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
