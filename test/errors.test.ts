// Keeps the error catalogue (src/errors) and its documentation (README.md, "Error codes") in sync, so every
// code a client can meet is documented with the status it comes with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, AgentError } from '../src/errors/index.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function documented(): Map<string, number> {
  const section = readme.split(/^## Error codes\s*$/m)[1];
  assert.ok(section, 'README.md has an "## Error codes" section');
  const table = section.split(/^## /m)[0] ?? '';
  const rows = new Map<string, number>();
  for (const line of table.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m?.[1] && m[2]) rows.set(m[1], Number(m[2]));
  }
  return rows;
}

test('every catalogue code is documented in the README with its status, and nothing else is', () => {
  const docs = documented();
  const codes = Object.keys(ERRORS);
  for (const code of codes) {
    assert.ok(docs.has(code), `${code} is documented in README.md`);
    assert.equal(docs.get(code), ERRORS[code as keyof typeof ERRORS].status, `${code}'s status in README.md`);
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
