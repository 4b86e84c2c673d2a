/**
 * The devnet's only door: an embedded regtest chain (bcoin) behind an Esplora-compatible HTTP
 * facade, for `npm start` and for the tests. `Devnet.start()` runs one in this process;
 * `ensureDevnetProcess()` runs one as its own process, so the chain outlives an agent restart.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
export { Devnet } from './devnet.ts';
export { ensureDevnetProcess, stopDevnetProcess, readDevnetInfo } from './process.ts';
// The local cloud: a hosting provider on loopback paid on the devnet chain (docs/local-cloud.md), as its own process.
// The agent starts it beside the devnet (src/agent/local-cloud.ts) and moves its clock with its own.
export { advanceCloudClock, ensureCloudProcess, stopCloudProcess, readCloudInfo } from './cloud/process.ts';
export { openCloud, type OpenCloud } from './cloud/run.ts';
// The rest of the cloud's door, which nothing outside the devnet imports yet: tagged for knip until then.
/** @public */
export type { CloudProcessInfo, EnsureCloudOptions } from './cloud/process.ts';
/** @public */
export { DEFAULT_CLOUD_PORT, type OpenCloudOptions } from './cloud/run.ts';
