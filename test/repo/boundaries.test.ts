// The dependency rules of .dependency-cruiser.cjs, run the way `npm run deps` runs them, on two small trees
// written for the purpose: one that keeps every rule and passes, one that breaks each rule once and must fail
// naming each broken import. So a rule that stops firing (a wrong pattern, a type import no longer counted, a
// `.ts` import that no longer resolves) fails here, not silently in `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const CONFIG = join(root, '.dependency-cruiser.cjs');

/**
 * Writes `files` into a fresh project (this repository's tsconfig and node_modules) and runs depcruise there
 * as `npm run deps` does. Returns its exit status, its output, and one `rule: from -> to` line per violation
 * (a package shortened to its name; a cycle by its first step).
 */
function cruise(files: Record<string, string>): { status: number | null; out: string; found: Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), 'storj-bounds-'));
  try {
    copyFileSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    // better-sqlite3 is a dependency, fast-check a devDependency; `ms` is in node_modules but not declared.
    const pkg = { name: 'fixture', type: 'module', dependencies: { 'better-sqlite3': '*' }, devDependencies: { 'fast-check': '*' } };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = spawnSync(join(root, 'node_modules', '.bin', 'depcruise'), ['src', 'wallet', '--config', CONFIG], { cwd: dir, encoding: 'utf8' });
    const out = r.stdout + r.stderr;
    const found = new Set<string>();
    for (const m of out.matchAll(/error ([\w-]+): (\S+) → ?(\S*)/g)) {
      const pkgName = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m[3] ?? '');
      found.add(`${m[1]}: ${m[2]} -> ${pkgName ? pkgName[1] : m[3]}`);
    }
    return { status: r.status, out, found };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A tree that keeps every rule: the same shapes the project uses.
const CLEAN: Record<string, string> = {
  'src/errors/index.ts': 'export class AgentError extends Error {}\n',
  'src/money/index.ts': "import { AgentError } from '../errors/index.ts';\nexport const fail = (): AgentError => new AgentError();\n",
  'src/db/index.ts': "import Database from 'better-sqlite3';\nexport type Db = Database.Database;\n",
  // a module builds its own repository, and uses the database
  'src/host/repository.ts': "import type { Db } from '../db/index.ts';\nexport class HostRepository { constructor(readonly db: Db) {} }\n",
  'src/host/index.ts': "import { HostRepository } from './repository.ts';\nimport type { Db } from '../db/index.ts';\nexport const host = (db: Db): HostRepository => new HostRepository(db);\n",
  // http reaches the host through its door; types from a devDependency vanish in the build
  'src/http/index.ts': "import { host } from '../host/index.ts';\nimport type { Arbitrary } from 'fast-check';\nexport const h = host;\nexport type A = Arbitrary<number>;\n",
  'src/agent/index.ts': "import { h } from '../http/index.ts';\nimport { sign } from '../../wallet/index.ts';\nexport const parts = [h, sign];\n",
  'wallet/keys.ts': "import { fail } from '../src/money/index.ts';\nimport { AgentError } from '../src/errors/index.ts';\nexport const sign = (): AgentError => fail();\n",
  'wallet/index.ts': "export { sign } from './keys.ts';\n",
};

void test('a tree that keeps every rule passes', () => {
  const { status, out, found } = cruise(CLEAN);
  assert.deepEqual([...found], []);
  assert.match(out, /no dependency violations found/);
  assert.equal(status, 0);
});

void test('each rule, broken once, fails the run and names the import', () => {
  const { status, out, found } = cruise({
    ...CLEAN,
    // a cycle made of a value import one way and a type import back
    'src/a/index.ts': "import { b } from '../b/index.ts';\nexport const a = b;\n",
    'src/b/index.ts': "import type { A } from '../a/index.ts';\nexport const b = 1;\nexport type B = A;\n",
    // another module's repository, and another module's inner file
    'src/treasury/index.ts': "import { HostRepository } from '../host/repository.ts';\nimport { x } from '../chain/validate.ts';\nexport const t = [HostRepository, x];\n",
    'src/chain/index.ts': "export { x } from './validate.ts';\n",
    'src/chain/validate.ts': 'export const x = 1;\n',
    // a door that hands out its repository
    'src/ledger/repo-sql.ts': 'export const sql = 1;\n',
    'src/ledger/index.ts': "export { sql } from './repo-sql.ts';\n",
    // http and the database: a type import, a `.js` written by habit, and the driver itself
    'src/http/index.ts': "import { host } from '../host/index.ts';\nimport type { Db } from '../db/index.ts';\nexport const h = host;\nexport type D = Db;\n",
    'src/http/raw.ts': "import { Database } from '../db/index.js';\nimport sqlite from 'better-sqlite3';\nexport const r = [Database, sqlite];\n",
    // the wallet reaching above money and errors, and the agent reaching inside the wallet
    'wallet/config.ts': "import type { Config } from '../src/config/index.ts';\nexport type C = Config;\n",
    'src/config/index.ts': 'export interface Config { a: number }\n',
    'src/scheduler/index.ts': "import { sign } from '../../wallet/keys.ts';\nexport const s = sign;\n",
    // shipped code importing a test, a devDependency, an undeclared package, nothing, and a deprecated built-in
    'src/storage/index.ts': "import { helper } from '../../test/helper.ts';\nimport fc from 'fast-check';\nimport ms from 'ms';\nimport { nope } from './nope.ts';\nimport punycode from 'punycode';\nexport const s = [helper, fc, ms, nope, punycode];\n",
    'test/helper.ts': 'export const helper = 1;\n',
  });
  const want = [
    'no-circular: src/a/index.ts -> ',
    'no-foreign-repository: src/treasury/index.ts -> src/host/repository.ts',
    'module-door: src/treasury/index.ts -> src/chain/validate.ts',
    'repository-not-through-door: src/ledger/index.ts -> src/ledger/repo-sql.ts',
    'http-not-db: src/http/index.ts -> src/db/index.ts',
    'http-not-db: src/http/raw.ts -> src/db/index.ts',
    'http-not-db: src/http/raw.ts -> better-sqlite3',
    'wallet-imports-only-money-and-errors: wallet/config.ts -> src/config/index.ts',
    'wallet-door: src/scheduler/index.ts -> wallet/keys.ts',
    'not-to-test: src/storage/index.ts -> test/helper.ts',
    'not-to-dev-dep: src/storage/index.ts -> fast-check',
    'no-non-package-json: src/storage/index.ts -> ms',
    'not-to-unresolvable: src/storage/index.ts -> ./nope.ts',
    'no-deprecated-core: src/storage/index.ts -> punycode',
  ];
  for (const line of want) assert.ok(found.has(line), `expected "${line}" among:\n${[...found].join('\n')}`);
  // the cycle closes only through the type import back: type imports count
  assert.match(out, /error no-circular: src\/a\/index\.ts → \s+src\/b\/index\.ts →\s+src\/a\/index\.ts/);
  // the exit status is the number of errors, so `npm test` stops here
  assert.equal(status, found.size);
  assert.ok(found.size >= want.length);
});
