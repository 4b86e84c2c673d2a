// The investor's commands fail as every `storj` command does: exit non-zero with one `error CODE: message` line,
// CODE from the catalogue (src/errors), for missing flags, unreadable files, bad amounts and a key file others may
// read, each before anything is sent (a closed port plays the agent, so a request would say AGENT_UNREACHABLE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/cli/errors.ts';
import '../../wallet/index.ts';
import { tempDir } from '../helpers/agent.ts';
import { expectFailures, runStorj, type FailureCase } from '../helpers/cli.ts';
import { closedUrl } from '../net/helpers.ts';

const storj = (args: string[], env: Record<string, string>) => runStorj(args, env, { clear: ['STORJ_URL', 'STORJ_LISTEN', 'STORJ_DATA_DIR'], timeoutMs: 120_000 });
const scripts = join(import.meta.dirname, '..', '..', 'spawn-scripts');
const PAYOUT = 'bcrt1qg77uncpl9cgfygqz7uv9yxq9w2neapjh385gp0';


test('storj propose, proposal and proposals: each bad argument or file is one `error CODE: message` line, before any request', async (t) => {
  const dir = tempDir(t, 'storj-investor-errors-');
  const agent = await closedUrl();
  const notJson = join(dir, 'bad.json');
  writeFileSync(notJson, '{"format": "storj-transcript/1",');
  const empty = join(dir, 'empty.js');
  writeFileSync(empty, '  \n');
  const emptyCreds = join(dir, 'creds');
  writeFileSync(emptyCreds, '\n');
  const openKey = join(dir, 'open.key');
  writeFileSync(openKey, `${'ab'.repeat(32)}\n`);
  chmodSync(openKey, 0o644);

  const flags = { '--script': join(scripts, 'local-cloud.js'), '--transcript': join(scripts, 'local-cloud.transcript.json'), '--investment': '100000', '--interest': '500', '--payout': PAYOUT };
  /** `storj propose` with the good flags, `over` changing or (undefined) removing some. */
  const propose = (over: Record<string, string | undefined>, extra: string[] = []) => {
    const all: Record<string, string | undefined> = { ...flags, ...over };
    return ['propose', ...Object.entries(all).flatMap(([k, v]) => (v === undefined ? [] : [k, v])), '--url', agent, ...extra];
  };
  const cases: FailureCase[] = [
    [propose({ '--script': undefined }), 'BAD_REQUEST', /required option '--script <file>' not specified/],
    [propose({ '--payout': undefined }), 'BAD_REQUEST', /required option '--payout <address>' not specified/],
    [propose({ '--script': join(dir, 'missing.js') }), 'BAD_REQUEST', /--script: cannot read .*missing\.js \(ENOENT\)/],
    [propose({ '--script': dir }), 'BAD_REQUEST', /--script: cannot read .* \(EISDIR\)/],
    [propose({ '--script': empty }), 'BAD_REQUEST', /--script: .*empty\.js is empty/],
    [propose({ '--transcript': join(dir, 'missing.json') }), 'BAD_REQUEST', /--transcript: cannot read .*missing\.json \(ENOENT\)/],
    [propose({ '--transcript': notJson }), 'BAD_REQUEST', /--transcript .*bad\.json: not JSON/],
    [propose({ '--credentials': join(dir, 'missing-token') }), 'BAD_REQUEST', /--credentials: cannot read .*missing-token \(ENOENT\)/],
    [propose({ '--credentials': emptyCreds }), 'BAD_REQUEST', /--credentials: the file is empty/],
    [propose({ '--investment': '0.001' }), 'AMOUNT_INVALID', /--investment must be a non-negative integer number of satoshis/],
    [propose({ '--investment': '-5' }), 'AMOUNT_INVALID', /--investment/],
    [propose({ '--investment': '0' }), 'AMOUNT_INVALID', /--investment must be at least 1 sat/],
    [propose({ '--investment': '2100000000000001' }), 'AMOUNT_INVALID', /--investment is out of range/],
    [propose({ '--interest': '5%' }), 'BAD_REQUEST', /--interest must be a whole number of basis points/],
    [propose({ '--payout': 'not an address!' }), 'BAD_REQUEST', /--payout must be a bitcoin address/],
    [propose({ '--hosts': 'https://evil.example' }), 'BAD_REQUEST', /--hosts: "https:\/\/evil\.example" is not a plain lowercase host/],
    [propose({ '--key': openKey }), 'WALLET_KEYSTORE_CORRUPT', /may be read by others; make it private with chmod 600/],
    [propose({}, ['--url', 'ftp://example.com']), 'BAD_REQUEST', /--url must be an http\(s\) URL/],
    [['proposal', 'no such/id', '--url', agent], 'BAD_REQUEST', /is not a proposal id/],
    [['proposal', '--url', agent], 'BAD_REQUEST', /missing required argument 'id'/],
    // Everything checked, the key made: only now is a request sent, and the closed port answers nothing.
    [propose({ '--key': join(dir, 'made.key') }), 'AGENT_UNREACHABLE', /no answer from the agent/],
    [['proposals', '--url', agent], 'AGENT_UNREACHABLE', /no answer from the agent/],
  ];
  await expectFailures(cases, (args) => storj(args, { STORJ_DATA_DIR: join(dir, 'data') }));
  assert.ok(existsSync(join(dir, 'made.key')), 'the key is made once the arguments are good');
  assert.ok(!existsSync(join(dir, 'data', 'investor.key')), 'no default key was made by a run that failed its checks');
});
