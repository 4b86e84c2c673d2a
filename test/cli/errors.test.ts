// Every failure of the `storj` command ends the same way: exit non-zero and a line `error CODE: message` on
// stderr, CODE being the API's or one of the catalogue's (src/errors), also when the failure is commander's (bad
// arguments), the file system's, or something thrown that is not an AgentError. Each command runs as its own
// process, as a user runs it; none of them needs an agent (a closed port plays the unreachable one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/cli/errors.ts';
import { tempDir } from '../helpers/agent.ts';
import { expectFailures, runStorj, type FailureCase } from '../helpers/cli.ts';
import { closedUrl } from '../net/helpers.ts';

const storj = (args: string[]) => runStorj(args, {}, { clear: ['STORJ_URL', 'STORJ_LISTEN', 'STORJ_PASSPHRASE', 'STORJ_MNEMONIC'], timeoutMs: 120_000 });




test('every failing command exits non-zero with one `error CODE: message` line, CODE from the catalogue', async (t) => {
  const dir = tempDir(t, 'storj-cli-errors-');
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'some bytes\n');
  const notADir = join(dir, 'plain-file');
  writeFileSync(notADir, 'x');
  const agent = await closedUrl();

  // [arguments, the code expected, what the message must say]
  const cases: FailureCase[] = [
    // commander refuses the arguments
    [['upload'], 'BAD_REQUEST', /missing required argument 'file'/],
    [['frobnicate'], 'BAD_REQUEST', /unknown command 'frobnicate'/],
    [['status', 'abc', '--frob'], 'BAD_REQUEST', /unknown option '--frob'/],
    [['status', 'abc', 'def'], 'BAD_REQUEST', /too many arguments/],
    [['wallet'], 'BAD_REQUEST', /a command is required/],
    // the CLI's own checks of its arguments
    [['upload', join(dir, 'missing.txt'), '--url', agent], 'BAD_REQUEST', /cannot read .*missing\.txt \(ENOENT\)/],
    [['upload', dir, '--url', agent], 'BAD_REQUEST', /is not a regular file/],
    [['upload', file, '--days', '0', '--url', agent], 'BAD_REQUEST', /--days must be a whole number/],
    [['status', 'abc', '--url', 'ftp://example.com'], 'BAD_REQUEST', /--url must be an http\(s\) URL/],
    [['topup', 'abc', '--amount', '1.5', '--url', agent], 'AMOUNT_INVALID', /--amount/],
    [['init', '--import', '--network', 'regtest', '-d', join(dir, 'd1')], 'BAD_REQUEST', /STORJ_MNEMONIC/],
    [['init', '--network', 'testnet', '-d', join(dir, 'd2')], 'WALLET_BAD_ARGUMENT', /no passphrase/],
    // the agent does not answer
    [['status', 'abc', '--url', agent], 'AGENT_UNREACHABLE', /no answer from the agent/],
    [['download', `${agent}/f/abc`, '-o', dir], 'AGENT_UNREACHABLE', /no answer from/],
    // an AgentError from deeper down, and an error that is not one (the file system's ENOTDIR)
    [['wallet', 'balance', '-d', join(dir, 'empty')], 'WALLET_NOT_FOUND', /run `storj init`/],
    [['init', '--network', 'regtest', '-d', join(notADir, 'sub')], 'INTERNAL', /ENOTDIR/],
  ];
  // Two at a time: each is a whole node process under tsx.
  await expectFailures(cases, (args) => storj(args));
});

test('with --json a failure is also the last JSON line on stdout, with its code', async () => {
  const r = await storj(['--json', 'upload']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error BAD_REQUEST: missing required argument 'file'$/m);
  const last = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { error: { code: string; message: string } };
  assert.deepEqual(last, { error: { code: 'BAD_REQUEST', message: "missing required argument 'file'" } });
});

test('--help and --version are not failures: exit 0, no error line', async () => {
  for (const args of [['--help'], ['upload', '--help'], ['--version']]) {
    const r = await storj(args);
    assert.equal(r.code, 0, `storj ${args.join(' ')}: ${r.stderr}`);
    assert.ok(!/^error/m.test(r.stderr), r.stderr);
    assert.ok(r.stdout.length > 0);
  }
});
