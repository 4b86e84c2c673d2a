/**
 * The devnet's only door: an embedded regtest chain (bcoin) behind an Esplora-compatible HTTP
 * facade, for `npm start` and for the tests. `Devnet.start()` runs one in this process;
 * `ensureDevnetProcess()` runs one as its own process, so the chain outlives an agent restart.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export { Devnet } from './devnet.ts';
export { ensureDevnetProcess, stopDevnetProcess, readDevnetInfo } from './process.ts';
export { ensureCloudProcess, stopCloudProcess, readCloudInfo, type CloudProcessInfo, type EnsureCloudOptions } from './cloud/process.ts';
export { openCloud, DEFAULT_CLOUD_PORT, type OpenCloud, type OpenCloudOptions } from './cloud/run.ts';
