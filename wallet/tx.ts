/**
 * Building and signing transactions that spend the wallet's own P2WPKH outputs.
 *
 * coinselect picks the inputs and decides whether a change output is worth making; this module
 * then computes the exact worst-case size and fee itself, builds a PSBT, signs, checks every
 * signature and extracts the transaction.
 */
import { address as btcAddress, initEccLib, Psbt, Transaction } from 'bitcoinjs-lib';
import * as ecc from 'tiny-secp256k1';
import coinSelect from 'coinselect';
import { AgentError } from '../src/errors/index.ts';
import { ceilDiv, formatBtc, MAX_SAT } from '../src/money/index.ts';
import { checkChainIndex, p2wpkhScript } from './keys.ts';
import type { AccountKeys, Chain } from './keys.ts';
import { bitcoinNetwork } from './networks.ts';
import type { WalletNetwork } from './networks.ts';

// bitcoinjs-lib checks a taproot (bc1p) address's x-only key with a registered secp256k1 library; without
// one, paying a taproot address would fail. Registering the same module instance again is a no-op.
initEccLib(ecc);

/** One of the wallet's unspent outputs, with the derivation of the key that spends it. */
export interface WalletUtxo {
  txid: string;
  vout: number;
  valueSat: bigint;
  chain: Chain;
  index: number;
}

interface PaymentOutput {
  address: string;
  valueSat: bigint;
}

export interface BuildTransactionParams {
  utxos: WalletUtxo[];
  outputs: PaymentOutput[];
  /** Fee rate in satoshis per 1000 virtual bytes (Bitcoin Core's unit for feerates, e.g. estimatesmartfee x 1e8). */
  feeRateSatPerKvb: bigint;
  /** Where change goes: m/84'/coin'/0'/1/index. */
  change: { index: number };
}

export interface BuiltTransaction {
  /** Signed, finalized transaction, ready to broadcast. */
  hex: string;
  txid: string;
  feeSat: bigint;
  /** Virtual size of the signed transaction (BIP141 weight / 4, rounded up). */
  vsize: number;
  /** 0n when there is no change output (no remainder, or a remainder below dust that went to the fee). */
  changeSat: bigint;
  /** The UTXOs spent, in input order. */
  inputs: WalletUtxo[];
  /** Every output in transaction order; the change output, if any, is last and marked. */
  outputs: Array<{ address: string; valueSat: bigint; change: boolean }>;
}

/** One input of a PSBT that the wallet is asked to sign, and the key (receive/change chain, index) it claims to need. */
export interface OwnedInput {
  inputIndex: number;
  chain: Chain;
  index: number;
}

/** Bitcoin Core's DUST_RELAY_TX_FEE (policy/policy.h): 3000 sat/kvB. */
const DUST_RELAY_FEE_SAT_PER_KVB = 3000n;

/**
 * Bitcoin Core's GetDustThreshold (policy/policy.cpp): an output is dust when spending it would cost
 * more than it is worth at the dust relay fee. Size counted = the output itself + the input that will
 * spend it: 32+4+1+107/4+4 = 67 bytes for a witness program, 32+4+1+107+4 = 148 otherwise.
 * P2WPKH: (31 + 67) x 3 = 294 sat; P2TR/P2WSH: 330; P2SH: 540; P2PKH: 546.
 */
export function dustThresholdSat(script: Uint8Array): bigint {
  const outputSize = 8 + varIntSize(script.length) + script.length;
  const spendSize = isWitnessProgram(script) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return (BigInt(outputSize + spendSize) * DUST_RELAY_FEE_SAT_PER_KVB) / 1000n;
}

/** The dust limit of the wallet's own outputs (P2WPKH), 294 sat. */
export const P2WPKH_DUST_SAT = 294n;

/** BIP141: a witness program is OP_0 or OP_1..OP_16 followed by one push of 2 to 40 bytes. */
function isWitnessProgram(script: Uint8Array): boolean {
  if (script.length < 4 || script.length > 42) return false;
  const v = script[0] ?? -1;
  if (v !== 0x00 && (v < 0x51 || v > 0x60)) return false;
  return script[1] === script.length - 2;
}

function varIntSize(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/**
 * Highest fee rate accepted, 5000 sat/vB: bitcoinjs-lib's default maximumFeeRate for extracting a PSBT.
 * Far above any fee market seen so far; a rate above it is a unit mistake (sat/vB passed as sat/kvB), not a choice.
 */
const MAX_FEE_RATE_SAT_PER_KVB = 5_000_000n;

/**
 * BIP125 opt-in replace-by-fee: a sequence below 0xfffffffe signals that the transaction may be
 * replaced by one paying more, so a payment stuck at too low a fee can later be bumped. 0xfffffffd
 * is what Bitcoin Core's wallet uses.
 */
export const RBF_SEQUENCE = 0xfffffffd;

/**
 * Worst-case size of a P2WPKH input signature, used for fee estimation: a DER signature with low S
 * (BIP146/BIP62) is at most 71 bytes, plus one sighash byte.
 */
const MAX_SIGNATURE_BYTES = 72;
const P2WPKH_WITNESS_WEIGHT = 1 + (1 + MAX_SIGNATURE_BYTES) + (1 + 33); // item count, sig, compressed pubkey: 108 WU
const INPUT_BASE_BYTES = 32 + 4 + 1 + 4; // outpoint, empty scriptSig length, sequence

/**
 * What spending one of the wallet's outputs adds to a transaction, in vbytes: 41 bytes + 108 WU of witness
 * = 68 vB (worst case). For pricing: a deposit should be worth more than the fee to spend it later.
 */
export const P2WPKH_INPUT_VBYTES = INPUT_BASE_BYTES + P2WPKH_WITNESS_WEIGHT / 4;

/**
 * Exact worst-case virtual size (BIP141: ceil(weight / 4)) of a transaction spending `inputs` P2WPKH
 * outputs to outputs with the given scripts.
 */
export function estimateVsize(inputs: number, outputScripts: Uint8Array[]): number {
  const base = 4 + varIntSize(inputs) + inputs * INPUT_BASE_BYTES + varIntSize(outputScripts.length)
    + outputScripts.reduce((a, s) => a + 8 + varIntSize(s.length) + s.length, 0) + 4;
  const witness = inputs > 0 ? 2 + inputs * P2WPKH_WITNESS_WEIGHT : 0; // marker + flag, then one stack per input
  return Math.ceil((base * 4 + witness) / 4);
}

/**
 * What coinselect is told an input costs. Its model is `41 + script.length` bytes per input plus 10 bytes
 * of transaction overhead. Our real input is 41 + 27 vbytes (108 WU of witness), and a segwit transaction
 * also carries 0.5 vbyte of marker and flag; telling coinselect 28 instead of 27 keeps its estimate at or
 * above estimateVsize for any number of inputs, so an input set it accepts always covers our exact fee.
 */
const COINSELECT_P2WPKH_INPUT = { length: 28 };

/**
 * bigint to number at the coinselect boundary. coinselect does its arithmetic in JS numbers, which are
 * exact only up to 2^53-1 sat (about 90 million BTC). Every amount given to it is at most MAX_SAT (21 million BTC)
 * and so is their sum (checked before), so nothing it adds or subtracts is rounded; this check makes that explicit.
 */
function toCoinselectNumber(sat: bigint): number {
  if (sat < 0n || sat > BigInt(Number.MAX_SAFE_INTEGER)) throw new AgentError('INTERNAL', 'amount outside the safe integer range for coin selection');
  return Number(sat);
}

function fromCoinselectNumber(n: number): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new AgentError('INTERNAL', `coin selection returned a value that is not a safe non-negative integer (${n})`);
  return BigInt(n);
}

/**
 * coinselect takes whole sat/vB. A rate in sat/kvB is rounded UP (1500 -> 2): rounding down could pick too few
 * inputs for the fee we then charge. The rounding only affects which inputs are picked and whether change is
 * worth making; the fee itself is computed from the exact sat/kvB rate and the exact worst-case size.
 * @throws AgentError WALLET_BAD_ARGUMENT for a rate that is not a bigint in 1..MAX_FEE_RATE_SAT_PER_KVB
 */
function checkFeeRate(feeRateSatPerKvb: bigint): { perKvb: bigint; coinselectSatPerVb: number } {
  if (typeof feeRateSatPerKvb !== 'bigint' || feeRateSatPerKvb <= 0n || feeRateSatPerKvb > MAX_FEE_RATE_SAT_PER_KVB) {
    throw new AgentError('WALLET_BAD_ARGUMENT', `the fee rate must be a bigint from 1 to ${MAX_FEE_RATE_SAT_PER_KVB} sat per 1000 vbytes`);
  }
  return { perKvb: feeRateSatPerKvb, coinselectSatPerVb: Number(ceilDiv(feeRateSatPerKvb, 1000n)) };
}

/** Fee for `vsize` vbytes at `perKvb`, rounded up so the rate paid is never below the rate asked. */
export function feeFor(vsize: number, perKvb: bigint): bigint {
  return ceilDiv(BigInt(vsize) * perKvb, 1000n);
}

/**
 * The output script of `address` on `network`.
 * @throws AgentError WALLET_BAD_ADDRESS when the address is malformed or belongs to another network
 */
export function outputScriptFor(address: string, network: WalletNetwork): Uint8Array {
  if (typeof address !== 'string' || address.length === 0 || address.length > 100) {
    throw new AgentError('WALLET_BAD_ADDRESS', 'the address must be a non-empty string');
  }
  try {
    return btcAddress.toOutputScript(address, bitcoinNetwork(network));
  } catch {
    throw new AgentError('WALLET_BAD_ADDRESS', `${address} is not a valid ${network} address`);
  }
}

const TXID = /^[0-9a-fA-F]{64}$/;

/** @throws AgentError WALLET_BAD_ARGUMENT for a malformed or duplicated UTXO, or values summing above MAX_SAT */
function checkUtxos(utxos: unknown): WalletUtxo[] {
  if (!Array.isArray(utxos)) throw new AgentError('WALLET_BAD_ARGUMENT', 'utxos must be an array');
  const seen = new Set<string>();
  let total = 0n;
  const out = utxos.map((u: Partial<WalletUtxo>, i): WalletUtxo => {
    if (typeof u?.txid !== 'string' || !TXID.test(u.txid)) throw new AgentError('WALLET_BAD_ARGUMENT', `utxo ${i}: txid must be 64 hex digits`);
    if (typeof u.vout !== 'number' || !Number.isInteger(u.vout) || u.vout < 0 || u.vout > 0xffffffff) throw new AgentError('WALLET_BAD_ARGUMENT', `utxo ${i}: vout must be an integer from 0 to 2^32-1`);
    if (typeof u.valueSat !== 'bigint' || u.valueSat <= 0n || u.valueSat > MAX_SAT) throw new AgentError('WALLET_BAD_ARGUMENT', `utxo ${i}: valueSat must be a positive bigint no larger than 21e14`);
    checkChainIndex(u.chain, u.index);
    const key = `${u.txid.toLowerCase()}:${u.vout}`;
    if (seen.has(key)) throw new AgentError('WALLET_BAD_ARGUMENT', `utxo ${key} is listed twice`);
    seen.add(key);
    total += u.valueSat;
    return { txid: u.txid.toLowerCase(), vout: u.vout, valueSat: u.valueSat, chain: u.chain, index: u.index as number };
  });
  if (total > MAX_SAT) throw new AgentError('WALLET_BAD_ARGUMENT', 'the utxos add up to more bitcoin than can exist');
  return out;
}

/**
 * Checks `owned` against the PSBT and signs those inputs with SIGHASH_ALL; every other input is left as it was.
 * All inputs are checked before any is signed, so a refusal leaves the PSBT untouched.
 * @throws AgentError WALLET_SIGN_FAILED when an input does not exist, is listed twice, has no witnessUtxo,
 *   spends a script other than the P2WPKH script of the key named, or its signature does not verify
 * @throws AgentError WALLET_BAD_ARGUMENT for a chain/index out of range
 */
export function signOwnedInputs(keys: AccountKeys, psbt: Psbt, owned: OwnedInput[]): Psbt {
  if (!Array.isArray(owned)) throw new AgentError('WALLET_BAD_ARGUMENT', 'owned must be an array of { inputIndex, chain, index }');
  const seen = new Set<number>();
  const plan = owned.map((o) => {
    const i = o.inputIndex;
    if (!Number.isInteger(i) || i < 0 || i >= psbt.inputCount) throw new AgentError('WALLET_SIGN_FAILED', `the transaction has no input ${String(i)}`);
    if (seen.has(i)) throw new AgentError('WALLET_SIGN_FAILED', `input ${i} is listed twice`);
    seen.add(i);
    checkChainIndex(o.chain, o.index);
    const spent = psbt.data.inputs[i]?.witnessUtxo;
    if (!spent) throw new AgentError('WALLET_SIGN_FAILED', `input ${i} has no witnessUtxo, so the script it spends cannot be checked`);
    const signer = keys.signer(o.chain, o.index);
    const ours = p2wpkhScript(signer.publicKey, keys.network).script;
    if (Buffer.compare(Buffer.from(spent.script), Buffer.from(ours)) !== 0) {
      throw new AgentError('WALLET_SIGN_FAILED', `input ${i} does not spend the wallet's script at ${keys.path}/${o.chain}/${o.index}; refusing to sign it`);
    }
    return { i, signer };
  });
  const validator = (pubkey: Uint8Array, msghash: Uint8Array, signature: Uint8Array): boolean => ecc.verify(msghash, pubkey, signature);
  for (const { i, signer } of plan) {
    try {
      // SIGHASH_ALL only: any other type (NONE, SINGLE, ANYONECANPAY) would let someone else change what the signature pays for.
      psbt.signInput(i, signer, [Transaction.SIGHASH_ALL]);
    } catch (e) {
      throw new AgentError('WALLET_SIGN_FAILED', `could not sign input ${i}: ${(e as Error).message}`);
    }
    let valid: boolean;
    try {
      valid = psbt.validateSignaturesOfInput(i, validator, signer.publicKey);
    } catch {
      valid = false;
    }
    if (!valid) throw new AgentError('WALLET_SIGN_FAILED', `the signature made for input ${i} does not verify`);
  }
  return psbt;
}

/**
 * Selects inputs, builds, signs and finalizes a transaction paying `outputs`, with change (if worth it) to
 * m/84'/coin'/0'/1/change.index.
 * @throws AgentError WALLET_BAD_ADDRESS for an output address not valid on the wallet's network
 * @throws AgentError WALLET_DUST for an output below its dust threshold (294 sat for P2WPKH)
 * @throws AgentError WALLET_INSUFFICIENT_FUNDS (details: neededSat, availableSat) when the UTXOs cannot pay outputs + fee
 * @throws AgentError WALLET_BAD_ARGUMENT for a malformed UTXO, fee rate, change index or empty output list
 * @throws AgentError WALLET_SIGN_FAILED if signing fails
 */
export function buildTransaction(keys: AccountKeys, params: BuildTransactionParams): BuiltTransaction {
  const network = keys.network;
  const rate = checkFeeRate(params.feeRateSatPerKvb);
  const utxos = checkUtxos(params.utxos);
  checkChainIndex(1, params.change?.index);
  const changeAddr = keys.address(1, params.change.index);
  const changeScript = Buffer.from(changeAddr.scriptHex, 'hex');

  if (!Array.isArray(params.outputs) || params.outputs.length === 0) throw new AgentError('WALLET_BAD_ARGUMENT', 'at least one output is needed');
  let outTotal = 0n;
  const outputs = params.outputs.map((o) => {
    const script = outputScriptFor(o.address, network);
    if (typeof o.valueSat !== 'bigint' || o.valueSat > MAX_SAT) throw new AgentError('WALLET_BAD_ARGUMENT', 'an output value must be a bigint no larger than 21e14 sat');
    const dust = dustThresholdSat(script);
    if (o.valueSat < dust) {
      throw new AgentError('WALLET_DUST', `${o.valueSat} sat to ${o.address} is below the dust limit of ${dust} sat for that kind of output`,
        { valueSat: Number(o.valueSat), dustSat: Number(dust) });
    }
    outTotal += o.valueSat;
    return { address: o.address, valueSat: o.valueSat, script };
  });
  if (outTotal > MAX_SAT) throw new AgentError('WALLET_BAD_ARGUMENT', 'the outputs add up to more bitcoin than can exist');
  const available = utxos.reduce((a, u) => a + u.valueSat, 0n);

  const selection = coinSelect(
    utxos.map((u) => ({ utxo: u, value: toCoinselectNumber(u.valueSat), script: COINSELECT_P2WPKH_INPUT })),
    outputs.map((o) => ({ target: o, value: toCoinselectNumber(o.valueSat), script: o.script })),
    rate.coinselectSatPerVb,
  );
  const insufficient = (neededSat: bigint): AgentError => new AgentError('WALLET_INSUFFICIENT_FUNDS',
    `the wallet has ${formatBtc(available)} BTC spendable but this payment needs about ${formatBtc(neededSat)} BTC with its fee`,
    { neededSat: Number(neededSat), availableSat: Number(available) });
  if (!selection.inputs || !selection.outputs) throw insufficient(outTotal + fromCoinselectNumber(Math.ceil(selection.fee)));

  const inputs = selection.inputs.map((s) => s.utxo);
  const inTotal = inputs.reduce((a, u) => a + u.valueSat, 0n);
  const wantsChange = selection.outputs.length > outputs.length; // coinselect appended `{ value }` for change

  // Exact fee and change from our own worst-case size (coinselect's estimate only chose the inputs).
  const scripts = outputs.map((o) => o.script);
  const feeWithoutChange = feeFor(estimateVsize(inputs.length, scripts), rate.perKvb);
  let changeSat = 0n;
  if (wantsChange) {
    const feeWithChange = feeFor(estimateVsize(inputs.length, [...scripts, changeScript]), rate.perKvb);
    const remainder = inTotal - outTotal - feeWithChange;
    // Change below the dust limit would be refused by relays and cost more to spend than it holds: it goes to the fee.
    if (remainder >= P2WPKH_DUST_SAT) changeSat = remainder;
  }
  const feeSat = inTotal - outTotal - changeSat;
  if (feeSat < feeWithoutChange) throw insufficient(outTotal + feeWithoutChange); // cannot happen if coinselect's estimate is conservative

  const psbt = new Psbt({ network: bitcoinNetwork(network) });
  psbt.setVersion(2);
  // A net against an order-of-magnitude mistake; the real bound is MAX_FEE_RATE_SAT_PER_KVB, checked above
  // (doubled here because dust dropped into the fee and shorter real signatures raise the rate a little).
  psbt.setMaximumFeeRate(Number(MAX_FEE_RATE_SAT_PER_KVB / 1000n) * 2);
  for (const u of inputs) {
    const script = Buffer.from(keys.address(u.chain, u.index).scriptHex, 'hex');
    psbt.addInput({ hash: u.txid, index: u.vout, sequence: RBF_SEQUENCE, witnessUtxo: { script, value: u.valueSat } });
  }
  const txOutputs = outputs.map((o) => ({ address: o.address, valueSat: o.valueSat, change: false }));
  for (const o of outputs) psbt.addOutput({ script: o.script, value: o.valueSat });
  if (changeSat > 0n) {
    psbt.addOutput({ script: changeScript, value: changeSat });
    txOutputs.push({ address: changeAddr.address, valueSat: changeSat, change: true });
  }
  signOwnedInputs(keys, psbt, inputs.map((u, inputIndex) => ({ inputIndex, chain: u.chain, index: u.index })));
  psbt.finalizeAllInputs();
  let tx: Transaction;
  try {
    tx = psbt.extractTransaction();
  } catch (e) {
    throw new AgentError('INTERNAL', `the built transaction failed bitcoinjs-lib's final check: ${(e as Error).message}`);
  }
  return { hex: tx.toHex(), txid: tx.getId(), feeSat, vsize: tx.virtualSize(), changeSat, inputs, outputs: txOutputs };
}

/** True when `address` is a valid address on `network` (one for another network, or malformed, is not). */
export function isAddressFor(address: string, network: WalletNetwork): boolean {
  try {
    outputScriptFor(address, network);
    return true;
  } catch {
    return false;
  }
}

/**
 * The fee for a transaction that spends `inputs` P2WPKH coins to `to`, counted as if it also had a P2WPKH change
 * output: an upper bound on what buildTransaction charges for the same inputs and one output, so paying
 * `coins - sweepFeeSat(...)` is always affordable, and the little left over (one output's fee, below the dust
 * limit at ordinary rates) goes to the fee rather than to change.
 * @throws AgentError WALLET_BAD_ADDRESS for an address not on `network`
 */
export function sweepFeeSat(inputs: number, to: string, network: WalletNetwork, feeRateSatPerKvb: bigint): bigint {
  const changeSized = new Uint8Array(22); // OP_0 <20-byte key hash>: a P2WPKH output script
  return feeFor(estimateVsize(inputs, [outputScriptFor(to, network), changeSized]), feeRateSatPerKvb);
}
