// Runs the `storj` command as its own process, from the sources under tsx, as a user would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
