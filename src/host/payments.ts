/**
 * The payment sink: the payment watcher (src/chain/watcher.ts) tells the host, inside its own transaction,
 * of payments that count and of payments reversed (a reorg or a double spend), and the host turns those to
 * files' addresses into ledger entries. Payments to the agent's own receive or change addresses are not the
 * host's and are ignored here.
 */
import { MSAT_PER_SAT } from '../money/index.ts';
import type { Ledger } from '../ledger/index.ts';
import type { PaymentSink, WatchedPayment } from '../chain/index.ts';
import type { HostRepository } from './repository.ts';
import { tell, type HostDeps } from './types.ts';

/**
 * Credits and reversals for files' addresses. A payment can be reversed and later come back (a reorg that
 * drops it, then its transaction mined after all), so the k-th credit and the k-th reversal of an outpoint
 * carry the ref `<txid>:<vout>/<k>`: each is recorded once, and a comeback is credited again.
 */
export function paymentSink(deps: Pick<HostDeps, 'now' | 'events'> & { repo: HostRepository; ledger: Ledger }): PaymentSink {
  const entry = (p: WatchedPayment, kind: 'payment' | 'reversal', amountMsat: bigint): void => {
    const fileId = deps.repo.fileIdByAddress(p.address);
    if (fileId === undefined) return; // the agent's own receive or change address
    const outpoint = `${p.txid}:${p.vout}`;
    // A credit is the (reversals)-th; a reversal undoes the (reversals)-th credit.
    const reversals = deps.ledger.reversalsOf(fileId, outpoint);
    const recorded = deps.ledger.record({ fileId, kind, ref: `${outpoint}/${reversals}`, amountMsat, at: deps.now() });
    // Told inside the watcher's transaction: a block whose transaction fails after this point is counted
    // again when it is applied again (a metric may overcount; the ledger never does).
    if (recorded) tell(deps.events, (e) => (kind === 'payment' ? e.credited(p.valueSat) : e.reversed(p.valueSat)));
  };
  return {
    onCounted: (p: WatchedPayment) => entry(p, 'payment', p.valueSat * MSAT_PER_SAT),
    onReversed: (p: WatchedPayment) => entry(p, 'reversal', -p.valueSat * MSAT_PER_SAT),
  };
}
