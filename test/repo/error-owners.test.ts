// A module's error codes join the catalogue when that module loads (src/errors/index.ts), so a module that
// raises another module's code must load that module: otherwise, in a process that never loads it (the devnet's
// own, say), the code has no status and answers 500. This test reads every file of src/ and wallet/, finds each
// code it raises or tests for, and checks that the code is a shared one (src/errors/index.ts), or that its
// module declares the code or imports the declaring module's door as a value (an `import type` loads nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { errorCatalogue } from '../../src/errors/index.ts';
import '../../src/agent/index.ts';
import '../../src/cli/errors.ts';
import '../../src/devnet/index.ts';
import '../../src/e2e/index.ts';

const root = resolve(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The module a file belongs to: `wallet`, or the folder under src/. */
function moduleOf(file: string): string {
  const rel = relative(root, file).split('/');
  return rel[0] === 'wallet' ? 'wallet' : (rel[1] ?? '');
}

// `new AgentError('CODE'`, `isAgentError(e, 'CODE')`, `errorCode: 'CODE'`: a code used as a value.
const USES = /(?:new AgentError\(|isAgentError\([^,()]+,\s*|errorCode:\s*)'([A-Z][A-Z0-9_]+)'/g;
// A value import of another module's door (not `import type`, and not a list of `type` names only).
const DOOR_IMPORT = /^import\s+(?!type\s)(?:([^'";]*?)\s+from\s+)?'(?:\.\.\/)+(?:src\/)?(wallet|[a-z-]+)\/index\.ts'/gm;

function loads(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(DOOR_IMPORT)) {
    const names = m[1];
    const typesOnly = names !== undefined && /^\{[^}]*\}$/.test(names.trim()) && names.replace(/[{}]/g, '').split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
    if (!typesOnly && m[2]) out.add(m[2]);
  }
  return out;
}

test('a module raises only codes of its own, shared ones, or those of a module it loads', () => {
  const catalogue = errorCatalogue();
  const all = [...files(join(root, 'src')), ...files(join(root, 'wallet'))];
  const loadedBy = new Map<string, Set<string>>();
  for (const file of all) {
    const mod = moduleOf(file);
    const set = loadedBy.get(mod) ?? new Set<string>();
    for (const m of loads(readFileSync(file, 'utf8'))) set.add(m);
    loadedBy.set(mod, set);
  }
  const problems: string[] = [];
  for (const file of all) {
    const mod = moduleOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(USES)) {
      const code = m[1] ?? '';
      const owner = catalogue.get(code)?.module;
      if (owner === undefined) {
        problems.push(`${relative(root, file)}: ${code} is in no module's table`);
        continue;
      }
      if (owner === 'shared' || owner === mod || loadedBy.get(mod)?.has(owner)) continue;
      problems.push(`${relative(root, file)}: ${code} is ${owner}'s, and ${mod} does not load ${owner}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the check sees a code raised without its module loaded, and an import type as loading nothing', () => {
  assert.deepEqual([...loads("import type { Wallet } from '../../wallet/index.ts';\nimport { type Config, type Network } from '../config/index.ts';")], []);
  assert.deepEqual([...loads("import { Wallet } from '../../wallet/index.ts';\nimport '../chain/index.ts';")], ['wallet', 'chain']);
  assert.deepEqual([..."throw new AgentError('WALLET_BAD_ADDRESS', 'x')".matchAll(USES)].map((m) => m[1]), ['WALLET_BAD_ADDRESS']);
});
