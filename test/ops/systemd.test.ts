// The systemd unit in docs/systemd: `systemd-analyze verify` finds nothing to say about it (on a copy whose
// node is this test's, so that the ExecStart binary exists wherever the test runs), it carries the usual
// hardening and runs node with the flags of package.json's start script, and `systemd-analyze security`
// rates its exposure 3.0 or better. Without systemd-analyze the test fails, naming the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/agent.ts';

const root = join(import.meta.dirname, '..', '..');
const UNIT = join(root, 'docs', 'systemd', 'storj-agent.service');

test('the systemd unit verifies, is hardened, and runs node as npm start does', (t) => {
  const tool = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  assert.ok(!tool.error && tool.status === 0, `systemd-analyze is missing (${tool.error?.message ?? `exit ${tool.status}`}): run \`apt-get install -y systemd\``);

  const unit = readFileSync(UNIT, 'utf8');
  const directives = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m?.[1]) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2] ?? '']);
  }
  const one = (key: string) => {
    const v = directives.get(key);
    assert.equal(v?.length, 1, `${key}= once`);
    return v[0] ?? '';
  };
  for (const [key, want] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', Restart: 'on-failure', UMask: '0077' })) {
    assert.equal(one(key), want, key);
  }
  const dataDir = /STORJ_DATA_DIR=(\S+)/.exec((directives.get('Environment') ?? []).join('\n'))?.[1];
  assert.ok(dataDir, 'the unit sets STORJ_DATA_DIR');
  assert.equal(one('ReadWritePaths'), dataDir, 'the data dir, and only it, is writable');
  assert.match(one('User'), /^[a-z][a-z0-9-]*$/, 'a dedicated user');
  assert.notEqual(one('User'), 'root');
  assert.match(one('EnvironmentFile'), /^\/etc\//, 'STORJ_PASSPHRASE comes from a file outside the unit');
  assert.ok(!/STORJ_PASSPHRASE=/.test(unit.split('\n').filter((l) => !l.startsWith('#')).join('\n')), 'no passphrase in the unit');

  // ExecStart runs node with exactly the flags of `npm start`, on the build's storj.js, with `run`.
  const words = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  // The script's leading NAME=VALUE words are the environment it gives node: the unit sets each of them too.
  const envWords = words.filter((w, i) => words.slice(0, i + 1).every((x) => /^[A-Z_]+=/.test(x)));
  for (const e of envWords) assert.ok((directives.get('Environment') ?? []).includes(e), `Environment=${e}, as package.json's start script`);
  const start = words.slice(envWords.length);
  const exec = one('ExecStart').split(/\s+/);
  assert.match(exec[0] ?? '', /\/node$/);
  assert.deepEqual(exec.slice(1, start.length - 2), start.slice(1, start.length - 2), 'the node flags of package.json\'s start script');
  assert.ok(exec.at(-2)?.endsWith(`/${start.at(-2) ?? ''}`), `the build's ${start.at(-2) ?? ''}`);
  assert.equal(exec.at(-1), 'run');

  // verify needs ExecStart's binary to exist: the copy runs this test's node.
  const dir = tempDir(t, 'storj-ops-systemd-');
  const copy = join(dir, 'storj-agent.service');
  writeFileSync(copy, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
  const verify = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', cwd: dir });
  const said = `${verify.stdout}${verify.stderr}`;
  assert.equal(verify.status, 0, `systemd-analyze verify: ${said}`);
  // verify exits 0 on unknown keys and unparsable values, only warning; a warning about this unit fails.
  const warnings = said.split('\n').filter((l) => l.includes('storj-agent'));
  assert.deepEqual(warnings, [], 'systemd-analyze verify warns about the unit');

  // Exposure on systemd's 0-10 scale (lower is better), times ten for --threshold.
  const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=30', copy], { encoding: 'utf8', cwd: dir });
  assert.equal(security.status, 0, `systemd-analyze security rates the unit above 3.0: ${security.stdout.split('\n').filter((l) => l.includes('Overall')).join('')}${security.stderr}`);
});
