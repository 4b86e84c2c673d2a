/**
 * The investors' path, the family module's only door: signed proposals with a fresh deposit address each,
 * deposits credited to the proposal's own ledger account, the states a proposal moves through with their history,
 * credentials sealed by wallet/, evaluation, and refunds on chain.
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';

export { FAMILY_SCHEMA } from './schema.ts';
export { Family } from './family.ts';
export { familyRoutes } from './routes.ts';
export { sandboxEvaluator, staticEvaluator, type Evaluator } from './evaluation.ts';
export { parseSpawnFile, renderUserData, type SpawnSpec } from './user-data.ts';
export type { ReproductionParts } from './types.ts';
export { runBattery } from './battery.ts';
