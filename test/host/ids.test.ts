// A new id never starts with '-', which a command line would take for an option (`storj status <fileId>`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ID_RE, newId } from '../../src/host/ids.ts';

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
