// The local cloud's image: the #cloud-config subset it reads, files kept under the server's root, only the
// commands it ships run, and the test-only tampered image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCloudConfig } from '../../src/devnet/cloud/cloud-config.ts';
import { boot, isServerProcess, STUB_ENTRY, stopServerProcess } from '../../src/devnet/cloud/image.ts';
import { tempDir, until } from './cloud-helpers.ts';

test('parseCloudConfig reads write_files and runcmd, block content, quotes and permissions', () => {
  const config = parseCloudConfig(
    [
      '#cloud-config',
      '# a comment',
      'package_update: true',
      'write_files:',
      '  - path: /etc/storj/ticket',
      '    content: tkt_1',
      '  - path: "/etc/systemd/system/storj.service"',
      "    permissions: '0600'",
      '    content: |',
      '      [Service]',
      '      ExecStart=/usr/bin/node main.js',
      '',
      '      [Install]',
      'runcmd:',
      '  - [storj, child, --ticket-file, /etc/storj/ticket]',
      '  - systemctl enable --now storj',
      "  - [ 'npm', ci, '--omit=dev' ]",
      '',
    ].join('\n'),
  );
  assert.deepEqual(config.writeFiles, [
    { path: '/etc/storj/ticket', content: 'tkt_1', mode: 0o644 },
    { path: '/etc/systemd/system/storj.service', content: '[Service]\nExecStart=/usr/bin/node main.js\n\n[Install]\n', mode: 0o600 },
  ]);
  assert.deepEqual(config.runcmd, [
    ['storj', 'child', '--ticket-file', '/etc/storj/ticket'],
    ['systemctl', 'enable', '--now', 'storj'],
    ['npm', 'ci', '--omit=dev'],
  ]);
  assert.deepEqual(parseCloudConfig('#cloud-config\n'), { writeFiles: [], runcmd: [] });
});

test('parseCloudConfig refuses what it cannot read', () => {
  for (const bad of [
    '#!/bin/sh\necho hi\n',
    '#cloud-config\nwrite_files:\n  - path: relative/path\n    content: x\n',
    '#cloud-config\nwrite_files:\n  - path: /x\n    encoding: b64\n    content: eA==\n',
    '#cloud-config\nwrite_files:\n  - path: /x\n    permissions: rwx\n',
    '#cloud-config\nwrite_files:\n  path: /x\n',
    '#cloud-config\nruncmd:\n  - []\n',
  ]) {
    assert.throws(() => parseCloudConfig(bad), { name: 'Error' }, bad);
  }
});

test('boot: files under the root only, shipped commands run, others recorded; a tampered image says so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-cloud-image-'));
  const started: Array<[number, string]> = [];
  // Processes first, then files: a process is known for the server's only while its root exists.
  t.after(async () => {
    for (const [pid, serverDir] of started) await stopServerProcess(pid, serverDir);
    rmSync(dir, { recursive: true, force: true });
  });
  const userData = '#cloud-config\nwrite_files:\n  - path: /../../../outside\n    content: x\nruncmd:\n  - [apt-get, install, -y, nodejs]\n  - [rm, -rf, /]\n  - [storj, child, /etc/x]\n';
  for (const tampered of [false, true]) {
    const serverDir = join(dir, tampered ? 'tampered' : 'plain');
    const booted = await boot(serverDir, userData, 'srv_0123456789abcdef', { storjEntry: STUB_ENTRY, tampered });
    started.push([booted.pid, serverDir]);
    assert.deepEqual(booted.skipped, ['apt-get install -y nodejs', 'rm -rf /']);
    assert.equal(readFileSync(join(serverDir, 'root', 'outside'), 'utf8'), 'x');
    assert.equal(existsSync(join(dir, 'outside')), false);
    const hello = await until(
      () => fetch(`http://127.0.0.1:${booted.port}/`).then((r) => r.json() as Promise<{ image: string; args: string[] }>, () => null),
      (v) => v !== null,
      400,
      'the server answers',
    );
    assert.equal(hello?.image, tampered ? 'local-cloud-image/1 (tampered)' : 'local-cloud-image/1');
    assert.deepEqual(hello?.args, ['child', join(serverDir, 'root', 'etc/x')]);
    assert.equal(isServerProcess(booted.pid, serverDir), true);
    assert.equal(isServerProcess(booted.pid, dir), false, 'a process is the server only in its own root');
    await stopServerProcess(booted.pid, serverDir);
    assert.equal(isServerProcess(booted.pid, serverDir), false);
  }
});

test('boot refuses to write through a symbolic link the server left in its root', async (t) => {
  const dir = tempDir(t);
  const serverDir = join(dir, 'srv');
  mkdirSync(join(serverDir, 'root', 'etc'), { recursive: true });
  symlinkSync(dir, join(serverDir, 'root', 'etc', 'link'));
  symlinkSync(join(dir, 'victim'), join(serverDir, 'root', 'file'));
  const settings = { storjEntry: STUB_ENTRY, tampered: false };
  await assert.rejects(boot(serverDir, '#cloud-config\nwrite_files:\n  - path: /etc/link/victim\n    content: x\n', 'srv_1', settings), /outside the server/);
  await assert.rejects(boot(serverDir, '#cloud-config\nwrite_files:\n  - path: /file\n    content: x\n', 'srv_1', settings), /symbolic link/);
  assert.equal(existsSync(join(dir, 'victim')), false);
});
