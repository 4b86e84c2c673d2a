// A new id never starts with '-', which a command line would take for an option (`storj status <fileId>`); download
// ids sort by the time they were made and never repeat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ID_RE, newId, sortableIds } from '../../src/host/ids.ts';

test("newId draws again rather than give an id starting with '-', and every id it gives matches ID_RE", () => {
  // 0xf8: the first six bits are 62, base64url's '-'. The second draw starts with 0x00, an 'A'.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x00)];
  let calls = 0;
  const id = newId((n) => {
    assert.equal(n, 16);
    return draws[calls++] ?? assert.fail('drew more than twice');
  });
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-', 'the first draw would have started with -');
  assert.equal(calls, 2);
  assert.equal(id, Buffer.alloc(16, 0).toString('base64url'));
  assert.match(id, ID_RE);
});

test('sortableIds: in the order they were made, within a millisecond and across the clock, each once; two processes never share one', () => {
  let clock = 1_700_000_000_000;
  let draws = 0;
  const next = sortableIds((n) => {
    draws++;
    return randomBytes(n);
  }, () => clock);
  const ids: string[] = [];
  for (let i = 0; i < 2000; i++) {
    if (i % 700 === 0) clock += 1;
    ids.push(next());
  }
  assert.deepEqual([...ids].sort(), ids, 'string order is the order they were made');
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(draws, 1, "the process's random tag is drawn once");
  // Another process at the same moment, with the same sequence: told apart by its tag.
  clock = 1_700_000_000_000;
  const other = sortableIds(randomBytes, () => clock);
  const mine = sortableIds(randomBytes, () => clock);
  assert.notEqual(other(), mine());
});
