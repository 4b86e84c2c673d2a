/**
 * The modules whose tables make up the agent's database, in the order their migrations are applied: a
 * module's migrations may rely on the tables of the modules above it (a foreign key to the treasury's address
 * book, say), never on those below. A new module with tables adds its schema here, at the end.
 */
import { openDb, type Db, type ModuleSchema, type OpenOptions } from '../db/index.ts';
import type { FastPath, RoutePlugin } from '../http/index.ts';
import type { Job } from '../scheduler/index.ts';
import { TREASURY_SCHEMA } from '../treasury/index.ts';
import { CHAIN_SCHEMA } from '../chain/index.ts';
import { HOST_SCHEMA } from '../host/index.ts';
import { LEDGER_SCHEMA } from '../ledger/index.ts';
import { SCHEDULER_SCHEMA } from '../scheduler/index.ts';
import { FAMILY_SCHEMA } from '../family/index.ts';

export const SCHEMAS: readonly ModuleSchema[] = [TREASURY_SCHEMA, CHAIN_SCHEMA, HOST_SCHEMA, LEDGER_SCHEMA, SCHEDULER_SCHEMA, FAMILY_SCHEMA];

/** Opens the agent's database at `path` with every module's tables, migrated (src/db/migrations.ts). */
export function openAgentDb(path: string, opts: OpenOptions = {}): Db {
  return openDb(path, SCHEMAS, opts);
}

/**
 * What a built module hands the composition root: its routes for the server (and a fast path tried before them),
 * its jobs for the scheduler.
 */
export interface ModuleParts {
  readonly name: string;
  readonly routes?: RoutePlugin;
  readonly fastPath?: FastPath;
  readonly jobs?: readonly Job[];
}
