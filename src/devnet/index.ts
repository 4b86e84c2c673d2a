/**
 * The devnet's only door: an embedded regtest chain (bcoin) behind an Esplora-compatible HTTP
 * facade, for `npm start` and for the tests. `Devnet.start()` runs one in this process;
 * `ensureDevnetProcess()` runs one as its own process, so the chain outlives an agent restart.
 */
export { Devnet } from './devnet.ts';
export type { DevnetStartOptions } from './devnet.ts';
export type { DevnetControl } from './control.ts';
export { ensureDevnetProcess, stopDevnetProcess, readDevnetInfo } from './process.ts';
export type { DevnetProcessInfo } from './process.ts';
export { FAUCET_FEE_RATE_SAT_PER_VB } from './faucet.ts';
