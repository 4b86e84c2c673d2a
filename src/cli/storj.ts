#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --expose-gc --max-semi-space-size=2 --initial-old-space-size=40 --v8-pool-size=1 --bytecode-old-age=1 --flush-baseline-code
/**
 * The `storj` command. Operator: init, run, wallet, config (commands/operator.ts). Customer: upload, download,
 * status, topup (commands/customer.ts). Investor: propose, proposal, proposals (commands/investor.ts). Family:
 * family (commands/family.ts). Devnet: dev advance, dev mine, dev pay (commands/dev.ts). Every failure,
 * commander's refusals of bad arguments included, prints `error CODE: message` on stderr and exits non-zero
 * (render/errors.ts).
 */
// Its error codes, in the catalogue from the moment the module loads.
import './errors.ts';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../config/index.ts';
import { registerCustomerCommands } from './commands/customer.ts';
import { registerDevCommands } from './commands/dev.ts';
import { registerFamilyCommands } from './commands/family.ts';
import { registerInvestorCommands } from './commands/investor.ts';
import { registerOperatorCommands } from './commands/operator.ts';
import { reportError } from './render/errors.ts';

const program = new Command();
program
  .name('storj')
  .description('storj-agent: an autonomous pay-per-use file host paid in bitcoin')
  .version(VERSION)
  .option('-d, --data-dir <dir>', 'data directory (or STORJ_DATA_DIR)')
  .option('--json', 'print machine-readable JSON')
  // commander would print its own "error: ..." and exit; instead it throws, and the one report below prints the
  // line every failure prints. Subcommands inherit both settings from here, so they come before any command.
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

const json = () => program.opts<{ json?: boolean }>().json === true;
registerOperatorCommands(program);
registerCustomerCommands(program, { json });
registerInvestorCommands(program, { json, dataDir: () => program.opts<{ dataDir?: string }>().dataDir });
registerFamilyCommands(program, { json });
registerDevCommands(program, { json });

const fail = (e: unknown) => {
  reportError(e, json());
  process.exitCode = 1;
};
// A failure outside a command's promise (a stream's late error, say) ends the same way, not with a bare stack.
process.on('uncaughtException', (e) => {
  fail(e);
  process.exit(1);
});

program.parseAsync(process.argv).catch((e: unknown) => {
  // --help and --version end by throwing too, with exit code 0 and their text already printed.
  if (e instanceof CommanderError && e.exitCode === 0) return;
  fail(e);
});
