/**
 * The faucet: a P2WPKH key that receives the coinbases and pays with bcoin's own wallet code
 * (KeyRing, MTX, bcoin's coin selection), an implementation independent of the agent's
 * bitcoinjs-lib, so a bug shared by both cannot go unnoticed.
 */
import bcoin from 'bcoin';
import { AgentError } from '../errors/index.ts';
import { accept } from './core-errors.ts';
import type { NodeParts } from './regtest.ts';

/** The faucet's fee rate: 2 sat/vB (bcoin wants sat per kvB), the same as the facade's fee estimates. */
export const FAUCET_FEE_RATE_SAT_PER_VB = 2;
/** An nSequence that signals replacement (BIP125: below 0xfffffffe), as Bitcoin Core's wallet sets it. */
const BIP125_REPLACEABLE_SEQUENCE = 0xffff_fffd;
/** What a payment with an unconfirmed parent gets on top of its amount from that parent, for its own fee. */
const PARENT_FEE_ROOM_SAT = 10_000n;
/** Coinbase outputs mature after 100 blocks (a consensus rule, the same on regtest). */
const COINBASE_MATURITY = 100;

/** How the faucet pays (tests of the 0-conf policy). */
export interface PayOptions {
  /** Every input signals replacement (BIP125). */
  rbf?: boolean;
  /** The payment spends the output of a faucet transaction that is itself still in the mempool. */
  unconfirmedParent?: boolean;
}

function isFundingError(e: unknown): e is Error {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'FundingError';
}

/** Faucet coins that can be spent now: confirmed and mature, or unconfirmed change; none already spent in the mempool. */
export async function faucetCoins(parts: NodeParts): Promise<bcoin.Coin[]> {
  const { chain, mempool, faucetAddr, faucetScript } = parts;
  const confirmed = await chain.getCoinsByAddress([faucetAddr]);
  const unconfirmed = mempool.getCoinsByAddress([faucetAddr]);
  const next = chain.height + 1;
  return [...confirmed, ...unconfirmed].filter(
    (c) => c.script.toRaw().equals(faucetScript) && !mempool.isSpent(c.hash, c.index) && !(c.coinbase && c.height + COINBASE_MATURITY > next),
  );
}

/**
 * The faucet pays `amount` to `script` with bcoin's own coin selection (oldest coins first, so
 * mature coinbase outputs go before unconfirmed change) and puts the transaction in the mempool.
 * `rbf` makes every input signal replacement (BIP125: nSequence 0xfffffffd). `unconfirmedParent` first
 * puts a transaction paying the faucet itself in the mempool, and the payment spends only its output.
 * @returns the txid.
 * @throws AgentError DEVNET_FAUCET_EMPTY when the faucet cannot cover amount + fee.
 */
export async function payFromFaucet(parts: NodeParts, script: Buffer, amount: bigint, opts: PayOptions): Promise<string> {
  let coins = await faucetCoins(parts);
  if (opts.unconfirmedParent) {
    const parent = await faucetTx(parts, parts.faucetScript, amount + PARENT_FEE_ROOM_SAT, coins, false);
    await accept(parts, parent);
    coins = [bcoin.Coin.fromTX(parent, 0, -1)];
  }
  const tx = await faucetTx(parts, script, amount, coins, opts.rbf ?? false);
  await accept(parts, tx);
  return tx.txid();
}

/** A signed faucet transaction paying `amount` to `script` from `coins`, change to the faucet. */
async function faucetTx(parts: NodeParts, script: Buffer, amount: bigint, coins: bcoin.Coin[], rbf: boolean): Promise<bcoin.TX> {
  const mtx = new bcoin.MTX();
  mtx.addOutput(bcoin.Script.fromRaw(script), Number(amount));
  try {
    await mtx.fund(coins, {
      changeAddress: parts.faucetAddr,
      rate: FAUCET_FEE_RATE_SAT_PER_VB * 1000,
      selection: 'age',
      height: parts.chain.height,
    });
  } catch (e) {
    if (isFundingError(e)) throw new AgentError('DEVNET_FAUCET_EMPTY', `the faucet cannot pay ${amount} sat: ${e.message}; mine more blocks`);
    throw e;
  }
  if (rbf) for (const input of mtx.inputs) input.sequence = BIP125_REPLACEABLE_SEQUENCE;
  mtx.sign(parts.ring);
  return mtx.toTX();
}

/**
 * A transaction spending the original's faucet inputs back to the faucet (fee taken from that output).
 * @throws AgentError BAD_REQUEST when the original spends no faucet coin.
 */
export async function faucetConflict(parts: NodeParts, original: bcoin.TX, known: Map<string, bcoin.TX>): Promise<bcoin.TX> {
  const coins: bcoin.Coin[] = [];
  for (const input of original.inputs) {
    const { hash, index } = input.prevout;
    const parent = known.get(hash) ?? (await parts.chain.getTX(hash));
    const output = parent?.outputs[index];
    if (parent && output?.script.toRaw().equals(parts.faucetScript)) coins.push(bcoin.Coin.fromTX(parent, index, -1));
  }
  if (coins.length === 0) {
    throw new AgentError('BAD_REQUEST', `${original.txid()} spends no faucet coin; the devnet can only double-spend its own payments`);
  }
  const mtx = new bcoin.MTX();
  mtx.addOutput(parts.faucetAddr, coins.reduce((s, c) => s + c.value, 0));
  await mtx.fund(coins, {
    changeAddress: parts.faucetAddr,
    rate: FAUCET_FEE_RATE_SAT_PER_VB * 1000,
    selection: 'all',
    subtractFee: true,
  });
  mtx.sign(parts.ring);
  return mtx.toTX();
}
