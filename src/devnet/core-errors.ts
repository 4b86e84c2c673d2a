/**
 * Bitcoin Core's answers to sendrawtransaction, given by bcoin's mempool: the same refusals, reason
 * strings and RPC error codes, so the facade's text matches what electrs relays from bitcoind.
 */
import bcoin from 'bcoin';
import { AgentError } from '../errors/index.ts';
import { REGTEST, errorMessage, type NodeParts } from './regtest.ts';

interface VerifyErrorLike {
  type: 'VerifyError';
  reason: string;
  code: string;
}
export function isVerifyError(e: unknown): e is VerifyErrorLike {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'VerifyError';
}

/** Bitcoin Core's RPC error codes for sendrawtransaction (rpc/protocol.h). */
const RPC_DESERIALIZATION_ERROR = -22;
const RPC_VERIFY_ERROR = -25;
const RPC_VERIFY_REJECTED = -26;
const RPC_VERIFY_ALREADY_IN_CHAIN = -27;

/** Bitcoin Core's ScriptErrorString texts (script_error.cpp) for bcoin's ScriptError codes, which share Core's names. */
const CORE_SCRIPT_ERRORS: Record<string, string> = {
  EVAL_FALSE: 'Script evaluated without error but finished with a false/empty top stack element',
  NULLFAIL: 'Signature must be zero for failed CHECK(MULTI)SIG operation',
  SIG_DER: 'Non-canonical DER signature',
  SIG_HIGH_S: 'Non-canonical signature: S value is unnecessarily high',
  SIG_HASHTYPE: 'Signature hash type missing or not understood',
  EQUALVERIFY: 'Script failed an OP_EQUALVERIFY operation',
  CHECKSIGVERIFY: 'Script failed an OP_CHECKSIGVERIFY operation',
  WITNESS_PROGRAM_MISMATCH: 'Witness program hash mismatch',
  WITNESS_PROGRAM_WITNESS_EMPTY: 'Witness program was passed an empty witness',
  WITNESS_PROGRAM_WRONG_LENGTH: 'Witness program has incorrect length',
  WITNESS_MALLEATED: 'Witness requires empty scriptSig',
  WITNESS_UNEXPECTED: 'Witness provided for non-witness script',
  WITNESS_PUBKEYTYPE: 'Using non-compressed keys in segwit',
  CLEANSTACK: 'Stack size must be exactly one after execution',
  INVALID_STACK_OPERATION: 'Operation not valid with the current stack size',
  UNSATISFIED_LOCKTIME: 'Locktime requirement not satisfied',
};

function rejected(reason: string, rpcCode: number): AgentError {
  return new AgentError('CHAIN_TX_REJECTED', reason, { reason, rpcCode });
}

/**
 * Decodes a raw transaction as Core does: bcoin ignores trailing bytes, Core refuses them.
 * @throws AgentError CHAIN_TX_REJECTED "TX decode failed".
 */
export function decodeTx(raw: Buffer): bcoin.TX {
  let tx: bcoin.TX;
  try {
    tx = bcoin.TX.fromRaw(raw);
  } catch {
    throw rejected('TX decode failed', RPC_DESERIALIZATION_ERROR);
  }
  if (!tx.toRaw().equals(raw)) throw rejected('TX decode failed', RPC_DESERIALIZATION_ERROR);
  return tx;
}

/**
 * Adds a transaction to the mempool with Bitcoin Core's answers: an already-known mempool
 * transaction is accepted again (so a retried broadcast is harmless); below-minimum-relay-fee,
 * missing inputs and script failures are rejected with Core's reason strings.
 * @returns the txid.
 * @throws AgentError CHAIN_TX_REJECTED with `details.reason` and Core's `details.rpcCode`.
 */
export async function accept(parts: NodeParts, tx: bcoin.TX): Promise<string> {
  const { chain, mempool } = parts;
  const hash = tx.hash('hex');
  if (mempool.hasEntry(hash)) return tx.txid();
  if (await chain.getMeta(hash)) throw rejected('Transaction outputs already in utxo set', RPC_VERIFY_ALREADY_IN_CHAIN);
  if (!tx.isCoinbase()) {
    // Core checks conflicts before fees. bcoin 1.0.2 has no replace-by-fee: a conflict is refused.
    if (tx.inputs.some((i) => mempool.isSpent(i.prevout.hash, i.prevout.index))) throw rejected('txn-mempool-conflict', RPC_VERIFY_REJECTED);
    // Core refuses anything under the minimum relay fee. bcoin 1.0.2 would still admit a
    // "high-priority" free transaction, which its miner then never includes: refuse it instead.
    const view = await mempool.getCoinView(tx);
    if (tx.hasCoins(view)) {
      const fee = tx.getFee(view);
      const min = bcoin.policy.getMinFee(tx.getVirtualSize(), REGTEST.minRelay);
      // bcoin would call an output sum above the input sum "insufficient priority"
      if (fee < 0) throw rejected('bad-txns-in-belowout', RPC_VERIFY_REJECTED);
      if (fee < min) throw rejected(`min relay fee not met, ${fee} < ${min}`, RPC_VERIFY_REJECTED);
    }
  }
  let missing: string[] | null;
  try {
    missing = await mempool.addTX(tx);
  } catch (e) {
    if (isVerifyError(e)) throw rejected(await explain(parts, tx, e), RPC_VERIFY_REJECTED);
    throw e;
  }
  if (missing) {
    // bcoin would keep it as an orphan; Core's sendrawtransaction refuses it.
    mempool.removeOrphan(hash);
    throw rejected('bad-txns-inputs-missingorspent', RPC_VERIFY_ERROR);
  }
  return tx.txid();
}

/**
 * bcoin says only "(non-)mandatory-script-verify-flag", and calls a bad segwit signature
 * non-mandatory (its mandatory set is P2SH alone). Re-run the inputs as Core does: a failure under
 * Core's mandatory (consensus) flags is "mandatory-script-verify-flag-failed (<Core's text>)", one
 * only under the standard flags is "non-mandatory-...".
 */
async function explain(parts: NodeParts, tx: bcoin.TX, e: VerifyErrorLike): Promise<string> {
  if (!e.reason.endsWith('script-verify-flag')) return e.reason;
  const f = bcoin.Script.flags;
  // Bitcoin Core policy.h MANDATORY_SCRIPT_VERIFY_FLAGS (less TAPROOT, which bcoin 1.0.2 lacks)
  const mandatory = f.VERIFY_P2SH | f.VERIFY_DERSIG | f.VERIFY_NULLDUMMY | f.VERIFY_CHECKLOCKTIMEVERIFY | f.VERIFY_CHECKSEQUENCEVERIFY | f.VERIFY_WITNESS;
  const view = await parts.mempool.getCoinView(tx);
  for (const [kind, flags] of [['mandatory', mandatory], ['non-mandatory', f.STANDARD_VERIFY_FLAGS]] as const) {
    for (let i = 0; i < tx.inputs.length; i++) {
      const input = tx.inputs[i];
      const coin = input ? view.getOutputFor(input) : null;
      if (!input || !coin) continue;
      try {
        tx.checkInput(i, coin, flags);
      } catch (se) {
        const code = (se as { code?: unknown }).code;
        const text = (typeof code === 'string' ? CORE_SCRIPT_ERRORS[code] : undefined) ?? errorMessage(se);
        return `${kind}-script-verify-flag-failed (${text}), input ${i}`;
      }
    }
  }
  return `${e.reason}-failed`;
}
