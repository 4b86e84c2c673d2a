// Runs the `storj` command as its own process, from the sources under tsx, as a user would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { errorDefinition } from '../../src/errors/index.ts';
// The CLI's own codes join the catalogue with its entry point, which these tests run as a process of its own.
import '../../src/cli/errors.ts';

const root = join(import.meta.dirname, '..', '..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `storj ARGS`, asynchronously (an agent in the test's own process must keep answering while the CLI waits).
 * The `clear` variables are removed from the inherited environment unless `env` sets them, so the settings come from
 * the arguments or `env`, never from whoever runs the tests.
 */
export function runStorj(args: string[], env: Record<string, string>, opts: { clear: string[]; timeoutMs: number }): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of opts.clear) if (!(k in env)) delete childEnv[k];
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one line a failed `storj` prints on stderr: `error CODE: message`. */
const ERROR_LINE = /^error ([A-Z][A-Z0-9_]*): (\S.*)$/m;

/** A failure `storj` must end with: its arguments, the code, and what the message says. */
export type FailureCase = [args: string[], code: string, message: RegExp];

/**
 * Runs each case as a `storj` process, two at a time (each is a whole node process under tsx), and checks that it
 * exits non-zero with one `error CODE: message` line, the code the case names and from the catalogue, and no line
 * without a code.
 */
export async function expectFailures(cases: readonly FailureCase[], run: (args: string[]) => Promise<Run>): Promise<void> {
  const results: Run[] = [];
  for (let i = 0; i < cases.length; i += 2) {
    results.push(...(await Promise.all(cases.slice(i, i + 2).map(([args]) => run(args)))));
  }
  cases.forEach(([args, code, message], i) => {
    const r = results[i];
    assert.ok(r);
    const what = `storj ${args.join(' ')}:\n${r.stderr}${r.stdout}`;
    assert.notEqual(r.code, 0, `exits non-zero: ${what}`);
    const m = ERROR_LINE.exec(r.stderr);
    assert.ok(m, `an error CODE: message line: ${what}`);
    assert.equal(m[1], code, what);
    assert.ok(errorDefinition(m[1]) !== undefined, `${m[1]} is in the catalogue`);
    assert.match(m[2] ?? '', message, what);
    assert.ok(!/^error: /m.test(r.stderr), `no line without a code: ${what}`);
  });
}
