/**
 * The image's shell: the one form of `sh -c` it runs, `set -e; cmd; cmd; ...`, simple commands split on
 * spaces, with no quoting, pipes, redirections, variables or globs. A line it cannot read is refused whole,
 * before anything runs; a command that fails stops the rest (that is what `set -e` says).
 */
import { runCommand } from './commands.ts';
import type { ShellContext } from './shell-context.ts';

/** Characters with a meaning in a real shell that this one does not give them: a line holding one is refused. */
const SHELL_SYNTAX = /[|&$`'"<>(){}\\*?!~#\n]/;

class ShellError extends Error {}

/** Whether a runcmd item is a `sh -c SCRIPT` line (the image's shell runs it). */
export function isShellLine(argv: readonly string[]): boolean {
  return (argv[0] === 'sh' || argv[0] === '/bin/sh') && argv[1] === '-c';
}

/**
 * The commands of a `sh -c` item, each as its words.
 * @throws ShellError for any other form: more arguments, no leading `set -e`, shell syntax
 */
function parseShellLine(argv: readonly string[]): string[][] {
  if (argv.length !== 3) throw new ShellError('the image runs `sh -c SCRIPT` with one script and no other arguments');
  const script = argv[2]!;
  const bad = SHELL_SYNTAX.exec(script);
  if (bad) throw new ShellError(`the image's shell runs simple commands only, and ${JSON.stringify(bad[0])} is not one`);
  const commands = script
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((c) => c.split(/\s+/));
  if (commands[0]?.join(' ') !== 'set -e') throw new ShellError('the image runs `sh -c "set -e; ..."` lines only');
  return commands.slice(1);
}

/**
 * Runs a `sh -c` item: each command in turn, logged as it ran, was skipped or failed.
 * @throws Error from the first command that fails (set -e), or the parse
 */
export async function runShellLine(argv: readonly string[], ctx: ShellContext): Promise<void> {
  let commands: string[][];
  try {
    commands = parseShellLine(argv);
  } catch (e) {
    ctx.log(`failed: sh -c: ${(e as Error).message}`);
    throw e;
  }
  for (const words of commands) {
    const text = words.join(' ');
    try {
      const skipped = await runCommand(words, ctx);
      ctx.log(skipped === undefined ? `ran: ${text}` : `skipped: ${text} (${skipped})`);
    } catch (e) {
      ctx.log(`failed: ${text}: ${(e as Error).message}`);
      throw new Error(`${text}: ${(e as Error).message}`, { cause: e });
    }
  }
}
