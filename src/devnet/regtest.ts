/**
 * What every part of the regtest node shares: bcoin's regtest network with Bitcoin Core's address
 * prefixes, the handles on bcoin's chain, mempool and branch miner, and small conversions.
 *
 * Hashes cross the node's edge in display order (txid/block hash as explorers show them); inside,
 * bcoin uses the reversed internal order.
 */
import bcoin from 'bcoin';

export const REGTEST = bcoin.Network.get('regtest');
// bcoin 1.0.2 ships its own regtest prefixes (bech32 "rb"); Bitcoin Core's are 111/196/"bcrt".
// Set them before any chain exists so addresses agree with bitcoinjs-lib's networks.regtest.
REGTEST.addressPrefix = { ...REGTEST.addressPrefix, pubkeyhash: 111, scripthash: 196, bech32: 'bcrt' };

/** The bcoin objects the node's parts (faucet, broadcast, reorg, queries) work on; the node holds the lock around every use. */
export interface NodeParts {
  readonly chain: bcoin.Chain;
  readonly mempool: bcoin.Mempool;
  /** A miner without a mempool, for competing branches whose blocks must hold only what reorg() puts in them. */
  readonly branchMiner: bcoin.Miner;
  readonly ring: bcoin.KeyRing;
  readonly faucetAddr: bcoin.Address;
  readonly faucetScript: Buffer;
}

/** Display order to bcoin's internal order of a hash, and back. */
export const rev = (hex: string): string => bcoin.util.revHex(hex);

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** bcoin indexes outputs by address hash; any script it cannot turn into an address is not indexed. */
export function addressForScript(script: Buffer): bcoin.Address | null {
  try {
    return bcoin.Address.fromScript(bcoin.Script.fromRaw(script));
  } catch {
    return null;
  }
}
