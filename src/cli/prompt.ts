/**
 * Passphrase input for the CLI: STORJ_PASSPHRASE for unattended use, otherwise a prompt that does not echo,
 * and on regtest (worthless coins, and `npm start` must not prompt) a fixed default.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Network } from '../config/index.ts';
import { REGTEST_DEFAULT_PASSPHRASE } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
// WALLET_BAD_ARGUMENT is the wallet's code, in the catalogue once the wallet's door has loaded; the commands that
// ask for a passphrase open the wallet next anyway (src/cli/commands/operator.ts loads this file when it asks).
import '../../wallet/index.ts';

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const out = process.stderr;
  let muted = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) out.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: sink, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        out.write('\n');
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

export async function resolvePassphrase(network: Network, opts: { confirm?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<{ passphrase: string; source: 'env' | 'prompt' | 'regtest-default' }> {
  const env = opts.env ?? process.env;
  const fromEnv = env.STORJ_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return { passphrase: fromEnv, source: 'env' };
  if (network === 'regtest' && !process.stdin.isTTY) return { passphrase: REGTEST_DEFAULT_PASSPHRASE, source: 'regtest-default' };
  if (!process.stdin.isTTY) {
    throw new AgentError('WALLET_BAD_ARGUMENT', 'no passphrase: set STORJ_PASSPHRASE for unattended use, or run in a terminal to be prompted');
  }
  if (network === 'regtest') {
    const p = await promptHidden('Wallet passphrase (empty for the regtest default): ');
    return p === '' ? { passphrase: REGTEST_DEFAULT_PASSPHRASE, source: 'regtest-default' } : { passphrase: p, source: 'prompt' };
  }
  const p = await promptHidden('Wallet passphrase: ');
  if (opts.confirm) {
    if (p.length < 8) throw new AgentError('WALLET_BAD_ARGUMENT', 'the passphrase must be at least 8 characters');
    const again = await promptHidden('Repeat the passphrase: ');
    if (again !== p) throw new AgentError('WALLET_BAD_ARGUMENT', 'the passphrases differ');
  }
  return { passphrase: p, source: 'prompt' };
}
