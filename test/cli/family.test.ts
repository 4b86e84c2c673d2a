// `storj family`'s parts without a process: the answer of GET /v1/family checked field by field (an agent at the
// other end may be anyone's), and the text a person reads. The command against a real agent is in test/e2e.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../src/errors/index.ts';
import { parseFamily } from '../../src/cli/client/parse-family.ts';
import { familyJson, showFamily } from '../../src/cli/render/family.ts';
import type { Ui } from '../../src/cli/render/ui.ts';

const PARENT = 'a'.repeat(64);
const SELF = 'b'.repeat(64);
const CHILD = 'c'.repeat(64);
const CODE = 'd'.repeat(64);

const answer = () => ({
  self: { nodeId: SELF, url: 'http://127.0.0.1:8420', codeHash: CODE, parent: { nodeId: PARENT, url: 'http://127.0.0.1:9000' } },
  children: [
    { proposalId: 'p1', nodeId: CHILD, url: 'http://127.0.0.1:9100', state: 'proxied', since: '2026-12-03T08:00:00.000Z', codeHash: CODE, trafficShare: 0.25, revenueSat: 1200, shareOwedSat: 120, sharePaidSat: 100 },
    { proposalId: 'p2', nodeId: PARENT, url: 'http://127.0.0.1:9200', state: 'testing', since: '2026-12-03T09:00:00.000Z', codeHash: 'e'.repeat(64), trafficShare: 0, revenueSat: 0, shareOwedSat: 0, sharePaidSat: 0 },
  ],
});

function lines(): { ui: Ui; out: string[] } {
  const out: string[] = [];
  return { out, ui: { say: (l = '') => out.push(l), emit: () => undefined } as unknown as Ui };
}

test('a family answer parses into the agent, its parent and its children, amounts as bigint satoshis', () => {
  const f = parseFamily(answer());
  assert.equal(f.self.nodeId, SELF);
  assert.deepEqual(f.self.parent, { nodeId: PARENT, url: 'http://127.0.0.1:9000/' });
  assert.equal(f.children.length, 2);
  assert.equal(f.children[0]!.shareOwedSat, 120n);
  assert.equal(f.children[0]!.state, 'proxied');
  assert.deepEqual(familyJson(f).children, [
    { ...answer().children[0], url: 'http://127.0.0.1:9100/' },
    { ...answer().children[1], url: 'http://127.0.0.1:9200/' },
  ]);
  const first = parseFamily({ self: { nodeId: SELF, url: 'http://127.0.0.1:8420', codeHash: null }, children: [] });
  assert.equal(first.self.parent, undefined);
  assert.equal(first.self.codeHash, null);
});

test('a malformed family answer is refused with AGENT_BAD_RESPONSE, naming the field', () => {
  const cases: Array<[string, (a: ReturnType<typeof answer>) => unknown]> = [
    ['not an object', () => []],
    ['nodeId', (a) => ({ ...a, self: { ...a.self, nodeId: 'xyz' } })],
    ['url', (a) => ({ ...a, self: { ...a.self, url: 'javascript:alert(1)' } })],
    ['codeHash', (a) => ({ ...a, self: { ...a.self, codeHash: 'ABC' } })],
    ['children', (a) => ({ ...a, children: {} })],
    ['state', (a) => ({ ...a, children: [{ ...a.children[0], state: 'alive' }] })],
    ['trafficShare', (a) => ({ ...a, children: [{ ...a.children[0], trafficShare: 2 }] })],
    ['shareOwedSat', (a) => ({ ...a, children: [{ ...a.children[0], shareOwedSat: 1.5 }] })],
    ['revenueSat', (a) => ({ ...a, children: [{ ...a.children[0], revenueSat: -1 }] })],
    ['proposalId', (a) => ({ ...a, children: [{ ...a.children[0], proposalId: '../x' }] })],
  ];
  for (const [field, make] of cases) {
    assert.throws(() => parseFamily(make(answer())), (e: unknown) => e instanceof AgentError && e.code === 'AGENT_BAD_RESPONSE' && (field === 'not an object' || e.message.includes(field)), field);
  }
});

test('the text names the parent, and tells a clone (same code hash) from a mutant', () => {
  const { ui, out } = lines();
  showFamily(ui, parseFamily(answer()));
  const text = out.join('\n');
  assert.match(text, new RegExp(`parent\\s+${PARENT} at http://127.0.0.1:9000/`));
  assert.match(text, /children\s+2/);
  assert.match(text, /proxied .* clone/);
  assert.match(text, /testing .* mutant eeeeeeeeeeeeeeee…/);
  assert.match(text, /share 100 of 120 sat paid/);
  const none = lines();
  showFamily(none.ui, parseFamily({ self: { nodeId: SELF, url: 'http://127.0.0.1:8420', codeHash: null }, children: [] }));
  assert.match(none.out.join('\n'), /parent\s+none/);
  assert.match(none.out.join('\n'), /children\s+none/);
});
