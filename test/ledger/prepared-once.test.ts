// The ledger compiles its statements and makes its transactions once, when it is built (src/ledger/repository.ts):
// recording an entry, which every download's settlement does, and every other call after that prepare nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Ledger } from '../../src/ledger/index.ts';
import { countCompiles } from '../helpers/stubs.ts';

const T0 = Date.UTC(2026, 0, 1);

test('after it is built, the ledger prepares no statement and makes no transaction, whatever it is asked', () => {
  const db = openAgentDb(':memory:');
  const address = 'bcrt1qfile0';
  db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 0, ?, x'00', 'upload', 0)").run(address);
  db.prepare("INSERT INTO files (id, address, state, size, sha256, created_at, completed_at) VALUES ('f1', ?, 'active', 1000, ?, 0, ?)").run(address, 'ab'.repeat(32), BigInt(T0));
  const ledger = new Ledger(db);
  const seen = countCompiles(db);

  ledger.openAccount('f1', 1000n);
  assert.equal(ledger.startCharging('f1', new Date(T0)), true);

  assert.equal(ledger.record({ fileId: 'f1', kind: 'payment', ref: 'tx:0/0', amountMsat: 5_000_000n, at: new Date(T0) }), true);
  assert.equal(ledger.record({ fileId: 'f1', kind: 'payment', ref: 'tx:0/0', amountMsat: 5_000_000n, at: new Date(T0) }), false);
  ledger.record({ fileId: 'f1', kind: 'reversal', ref: 'tx:0/1', amountMsat: -1n, at: new Date(T0 + 1) });
  // Both forms of the sweep: every stored file due, then only those whose period is up.
  assert.equal(ledger.sweepStorage(new Date(T0 + 86_400_000), 1_000_000n).files, 1);
  assert.equal(ledger.sweepStorage(new Date(T0 + 2 * 86_400_000), 1_000_000n, 3_600_000n).files, 1);
  assert.ok((ledger.account('f1', { now: new Date(T0 + 3 * 86_400_000), priceMsatPerGibDay: 1_000_000n })?.accruedMsat ?? 0n) > 0n);
  assert.ok(ledger.account('f1'));
  ledger.releaseStale('f1', 5n);
  assert.deepEqual(ledger.recordAll([{ fileId: 'f1', kind: 'egress', ref: 'd1', amountMsat: -1n, at: new Date(T0 + 2) }, { fileId: 'f1', kind: 'egress', ref: 'd1', amountMsat: -1n, at: new Date(T0 + 2) }]), [true, false]);
  assert.deepEqual(ledger.overdrawnSince(new Date(T0 + 3 * 86_400_000)), []);
  assert.equal(ledger.reversalsOf('f1', 'tx:0'), 1n);
  assert.ok(ledger.totalBalanceMsat() > 0n);
  assert.deepEqual(ledger.verifyBalances(), []);
  assert.equal(ledger.entries('f1').length, 5);
  assert.equal(ledger.closeAccount('f1', new Date(T0 + 3 * 86_400_000)), true);
  assert.equal(ledger.totalBalanceMsat(), 0n, 'a closed account is not counted');

  assert.deepEqual(seen, { prepared: [], transactions: 0 });
  db.close();
});
