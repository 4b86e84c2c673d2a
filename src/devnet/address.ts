/**
 * Regtest address <-> output script, esplora's script types and Core's dust rule. bitcoinjs-lib
 * does the encoding (bcoin 1.0.2 predates bech32m); witness programs are built by hand so that no
 * secp256k1 library is needed (bitcoinjs-lib wants one to validate taproot keys, which an explorer
 * does not do: it shows whatever program the output holds).
 */
import { address as bjsAddress, networks } from 'bitcoinjs-lib';
import { AgentError } from '../errors/index.ts';

const NET = networks.regtest;

/**
 * The output script an address stands for.
 * @throws AgentError WALLET_BAD_ADDRESS when it is not a regtest address.
 */
export function addressToScript(addr: string): Buffer {
  const bad = (): AgentError => new AgentError('WALLET_BAD_ADDRESS', `"${addr.slice(0, 100)}" is not a regtest address`);
  if (addr.length === 0 || addr.length > 100) throw bad();
  if (/^bcrt1/i.test(addr)) {
    let decoded: { version: number; prefix: string; data: Uint8Array };
    try {
      decoded = bjsAddress.fromBech32(addr);
    } catch {
      throw bad();
    }
    const { version, prefix, data } = decoded;
    if (prefix !== NET.bech32 || version > 16 || data.length < 2 || data.length > 40) throw bad();
    if (version === 0 && data.length !== 20 && data.length !== 32) throw bad(); // BIP141
    // OP_0 is 0x00, OP_1..OP_16 are 0x51..0x60 (BIP141 / BIP350)
    return Buffer.concat([Buffer.from([version === 0 ? 0 : 0x50 + version, data.length]), data]);
  }
  try {
    return Buffer.from(bjsAddress.toOutputScript(addr, NET));
  } catch {
    throw bad();
  }
}

/** The regtest address of an output script, or undefined (OP_RETURN, bare multisig, non-standard). */
export function scriptToAddress(script: Buffer): string | undefined {
  const program = witnessProgram(script);
  if (program) return bjsAddress.toBech32(program.data, program.version, NET.bech32);
  try {
    return bjsAddress.fromOutputScript(script, NET);
  } catch {
    return undefined;
  }
}

function witnessProgram(script: Buffer): { version: number; data: Buffer } | undefined {
  const op = script[0];
  const len = script[1];
  if (op === undefined || len === undefined || script.length !== len + 2 || len < 2 || len > 40) return undefined;
  if (op === 0) return len === 20 || len === 32 ? { version: 0, data: script.subarray(2) } : undefined;
  if (op >= 0x51 && op <= 0x60) return { version: op - 0x50, data: script.subarray(2) };
  return undefined;
}

/** Esplora's `scriptpubkey_type` names (electrs `ScriptType`). */
export function scriptType(script: Buffer): string {
  const hex = script.toString('hex');
  if (/^76a914[0-9a-f]{40}88ac$/.test(hex)) return 'p2pkh';
  if (/^a914[0-9a-f]{40}87$/.test(hex)) return 'p2sh';
  if (/^0014[0-9a-f]{40}$/.test(hex)) return 'v0_p2wpkh';
  if (/^0020[0-9a-f]{64}$/.test(hex)) return 'v0_p2wsh';
  if (/^5120[0-9a-f]{64}$/.test(hex)) return 'v1_p2tr';
  if (script[0] === 0x6a) return 'op_return';
  if (/^(21[0-9a-f]{66}|41[0-9a-f]{130})ac$/.test(hex)) return 'p2pk';
  if (/ae$/.test(hex) && script[0] !== undefined && script[0] >= 0x51 && script[0] <= 0x60) return 'multisig';
  return 'unknown';
}

/**
 * Bitcoin Core's dust threshold (policy.cpp GetDustThreshold at the default dustrelayfee of
 * 3000 sat/kvB): an output is dust when spending it would cost more than it is worth.
 * P2PKH 546, P2WPKH 294, P2TR/P2WSH 330; an OP_RETURN output is never dust.
 */
export function dustThreshold(script: Buffer): bigint {
  if (script[0] === 0x6a) return 0n;
  const varint = script.length < 0xfd ? 1 : 3;
  const outputSize = 8 + varint + script.length;
  // spending input: outpoint 36 + sequence 4 + script length 1, plus a 107-byte signature+key,
  // which a witness program pays at a quarter of the weight (integer division, as Core)
  const inputSize = witnessProgram(script) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt((outputSize + inputSize) * 3);
}
