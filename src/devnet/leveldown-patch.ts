import type bcoin from 'bcoin';

/**
 * bdb 0.2 (bcoin's database layer) passes unset range bounds as `null` (`{gte: null, lte: null, ...}`),
 * which the leveldown 4 it was written for ignored. leveldown 6.1.1 (the version that builds on
 * Node 20) reads a null bound as a key, so every range scan on disk comes back empty: the address
 * index (the faucet's coins, /address/* answers) and the saved mempool would silently vanish.
 * Drop the unset bounds before they reach leveldown. In memory bdb uses its own backend, which is fine.
 */
export function patchIterator(db: bcoin.BDB): void {
  const binding = db.binding;
  const iterator = binding.iterator.bind(binding);
  binding.iterator = (options) => iterator(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null && v !== undefined)));
}
