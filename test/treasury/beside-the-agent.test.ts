// Handing out an address from a second process (`storj wallet address` beside a running agent): the transaction
// takes the write lock when it begins, so no other process's commit can land between its read of the next index
// and its insert. A deferred one failed there at once with SQLITE_BUSY ("database is locked"; CI met it), which
// the busy timeout does not cover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAgentDb } from '../../src/agent/modules.ts';
import { TreasuryRepository } from '../../src/treasury/repository.ts';

test('reserveAddress holds the write lock from its start: another connection cannot commit in the middle of it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storj-treasury-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = openAgentDb(join(dir, 'agent.db'));
  const agent = openAgentDb(join(dir, 'agent.db'));
  t.after(() => {
    cli.close();
    agent.close();
  });
  // The other side gives up at once instead of waiting out the busy timeout.
  agent.pragma('busy_timeout = 0');
  const repo = new TreasuryRepository(cli);
  let refused: unknown;
  const got = repo.reserveAddress(0, 'receive', 1n, (index) => {
    // Between the read of the next index and the insert, the agent writes.
    try {
      agent.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, 'bcrt1qagent', x'01', 'upload', 0)").run();
    } catch (e) {
      refused = e;
    }
    return { address: `bcrt1qcli${index}`, script: Buffer.from([index]) };
  });
  assert.deepEqual(got, { address: 'bcrt1qcli0', index: 0 });
  assert.match(String(refused), /database is locked/, 'the agent had to wait for the lock');
  assert.deepEqual(
    agent.prepare('SELECT idx, address FROM wallet_addresses ORDER BY idx').all(),
    [{ idx: 0n, address: 'bcrt1qcli0' }],
  );
});
