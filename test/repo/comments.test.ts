// Comments cite only what a reader of the repository can open: a file in it, a BIP, an RFC, or an outside
// project's own documents by their place (e.g. esplora/API.md). A design note, a ticket number or a document
// kept elsewhere means nothing to someone who has only the code, so this test lists every comment line that
// cites one, as file:line, and every repository path a comment names that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const SCANNED = ['src', 'wallet', 'test'];
const CODE = /\.(ts|js|cjs|mjs)$/;

/** Citations of documents that are not in the repository, each with why it is refused. */
const MISSING: Array<{ pattern: RegExp; why: string }> = [
  { pattern: /\bDESIGN\b/, why: 'a design document outside the repository' },
  { pattern: /\bCONVENTIONS\b/, why: 'a conventions document outside the repository' },
  // A bare API document name is the project's own, which it does not hold; an outside project's is cited by
  // its place (esplora's) and passes.
  { pattern: /(?<![\w/.-])API\.md\b/, why: 'an API document outside the repository (docs/ or the OpenAPI document hold the contract)' },
  { pattern: /\b[Ii]ssues? *#?\d+/, why: 'an issue number' },
  { pattern: /(?<![\w&/#])#\d+\b/, why: 'an issue or pull-request number' },
];

// A path a comment names inside the repository: it must exist (from the root, or beside the file).
const REPO_PATH = /(?<![\w./-])((?:docs|src|test|wallet|spawn-scripts)\/[\w./-]*\w|README\.md|package\.json|tsconfig\.json|eslint\.config\.js)/g;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (CODE.test(name)) out.push(p);
  }
  return out;
}

/**
 * The comment on each line, approximately: a line that is a comment (`//`, `/*`, ` *`), or what follows
 * ` // ` after code. Strings holding `//` (URLs) are not comments: they have no space before the slashes.
 */
function commentOf(line: string): string | undefined {
  const trimmed = line.trimStart();
  if (trimmed.startsWith('//') || trimmed.startsWith('/*') || trimmed.startsWith('*')) return trimmed;
  const at = line.search(/\s\/\/\s/);
  return at >= 0 ? line.slice(at) : undefined;
}

/** Every offending comment line under `dirs`, as `file:line: why: text`. */
function offenders(dirs: string[]): string[] {
  const out: string[] = [];
  for (const file of dirs.flatMap((d) => files(join(root, d)))) {
    // This file's own examples of what is refused are deliberate.
    if (file === import.meta.filename) continue;
    const rel = relative(root, file);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const comment = commentOf(line);
        if (comment === undefined) return;
        const where = `${rel}:${i + 1}`;
        for (const { pattern, why } of MISSING) {
          if (pattern.test(comment)) out.push(`${where}: ${why}: ${comment.trim().slice(0, 120)}`);
        }
        for (const m of comment.matchAll(REPO_PATH)) {
          const path = (m[1] ?? '').replace(/[.]+$/, '');
          if (!existsSync(join(root, path)) && !existsSync(join(dirname(file), path))) out.push(`${where}: names ${path}, which is not in the repository`);
        }
      });
  }
  return out;
}

void test('comments cite only documents that are in the repository', () => {
  const found = offenders(SCANNED);
  assert.deepEqual(found, [], `${found.length} comment lines cite what the repository does not hold:\n${found.join('\n')}`);
});

void test('the check finds what it is meant to find, and passes what it should', () => {
  const lines = [
    ['// as DESIGN "Payments" says', true],
    ['/* see CONVENTIONS habit 5 */', true],
    [' * the error envelope (API.md)', true],
    ['  const x = 1; // fixed in issue 3', true],
    ['// follow-up to #12', true],
    ["// Blockstream's esplora/API.md", false],
    ['// BIP125 replaceability; RFC 9110 section 10.2.3', false],
    ["const url = 'http://example.com/#12';", false],
    ['// the rules are in docs/payments.md', false],
  ] as const;
  for (const [line, offends] of lines) {
    const comment = commentOf(line);
    const hit = comment !== undefined && MISSING.some(({ pattern }) => pattern.test(comment));
    assert.equal(hit, offends, line);
  }
  assert.deepEqual([...'// see docs/nowhere.md and docs/payments.md'.matchAll(REPO_PATH)].map((m) => m[1]), ['docs/nowhere.md', 'docs/payments.md']);
  assert.ok(!existsSync(join(root, 'docs/nowhere.md')));
});
