// The code bundle (docs/bundle.md): the same tree gives the same bytes wherever it lies, whoever owns it and
// whatever its mtimes; the archive holds exactly the runnable source; the system's tar reads it; and the unpacked
// bundle runs and bundles itself to the same codeHash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildBundle, buildBundleApart, packageRoot } from '../../src/bundle/index.ts';
import { bundleEntries } from '../../src/bundle/make.ts';
import { AgentError } from '../../src/errors/index.ts';
import { tempDir } from '../helpers/agent.ts';

const ROOT = packageRoot();
const ROOT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md'];
const ROOT_DIRS = ['src', 'wallet', 'spawn-scripts'];

/** A copy of what the bundle holds from ROOT, at `dir`. */
function copyTree(dir: string): void {
  for (const f of ROOT_FILES) cpSync(join(ROOT, f), join(dir, f));
  for (const d of ROOT_DIRS) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
}

/** Every path under `dir` (relative, folders with a trailing slash), as the system's tar lists an archive. */
function systemTarList(archive: string): string[] {
  return execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
}

void test('the package root is the folder holding this package.json', () => {
  assert.equal((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name, 'storj-agent');
  assert.equal(ROOT, join(import.meta.dirname, '..', '..'));
});

void test('two builds, and a copy elsewhere with other mtimes, modes, owners and stray files, give the same bytes; a changed file another hash', async (t) => {
  const a = await buildBundle(ROOT);
  const b = await buildBundle(ROOT);
  assert.ok(a.bytes.equals(b.bytes), 'two builds of one tree');
  assert.match(a.codeHash, /^[0-9a-f]{64}$/);
  assert.equal(a.codeHash, createHash('sha256').update(a.bytes).digest('hex'));

  const copy = tempDir(t, 'storj-bundle-copy-');
  const umask = process.umask(0o077);
  try {
    copyTree(copy);
  } finally {
    process.umask(umask);
  }
  // Other mtimes and modes, and (as root, which `npm test` runs as) other owners.
  const when = new Date('2031-05-06T07:08:09Z');
  for (const p of ['package.json', 'src', 'src/cli/storj.ts', 'wallet/index.ts', 'spawn-scripts']) {
    utimesSync(join(copy, p), when, when);
    if (process.getuid?.() === 0) chownSync(join(copy, p), 4321, 4321);
  }
  chmodSync(join(copy, 'src/cli/storj.ts'), 0o700);
  chmodSync(join(copy, 'wallet/index.ts'), 0o664);
  // What the bundle leaves out: dotfiles and node_modules anywhere, and every other folder at the root.
  writeFileSync(join(copy, 'src/.editor-state'), 'x');
  mkdirSync(join(copy, 'src/agent/.cache'));
  writeFileSync(join(copy, 'src/agent/.cache/junk'), 'x');
  mkdirSync(join(copy, 'wallet/node_modules'));
  writeFileSync(join(copy, 'wallet/node_modules/x.js'), 'x');
  for (const d of ['test', 'docs', 'dist', 'node_modules', '.git']) {
    mkdirSync(join(copy, d));
    writeFileSync(join(copy, d, 'file.ts'), 'x');
  }
  writeFileSync(join(copy, '.gitignore'), 'x');
  const c = await buildBundle(copy);
  assert.equal(c.codeHash, a.codeHash, 'a copy with other metadata and stray files');
  assert.ok(c.bytes.equals(a.bytes));

  appendFileSync(join(copy, 'src/bundle/make.ts'), '\n');
  const changed = await buildBundle(copy);
  assert.notEqual(changed.codeHash, a.codeHash, 'one byte more in one file');
  writeFileSync(join(copy, 'spawn-scripts/new.js'), '');
  assert.notEqual((await buildBundle(copy)).codeHash, changed.codeHash, 'a new empty file');
});

void test('the archive holds the root files and src, wallet and spawn-scripts, sorted, with fixed metadata, and gzip names no file and no time', async (t) => {
  const { bytes } = await buildBundle(ROOT);
  const dir = tempDir(t, 'storj-bundle-list-');
  const archive = join(dir, 'bundle.tgz');
  writeFileSync(archive, bytes);

  // RFC 1952: ID1 ID2 CM=8 FLG MTIME(4) XFL OS. FLG 0: no FNAME, FCOMMENT or FEXTRA; MTIME 0: no time stamp.
  assert.deepEqual([...bytes.subarray(0, 3)], [0x1f, 0x8b, 8]);
  assert.equal(bytes[3], 0, 'FLG');
  assert.equal(bytes.readUInt32LE(4), 0, 'MTIME');

  const listed = systemTarList(archive);
  const expected = (await bundleEntries(ROOT)).map((e) => e.path);
  assert.deepEqual(listed, expected, 'the system tar lists the entries bundleEntries gives, in that order');
  assert.deepEqual(listed, [...listed].sort(), 'sorted by path');
  for (const f of [...ROOT_FILES, 'src/', 'src/cli/storj.ts', 'src/bundle/index.ts', 'wallet/index.ts', 'spawn-scripts/local-cloud.js']) assert.ok(listed.includes(f), f);
  for (const p of listed) {
    assert.ok(ROOT_FILES.includes(p) || ROOT_DIRS.some((d) => p.startsWith(`${d}/`)), `${p} is a root file or under a bundled folder`);
    assert.ok(!p.split('/').some((s) => s.startsWith('.') || s === 'node_modules'), `${p}: no dotfile, no node_modules`);
  }
  assert.ok(!listed.some((p) => /^(test|docs|dist|node_modules)\//.test(p)));

  // Owners 0/0 with no names, modes 0644 and 0755, mtime 0, in the headers the system's tar reads.
  const verbose = execFileSync('tar', ['--numeric-owner', '-tvzf', archive], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).split('\n').filter((l) => l !== '');
  assert.equal(verbose.length, listed.length);
  for (const line of verbose) {
    assert.match(line, /^(-rw-r--r--|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00 /, line);
  }
  // No pax extended headers for these paths: plain ustar blocks (the magic at offset 257 of the first header).
  const tar = gunzipSync(bytes);
  assert.equal(tar.subarray(257, 263).toString('latin1'), 'ustar\0');
  assert.equal(tar.subarray(265, 265 + 32).toString('latin1').replace(/\0+$/, ''), '', 'no uname');
  assert.equal(tar.length % 512, 0);
});

void test('the system tar extracts the files as they are', async (t) => {
  const { bytes } = await buildBundle(ROOT);
  const dir = tempDir(t, 'storj-bundle-x-');
  writeFileSync(join(dir, 'bundle.tgz'), bytes);
  mkdirSync(join(dir, 'app'));
  execFileSync('tar', ['-xzf', join(dir, 'bundle.tgz'), '-C', join(dir, 'app')]);
  const files = (await bundleEntries(ROOT)).filter((e) => e.kind === 'file');
  assert.ok(files.length > 100);
  for (const f of files) assert.ok(readFileSync(join(dir, 'app', f.path)).equals(readFileSync(f.abs)), f.path);
});

void test('a link or a missing root file is BUNDLE_INVALID, naming it', async (t) => {
  const dir = tempDir(t, 'storj-bundle-bad-');
  copyTree(dir);
  symlinkSync('storj.ts', join(dir, 'src/cli/alias.ts'));
  await assert.rejects(buildBundle(dir), (e: unknown) => e instanceof AgentError && e.code === 'BUNDLE_INVALID' && e.message.includes('src/cli/alias.ts'));
  const bare = tempDir(t, 'storj-bundle-bare-');
  copyTree(bare);
  execFileSync('rm', [join(bare, 'tsconfig.json')]);
  await assert.rejects(buildBundle(bare), (e: unknown) => e instanceof AgentError && e.code === 'BUNDLE_INVALID' && e.message.includes('tsconfig.json'));
});

void test('built in its worker process (as the agent builds it), the bundle is the same bytes and codeHash, and a bad tree the same BUNDLE_INVALID', async (t) => {
  const here = await buildBundle(ROOT);
  const apart = await buildBundleApart(ROOT);
  assert.ok(apart.bytes.equals(here.bytes), 'the same bytes');
  assert.equal(apart.codeHash, here.codeHash);

  const dir = tempDir(t, 'storj-bundle-bad-apart-');
  copyTree(dir);
  symlinkSync('storj.ts', join(dir, 'src/cli/alias.ts'));
  await assert.rejects(buildBundleApart(dir), (e: unknown) => e instanceof AgentError && e.code === 'BUNDLE_INVALID' && e.message.includes('src/cli/alias.ts'));
  await assert.rejects(buildBundleApart(join(dir, 'no such folder')), (e: unknown) => e instanceof AgentError && e.code === 'BUNDLE_INVALID');
});

void test('the unpacked bundle runs (node --import tsx src/cli/storj.ts), and bundles itself to the same codeHash: a clone knows it is one', async (t) => {
  const { bytes, codeHash } = await buildBundle(ROOT);
  const dir = tempDir(t, 'storj-bundle-run-');
  writeFileSync(join(dir, 'bundle.tgz'), bytes);
  const app = join(dir, 'app');
  mkdirSync(app);
  execFileSync('tar', ['-xzf', join(dir, 'bundle.tgz'), '-C', app]);
  // What `npm ci --omit=dev` would install; the repository's own dependencies stand in for it.
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // `--version` loads the whole command (every module storj.ts imports) before it answers.
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/storj.ts', '--version'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
  const again = await buildBundle(app);
  assert.equal(again.codeHash, codeHash);
  assert.ok(again.bytes.equals(bytes));
});
