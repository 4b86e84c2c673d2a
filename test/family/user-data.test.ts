// A child's user data (src/family/user-data.ts): read back by the local cloud's own parser into the files and the
// one command the spawn contract names, free of the parent's secrets, and refusing any value that could change the
// YAML, the unit file or the shell line around it. The spawn file it writes is what the child parses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { networks } from 'bitcoinjs-lib';
import { join } from 'node:path';
import { parseCloudConfig } from '../../src/devnet/cloud/cloud-config.ts';
import { parseSpawnFile, renderUserData, type SpawnSpec } from '../../src/family/index.ts';
import { Wallet } from '../../wallet/index.ts';
import { bip32 } from '../../wallet/keys.ts';
import { mnemonicToSeed } from '../../wallet/mnemonic.ts';
import { initTestDataDir, tempDir, TEST_PASSPHRASE } from '../helpers/agent.ts';
import { rejectsWith } from '../helpers/errors.ts';

const spec = (over: Partial<Record<keyof SpawnSpec, unknown>> = {}): SpawnSpec =>
  ({
    parentUrl: 'http://127.0.0.1:8420',
    parentNodeId: 'ab'.repeat(32),
    ticket: randomBytes(32).toString('base64url'),
    codeHash: 'cd'.repeat(32),
    network: 'regtest',
    esploraUrl: 'http://127.0.0.1:3002/api',
    ...over,
  }) as SpawnSpec;

test('the local cloud reads the user data into the spawn file, the bundle check, the unit and the one runcmd line', () => {
  const s = spec();
  const cc = parseCloudConfig(renderUserData(s));
  assert.deepEqual(
    cc.writeFiles.map((f) => [f.path, f.mode]),
    [
      ['/etc/storj/spawn.json', 0o600],
      ['/etc/storj/bundle.sha256', 0o644],
      ['/etc/systemd/system/storj-agent.service', 0o644],
    ],
  );
  const [spawnJson, sha, unit] = cc.writeFiles.map((f) => f.content);
  assert.equal(spawnJson, `${JSON.stringify(s)}\n`, 'one JSON line, the contract\'s field order');
  assert.deepEqual(parseSpawnFile(spawnJson), s, 'the child reads back what the parent wrote');
  assert.equal(sha, `${s.codeHash}  /opt/storj/bundle.tgz\n`);
  const unitLines = unit!.split('\n');
  assert.ok(unitLines.includes(`Description=storj-agent, a child of ${'ab'.repeat(8)}`));
  assert.ok(unitLines.includes('ExecStart=/usr/bin/node --import tsx /opt/storj/app/src/cli/storj.ts run --spawn /etc/storj/spawn.json --data-dir /var/lib/storj'));
  assert.ok(unitLines.includes('WorkingDirectory=/opt/storj/app') && unitLines.includes('Environment=NODE_ENV=production') && unitLines.includes('Restart=always'));
  assert.equal(cc.runcmd.length, 1);
  const [sh, dashC, line] = cc.runcmd[0]!;
  assert.deepEqual([sh, dashC], ['sh', '-c']);
  assert.deepEqual(line!.split('; '), [
    'set -e',
    'mkdir -p /opt/storj/app /var/lib/storj',
    'curl -fsS --retry 5 -o /opt/storj/bundle.tgz http://127.0.0.1:8420/v1/bundle',
    'sha256sum -c /etc/storj/bundle.sha256',
    'tar -xzf /opt/storj/bundle.tgz -C /opt/storj/app',
    'npm ci --omit=dev --prefix /opt/storj/app',
    'systemctl daemon-reload',
    'systemctl enable --now storj-agent.service',
  ]);
  // Every command is simple words (the local cloud's image splits on spaces: no quoting, pipes or variables).
  for (const cmd of line!.split('; ')) assert.match(cmd, /^[A-Za-z0-9 ./:_=-]+$/, cmd);
  // A Debian server needs node and a compiler for the bundle's native modules; the local cloud ignores the key.
  assert.match(renderUserData(s), /^#cloud-config\npackages: \[nodejs, npm, build-essential, python3\]\n/);
  // Trailing slashes are dropped, so the bundle URL has one slash.
  assert.match(renderUserData(spec({ parentUrl: 'https://parent.example:8443/' })), /curl -fsS --retry 5 -o \/opt\/storj\/bundle.tgz https:\/\/parent.example:8443\/v1\/bundle;/);
});

test("a parent's user data holds none of its secrets: not its mnemonic, its keys, its passphrase or admin token", async (t) => {
  const dir = tempDir(t);
  const parent = await initTestDataDir(dir);
  const wallet = await Wallet.open({ dir: join(dir, 'wallet'), passphrase: TEST_PASSPHRASE });
  const root = bip32.fromSeed(mnemonicToSeed(parent.mnemonic), networks.regtest);
  const userData = renderUserData(spec({ parentNodeId: wallet.nodeId, parentUrl: 'http://127.0.0.1:8420' }));
  assert.ok(userData.includes(wallet.nodeId), 'the parent is named by its nodeId');
  const secrets = [root.toBase58(), root.derivePath("m/84'/1'/0'").toBase58(), parent.adminToken, TEST_PASSPHRASE, parent.mnemonic];
  assert.match(secrets[0]!, /^tprv/);
  for (const s of secrets) assert.ok(!userData.includes(s), 'a secret is in the user data');
  const words = new Set(userData.toLowerCase().split(/[^a-z]+/));
  const mnemonicWords = parent.mnemonic.split(' ');
  const found = mnemonicWords.filter((w) => words.has(w));
  // A stray common word may match ("tar", "set"...), never the phrase: at most a few of its twelve words.
  assert.ok(found.length <= 3, `mnemonic words in the user data: ${found.join(' ')}`);
  // And none of the phrase's runs of two consecutive words.
  for (let i = 0; i + 1 < mnemonicWords.length; i++) assert.ok(!userData.includes(`${mnemonicWords[i]} ${mnemonicWords[i + 1]}`));
});

test('hostile values are refused with FAMILY_BAD_SPAWN_SPEC, and the error never repeats the value', async () => {
  const hostile: Array<Partial<Record<keyof SpawnSpec, unknown>>> = [
    { parentUrl: 'http://127.0.0.1:8420\nruncmd:\n  - [reboot]' },
    { parentUrl: 'http://127.0.0.1:8420/"; rm -rf /; "' },
    { parentUrl: "http://127.0.0.1:8420/'x'" },
    { parentUrl: 'http://127.0.0.1:8420/a,b' },
    { parentUrl: 'http://127.0.0.1:8420/a b' },
    { parentUrl: 'http://127.0.0.1:8420/$(reboot)' },
    { parentUrl: 'http://user:pass@127.0.0.1:8420' },
    { parentUrl: 'http://127.0.0.1:8420/?token=x' },
    { parentUrl: 'http://127.0.0.1:8420/#x' },
    { parentUrl: 'file:///etc/passwd' },
    { parentUrl: 'ftp://127.0.0.1' },
    { parentUrl: '' },
    { parentUrl: 42 },
    { esploraUrl: 'http://127.0.0.1:3002\n  - path: /etc/x' },
    { esploraUrl: 'http://127.0.0.1:3002/"}' },
    { parentNodeId: 'AB'.repeat(32) },
    { parentNodeId: 'ab'.repeat(31) },
    { parentNodeId: `${'ab'.repeat(31)}\nx` },
    { codeHash: 'zz'.repeat(32) },
    { codeHash: `${'cd'.repeat(32)}  /etc/shadow` },
    { ticket: 'short' },
    { ticket: `${'A'.repeat(42)}=` },
    { ticket: `${'A'.repeat(42)}\n` },
    { network: 'signet' },
    { network: undefined },
  ];
  for (const over of hostile) {
    const e = await rejectsWith(() => renderUserData(spec(over)), 'FAMILY_BAD_SPAWN_SPEC');
    for (const v of Object.values(over)) if (typeof v === 'string' && v.length > 8) assert.ok(!e.message.includes(v), e.message);
  }
});

test('the spawn file is parsed strictly: unknown, missing or malformed fields are refused, the ticket never echoed', async () => {
  const s = spec();
  assert.deepEqual(parseSpawnFile(JSON.stringify(s)), s);
  await rejectsWith(() => parseSpawnFile('not json'), 'FAMILY_BAD_SPAWN_SPEC');
  await rejectsWith(() => parseSpawnFile('[]'), 'FAMILY_BAD_SPAWN_SPEC');
  await rejectsWith(() => parseSpawnFile('null'), 'FAMILY_BAD_SPAWN_SPEC');
  const unknown = await rejectsWith(() => parseSpawnFile(JSON.stringify({ ...s, mnemonic: 'x' })), 'FAMILY_BAD_SPAWN_SPEC');
  assert.match(unknown.message, /unknown field\(s\): "mnemonic"/);
  const { esploraUrl: _e, ...noEsplora } = s;
  assert.match((await rejectsWith(() => parseSpawnFile(JSON.stringify(noEsplora)), 'FAMILY_BAD_SPAWN_SPEC')).message, /lacks field\(s\): esploraUrl/);
  const badTicket = `${s.ticket.slice(0, 42)}!`;
  const e = await rejectsWith(() => parseSpawnFile(JSON.stringify({ ...s, ticket: badTicket })), 'FAMILY_BAD_SPAWN_SPEC');
  assert.ok(!e.message.includes(badTicket.slice(0, 20)));
  await rejectsWith(() => parseSpawnFile(JSON.stringify({ ...s, codeHash: s.codeHash.toUpperCase() })), 'FAMILY_BAD_SPAWN_SPEC');
});
