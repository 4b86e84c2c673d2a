// Keeps the error catalogue (src/errors) and its documentation (README.md, "Error codes") in sync, so every
// code a client can meet is documented with the status it comes with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AgentError, defineErrors, errorCatalogue } from '../src/errors/index.ts';
// Every module's codes are in the catalogue once its module has loaded: the agent's composition root loads the
// agent's, the CLI's are beside its entry point, and the devnet's load with it (the agent loads it only on regtest).
import '../src/agent/index.ts';
import '../src/cli/errors.ts';
import '../src/devnet/index.ts';
// The end-to-end encryption's load with the CLI commands that use them.
import '../src/e2e/index.ts';

const ERRORS = Object.fromEntries(errorCatalogue());

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function documented(): Map<string, number> {
  const section = readme.split(/^## Error codes\s*$/m)[1];
  assert.ok(section, 'README.md has an "## Error codes" section');
  const table = section.split(/^## /m)[0] ?? '';
  const rows = new Map<string, number>();
  for (const line of table.split('\n')) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m?.[1] && m[2]) rows.set(m[1], Number(m[2]));
  }
  return rows;
}

test('every catalogue code is documented in the README with its status, and nothing else is', () => {
  const docs = documented();
  const codes = Object.keys(ERRORS);
  for (const code of codes) {
    assert.ok(docs.has(code), `${code} is documented in README.md`);
    assert.equal(docs.get(code), ERRORS[code]?.status, `${code}'s status in README.md`);
  }
  for (const code of docs.keys()) assert.ok(code in ERRORS, `README.md documents ${code}, which is not in the catalogue`);
});

test('codes are SCREAMING_SNAKE and statuses are 4xx/5xx', () => {
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.match(code, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(e.status >= 400 && e.status < 600, code);
    assert.ok(e.description.length > 10, `${code} has a description`);
  }
});

test('an AgentError carries its catalogue status', () => {
  const e = new AgentError('UNAUTHORIZED', 'nope');
  assert.equal(e.status, 401);
  assert.equal(e.code, 'UNAUTHORIZED');
});

test('each code is declared by one module, and a second declaration of it fails when its module loads', () => {
  const modules = new Set([...errorCatalogue().values()].map((d) => d.module));
  for (const m of ['shared', 'money', 'wallet', 'chain', 'storage', 'scheduler', 'host', 'devnet', 'cli', 'e2e']) assert.ok(modules.has(m), `${m} declares its codes`);
  assert.equal(errorCatalogue().get('FILE_FROZEN')?.module, 'host');
  assert.throws(() => defineErrors('another', { FILE_FROZEN: { status: 402, description: 'the same code again' } }), /FILE_FROZEN of another is already declared by host/);
  assert.equal(errorCatalogue().get('FILE_FROZEN')?.module, 'host', 'the first declaration stands');
});

test('an AgentError of a module\'s code carries that module\'s status', () => {
  assert.equal(new AgentError('FILE_FROZEN', 'frozen').status, 402);
  assert.equal(new AgentError('WALLET_BAD_PASSPHRASE', 'no').status, 401);
});
