// Coin selection, transaction building and PSBT signing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { address, networks, payments, Psbt, Transaction } from 'bitcoinjs-lib';
import * as ecc from 'tiny-secp256k1';
import { Wallet, dustThresholdSat, P2WPKH_INPUT_VBYTES } from '../../wallet/index.ts';
import type { WalletUtxo } from '../../wallet/index.ts';
import { bip32 } from '../../wallet/keys.ts';
import { estimateVsize, feeFor, outputScriptFor, RBF_SEQUENCE } from '../../wallet/tx.ts';
import { rejectsWith } from '../helpers/errors.ts';

const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OTHER = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
const w = Wallet.fromMnemonic({ mnemonic: ABANDON, network: 'regtest' });
const stranger = Wallet.fromMnemonic({ mnemonic: OTHER, network: 'regtest' });
const PAYEE = stranger.deriveAddress(0, 0).address;

function utxo(n: number, valueSat: bigint, chain: 0 | 1 = 0, index = n): WalletUtxo {
  return { txid: n.toString(16).padStart(2, '0').repeat(32), vout: n % 3, valueSat, chain, index };
}

/** Checks every input's BIP143 signature against the wallet's key, independently of bitcoinjs' Psbt. */
function assertSignedByWallet(hex: string, inputs: WalletUtxo[]): Transaction {
  const tx = Transaction.fromHex(hex);
  assert.equal(tx.ins.length, inputs.length);
  tx.ins.forEach((input, i) => {
    const u = inputs[i]!;
    assert.equal(Buffer.from(input.hash).reverse().toString('hex'), u.txid, 'outpoint txid');
    assert.equal(input.index, u.vout);
    assert.equal(input.sequence, RBF_SEQUENCE);
    const [sig, pubkey] = input.witness;
    assert.ok(sig && pubkey, 'P2WPKH witness: <sig> <pubkey>');
    const p2wpkh = payments.p2wpkh({ pubkey });
    assert.equal(Buffer.from(p2wpkh.output!).toString('hex'), w.deriveAddress(u.chain, u.index).scriptHex, 'the key is the one at the UTXO\'s path');
    const scriptCode = payments.p2pkh({ hash: p2wpkh.hash! }).output!; // BIP143 scriptCode for P2WPKH
    assert.equal(sig[sig.length - 1], Transaction.SIGHASH_ALL);
    const hash = tx.hashForWitnessV0(i, scriptCode, u.valueSat, Transaction.SIGHASH_ALL);
    const der = sig.subarray(0, sig.length - 1);
    assert.ok(ecc.verify(hash, pubkey, derToCompact(der)), `signature of input ${i}`);
  });
  return tx;
}

function derToCompact(der: Uint8Array): Uint8Array {
  // 0x30 len 0x02 rlen r 0x02 slen s
  const rlen = der[3]!;
  const r = der.subarray(4, 4 + rlen);
  const slen = der[5 + rlen]!;
  const s = der.subarray(6 + rlen, 6 + rlen + slen);
  const out = new Uint8Array(64);
  out.set(r.subarray(Math.max(0, r.length - 32)), 32 - Math.min(32, r.length));
  out.set(s.subarray(Math.max(0, s.length - 32)), 64 - Math.min(32, s.length));
  return out;
}

test('dust thresholds follow Bitcoin Core\'s GetDustThreshold at 3 sat/vB', () => {
  const hash20 = new Uint8Array(20).fill(7);
  const hash32 = new Uint8Array(32).fill(9);
  const xOnly = bip32.fromBase58(stranger.accountXpub(), networks.regtest).publicKey.subarray(1); // a valid x-only key
  const cases: Array<[string, string, bigint]> = [
    ['P2WPKH', w.deriveAddress(0, 0).address, 294n],
    ['P2WSH', payments.p2wsh({ hash: hash32, network: networks.regtest }).address!, 330n],
    ['P2TR', address.toBech32(xOnly, 1, 'bcrt'), 330n],
    ['P2PKH', payments.p2pkh({ hash: hash20, network: networks.regtest }).address!, 546n],
    ['P2SH', payments.p2sh({ hash: hash20, network: networks.regtest }).address!, 540n],
  ];
  for (const [kind, addr, dust] of cases) assert.equal(dustThresholdSat(outputScriptFor(addr, 'regtest')), dust, kind);
});

test('estimateVsize is the exact worst-case BIP141 size of a P2WPKH spend', () => {
  const p2wpkh = Buffer.from(w.deriveAddress(0, 0).scriptHex, 'hex');
  // 1 in, 1 out: base 4+1+41+1+31+4 = 82, weight 4*82 + 2 + 108 = 438 -> 110 vB (109.5 rounded up)
  assert.equal(estimateVsize(1, [p2wpkh]), 110);
  // 1 in, 2 out: base 113, weight 452 + 110 = 562 -> 141
  assert.equal(estimateVsize(1, [p2wpkh, p2wpkh]), 141);
  // each extra input: 41 base + 108 witness = 272 WU = 68 vB
  assert.equal(P2WPKH_INPUT_VBYTES, 68);
  assert.equal(estimateVsize(3, [p2wpkh, p2wpkh]), 141 + 2 * P2WPKH_INPUT_VBYTES);
});

test('buildTransaction with change: amounts balance, the change goes to m/84\'/1\'/0\'/1/i, signatures verify', () => {
  const inputs = [utxo(1, 100_000n)];
  const built = w.buildTransaction({ utxos: inputs, outputs: [{ address: PAYEE, valueSat: 30_000n }], feeRateSatPerKvb: 2_000n, change: { index: 4 } });
  assert.equal(built.outputs.length, 2);
  assert.deepEqual(built.outputs[0], { address: PAYEE, valueSat: 30_000n, change: false });
  assert.deepEqual(built.outputs[1], { address: w.deriveAddress(1, 4).address, valueSat: built.changeSat, change: true });
  assert.ok(built.changeSat > 60_000n);
  assert.equal(30_000n + built.changeSat + built.feeSat, 100_000n);
  const tx = assertSignedByWallet(built.hex, built.inputs);
  assert.equal(tx.getId(), built.txid);
  assert.equal(tx.version, 2);
  assert.equal(tx.virtualSize(), built.vsize);
  assert.equal(tx.outs[1]!.value, built.changeSat);
  // fee: the exact rate on the worst-case size, which is at most 1 vB above the real size
  assert.equal(built.feeSat, feeFor(estimateVsize(1, [tx.outs[0]!.script, tx.outs[1]!.script]), 2_000n));
  assert.ok(built.feeSat >= (BigInt(built.vsize) * 2_000n) / 1000n);
  assert.ok(built.vsize <= estimateVsize(1, [tx.outs[0]!.script, tx.outs[1]!.script]));
});

test('buildTransaction without change: a remainder below dust goes to the fee', () => {
  // 1 sat/vB; the 1-in 2-out size is 141 vB, so paying 100000 - 141 - 250 leaves 250 sat of change: below 294, dropped.
  const built = w.buildTransaction({ utxos: [utxo(2, 100_000n)], outputs: [{ address: PAYEE, valueSat: 99_609n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } });
  assert.equal(built.changeSat, 0n);
  assert.equal(built.outputs.length, 1);
  assert.equal(built.feeSat, 391n);
  const tx = assertSignedByWallet(built.hex, built.inputs);
  assert.equal(tx.outs.length, 1);
  assert.equal(tx.outs[0]!.value, 99_609n);
});

test('buildTransaction without change: an exact payment leaves no change output', () => {
  // 1-in 1-out is 110 vB at 1 sat/vB
  const built = w.buildTransaction({ utxos: [utxo(3, 50_000n)], outputs: [{ address: PAYEE, valueSat: 49_890n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } });
  assert.equal(built.changeSat, 0n);
  assert.equal(built.feeSat, 110n);
  assertSignedByWallet(built.hex, built.inputs);
});

test('buildTransaction picks several inputs when needed and only those it needs', () => {
  const utxos = [utxo(1, 20_000n), utxo(2, 30_000n, 1, 2), utxo(3, 25_000n), utxo(4, 1_000_000n)];
  const small = w.buildTransaction({ utxos, outputs: [{ address: PAYEE, valueSat: 10_000n }], feeRateSatPerKvb: 1_000n, change: { index: 1 } });
  assert.equal(small.inputs.length, 1);
  const big = w.buildTransaction({ utxos: utxos.slice(0, 3), outputs: [{ address: PAYEE, valueSat: 60_000n }], feeRateSatPerKvb: 1_000n, change: { index: 1 } });
  assert.equal(big.inputs.length, 3);
  assert.ok(big.inputs.some((u) => u.chain === 1), 'a change UTXO is signed with the change chain key');
  const total = big.inputs.reduce((a, u) => a + u.valueSat, 0n);
  assert.equal(total, 60_000n + big.changeSat + big.feeSat);
  assertSignedByWallet(big.hex, big.inputs);
});

test('coin selection\'s size model is never below the real size: a payment one sat short of one input takes two', () => {
  // 1-in 1-out costs 110 sat at 1 sat/vB, so 49891 + 110 = 50001 does not fit in the 50000 input alone.
  const built = w.buildTransaction({ utxos: [utxo(1, 50_000n), utxo(2, 10_000n)], outputs: [{ address: PAYEE, valueSat: 49_891n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } });
  assert.equal(built.inputs.length, 2);
  assertSignedByWallet(built.hex, built.inputs);
  // and one sat less fits exactly in one input with no change
  const exact = w.buildTransaction({ utxos: [utxo(1, 50_000n), utxo(2, 10_000n)], outputs: [{ address: PAYEE, valueSat: 49_890n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } });
  assert.equal(exact.inputs.length, 1);
  assert.equal(exact.feeSat, 110n);
});

test('a fractional fee rate is honoured: 1500 sat/kvB pays 1.5 sat/vB on the worst-case size, rounded up', () => {
  const built = w.buildTransaction({ utxos: [utxo(5, 100_000n)], outputs: [{ address: PAYEE, valueSat: 40_000n }], feeRateSatPerKvb: 1_500n, change: { index: 0 } });
  assert.equal(built.feeSat, 212n); // ceil(141 * 1.5) = ceil(211.5)
});

test('insufficient funds: WALLET_INSUFFICIENT_FUNDS with neededSat and availableSat', async () => {
  const err = await rejectsWith(() => w.buildTransaction({ utxos: [utxo(1, 10_000n), utxo(2, 5_000n)], outputs: [{ address: PAYEE, valueSat: 15_000n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_INSUFFICIENT_FUNDS');
  assert.equal(err.details?.availableSat, 15_000);
  assert.ok((err.details?.neededSat as number) > 15_000);
  await rejectsWith(() => w.buildTransaction({ utxos: [], outputs: [{ address: PAYEE, valueSat: 1_000n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_INSUFFICIENT_FUNDS');
});

test('dust outputs are refused with WALLET_DUST; the limit itself is allowed', async () => {
  const err = await rejectsWith(() => w.buildTransaction({ utxos: [utxo(1, 100_000n)], outputs: [{ address: PAYEE, valueSat: 293n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_DUST');
  assert.equal(err.details?.dustSat, 294);
  const ok = w.buildTransaction({ utxos: [utxo(1, 100_000n)], outputs: [{ address: PAYEE, valueSat: 294n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } });
  assert.equal(ok.outputs[0]!.valueSat, 294n);
  await rejectsWith(() => w.buildTransaction({ utxos: [utxo(1, 100_000n)], outputs: [{ address: 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn', valueSat: 545n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_DUST');
});

test('addresses of another network or malformed are WALLET_BAD_ADDRESS', async () => {
  const mainnet = Wallet.fromMnemonic({ mnemonic: OTHER, network: 'mainnet' }).deriveAddress(0, 0).address;
  const testnet = Wallet.fromMnemonic({ mnemonic: OTHER, network: 'testnet' }).deriveAddress(0, 0).address;
  for (const address of [mainnet, testnet, 'bcrt1qnotanaddress', '', PAYEE.slice(0, -1) + (PAYEE.endsWith('q') ? 'p' : 'q')]) {
    await rejectsWith(() => w.buildTransaction({ utxos: [utxo(1, 100_000n)], outputs: [{ address, valueSat: 10_000n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_BAD_ADDRESS');
  }
  const main = Wallet.fromMnemonic({ mnemonic: ABANDON, network: 'mainnet' });
  await rejectsWith(() => main.buildTransaction({ utxos: [utxo(1, 100_000n)], outputs: [{ address: PAYEE, valueSat: 10_000n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } }), 'WALLET_BAD_ADDRESS');
});

test('bad arguments: fee rate out of bounds, malformed or duplicated UTXOs, no outputs, bad indices', async () => {
  const base = { utxos: [utxo(1, 100_000n)], outputs: [{ address: PAYEE, valueSat: 10_000n }], feeRateSatPerKvb: 1_000n, change: { index: 0 } };
  await rejectsWith(() => w.buildTransaction({ ...base, feeRateSatPerKvb: 0n }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, feeRateSatPerKvb: 5_000_001n }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, feeRateSatPerKvb: 1.5 as unknown as bigint }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, utxos: [utxo(1, 100_000n), utxo(1, 100_000n)] }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, utxos: [{ ...utxo(1, 100_000n), txid: 'zz' }] }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, utxos: [{ ...utxo(1, 100_000n), valueSat: 100_000 as unknown as bigint }] }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, utxos: [{ ...utxo(1, 100_000n), chain: 2 as 0 }] }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, outputs: [] }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.buildTransaction({ ...base, change: { index: -1 } }), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.deriveAddress(0, 2 ** 31), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.deriveAddress(0, 1.5), 'WALLET_BAD_ARGUMENT');
  await rejectsWith(() => w.deriveAddress(2 as 0, 0), 'WALLET_BAD_ARGUMENT');
});

/** A PSBT with input 0 spending the wallet's 0/3 and input 1 spending a stranger's 0/0. */
function mixedPsbt(): Psbt {
  const psbt = new Psbt({ network: networks.regtest });
  psbt.addInput({ hash: 'aa'.repeat(32), index: 0, witnessUtxo: { script: Buffer.from(w.deriveAddress(0, 3).scriptHex, 'hex'), value: 50_000n } });
  psbt.addInput({ hash: 'bb'.repeat(32), index: 1, witnessUtxo: { script: Buffer.from(stranger.deriveAddress(0, 0).scriptHex, 'hex'), value: 70_000n } });
  psbt.addOutput({ address: PAYEE, value: 119_000n });
  return psbt;
}
const validator = (pubkey: Uint8Array, msghash: Uint8Array, signature: Uint8Array): boolean => ecc.verify(msghash, pubkey, signature);

test('signPsbt signs its own input and leaves a foreign input unsigned', () => {
  const psbt = mixedPsbt();
  const out = w.signPsbt(psbt, [{ inputIndex: 0, chain: 0, index: 3 }]);
  assert.equal(out, psbt);
  assert.equal(psbt.data.inputs[0]!.partialSig?.length, 1);
  assert.equal(psbt.data.inputs[1]!.partialSig, undefined);
  assert.ok(psbt.validateSignaturesOfInput(0, validator));
  assert.throws(() => psbt.validateSignaturesOfAllInputs(validator), /No signatures/);
  // once the other party signs its input, the whole transaction verifies and finalizes
  stranger.signPsbt(psbt, [{ inputIndex: 1, chain: 0, index: 0 }]);
  assert.ok(psbt.validateSignaturesOfAllInputs(validator));
  psbt.finalizeAllInputs();
  assert.equal(psbt.extractTransaction().ins.length, 2);
});

test('signPsbt refuses an input whose script is not ours, and signs nothing when it refuses', async () => {
  const psbt = mixedPsbt();
  const err = await rejectsWith(() => w.signPsbt(psbt, [{ inputIndex: 0, chain: 0, index: 3 }, { inputIndex: 1, chain: 0, index: 0 }]), 'WALLET_SIGN_FAILED');
  assert.match(err.message, /input 1 does not spend the wallet's script/);
  assert.equal(psbt.data.inputs[0]!.partialSig, undefined, 'the checks come before any signature');
  assert.equal(psbt.data.inputs[1]!.partialSig, undefined);
  // our own input claimed with the wrong path is refused too
  await rejectsWith(() => w.signPsbt(mixedPsbt(), [{ inputIndex: 0, chain: 0, index: 4 }]), 'WALLET_SIGN_FAILED');
  await rejectsWith(() => w.signPsbt(mixedPsbt(), [{ inputIndex: 0, chain: 1, index: 3 }]), 'WALLET_SIGN_FAILED');
});

test('signPsbt refuses missing inputs, duplicates, inputs without witnessUtxo and non-ALL sighash types', async () => {
  await rejectsWith(() => w.signPsbt(mixedPsbt(), [{ inputIndex: 2, chain: 0, index: 3 }]), 'WALLET_SIGN_FAILED');
  await rejectsWith(() => w.signPsbt(mixedPsbt(), [{ inputIndex: 0, chain: 0, index: 3 }, { inputIndex: 0, chain: 0, index: 3 }]), 'WALLET_SIGN_FAILED');
  const bare = new Psbt();
  bare.addInput({ hash: 'cc'.repeat(32), index: 0 });
  bare.addOutput({ address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', value: 1_000n });
  await rejectsWith(() => w.signPsbt(bare, [{ inputIndex: 0, chain: 0, index: 0 }]), 'WALLET_SIGN_FAILED');
  const none = mixedPsbt();
  none.updateInput(0, { sighashType: Transaction.SIGHASH_NONE });
  await rejectsWith(() => w.signPsbt(none, [{ inputIndex: 0, chain: 0, index: 3 }]), 'WALLET_SIGN_FAILED');
  assert.equal(none.data.inputs[0]!.partialSig, undefined);
});

test('a PSBT of the wallet\'s own inputs signed by signPsbt passes validateSignaturesOfAllInputs and extracts', () => {
  const psbt = new Psbt({ network: networks.regtest });
  const owned = [[0, 10], [1, 2], [0, 11]] as const;
  owned.forEach(([chain, index], i) => {
    psbt.addInput({ hash: `${i}${i}`.repeat(32), index: i, witnessUtxo: { script: Buffer.from(w.deriveAddress(chain, index).scriptHex, 'hex'), value: 20_000n } });
  });
  psbt.addOutput({ address: PAYEE, value: 59_000n });
  w.signPsbt(psbt, owned.map(([chain, index], inputIndex) => ({ inputIndex, chain, index })));
  assert.ok(psbt.validateSignaturesOfAllInputs(validator));
  psbt.finalizeAllInputs();
  const tx = psbt.extractTransaction();
  assert.equal(psbt.getFee(), 1_000n);
  assert.equal(tx.ins.length, 3);
});
