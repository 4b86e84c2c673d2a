// The ledger on its own: entries recorded once, balances that are the sum of their entries, freezing and
// thawing, and a storage sweep that never charges a period twice and agrees with the reference arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../src/db/index.ts';
import { openAgentDb } from '../../src/agent/modules.ts';
import { Ledger, storageMsatPerDay, egressMsat, GIB, DAY_MS } from '../../src/ledger/index.ts';

const T0 = Date.UTC(2026, 0, 1);

/** A stored file: the host's row, and its account in the ledger, charged for storage from `chargedUntil`. */
function addFile(db: Db, ledger: Ledger, id: string, size: bigint, chargedUntil = T0, stored = true): void {
  const address = `bcrt1q${id.padEnd(38, 'x')}`;
  db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, (SELECT coalesce(max(idx) + 1, 0) FROM wallet_addresses), ?, ?, 'upload', 0)").run(address, Buffer.from(id));
  db.prepare("INSERT INTO files (id, address, state, size, sha256, created_at, completed_at) VALUES (?, ?, 'active', ?, ?, 0, ?)").run(id, address, size, 'ab'.repeat(32), BigInt(chargedUntil));
  ledger.openAccount(id, size);
  if (stored) assert.equal(ledger.startCharging(id, new Date(chargedUntil)), true);
}

/** A file's account as the ledger keeps it; frozen while overdrawn. */
function file(db: Db, id: string) {
  return db
    .prepare("SELECT CASE WHEN overdrawn_at IS NULL THEN 'active' ELSE 'frozen' END AS state, balance_msat, overdrawn_at AS frozen_at, charged_until FROM file_accounts WHERE file_id = ?")
    .get(id) as { state: string; balance_msat: bigint; frozen_at: bigint | null; charged_until: bigint };
}

function setup() {
  const db = openAgentDb(':memory:');
  return { db, ledger: new Ledger(db) };
}

test('an entry is recorded once per (file, kind, ref) and moves the balance once', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'f1', 1000n);
  const e = { fileId: 'f1', kind: 'payment' as const, ref: 'tx:0/0', amountMsat: 5_000_000n, at: new Date(T0) };
  assert.equal(ledger.record(e), true);
  assert.equal(ledger.record(e), false);
  assert.equal(file(db, 'f1').balance_msat, 5_000_000n);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('a negative balance freezes an active file and a top-up back to zero or above thaws it', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'f1', 1000n);
  ledger.record({ fileId: 'f1', kind: 'egress', ref: 'd1', amountMsat: -1n, at: new Date(T0 + 5) });
  assert.equal(file(db, 'f1').state, 'frozen');
  assert.equal(file(db, 'f1').frozen_at, BigInt(T0 + 5));
  ledger.record({ fileId: 'f1', kind: 'payment', ref: 'tx:1/0', amountMsat: 1n, at: new Date(T0 + 6) });
  assert.equal(file(db, 'f1').state, 'active');
  assert.equal(file(db, 'f1').frozen_at, null);
});

test('the sweep charges size x price x time, never twice for the same period, and freezes files gone negative', () => {
  const { db, ledger } = setup();
  const price = 3_430n; // msat per GiB-day
  addFile(db, ledger, 'small', 13n);
  addFile(db, ledger, 'big', 4n * GIB);
  addFile(db, ledger, 'late', GIB, T0 + 12 * 3_600_000); // completed half a day later
  ledger.record({ fileId: 'big', kind: 'payment', ref: 'tx:0/0', amountMsat: 20_000n, at: new Date(T0) });
  ledger.record({ fileId: 'late', kind: 'payment', ref: 'tx:1/0', amountMsat: 1_000n, at: new Date(T0) });

  const day1 = new Date(T0 + Number(DAY_MS));
  assert.equal(ledger.sweepStorage(day1, price).files, 3);
  assert.equal(storageMsatPerDay(4n * GIB, price), 13_720n);
  assert.equal(file(db, 'big').balance_msat, 20_000n - 13_720n);
  assert.equal(file(db, 'small').balance_msat, -1n, 'a 13-byte file pays the 1 msat minimum per day');
  assert.equal(file(db, 'late').balance_msat, 1_000n - 3_430n / 2n, 'half a day for the late file');
  assert.equal(file(db, 'small').state, 'frozen');
  assert.equal(file(db, 'late').state, 'frozen');
  assert.equal(file(db, 'big').state, 'active');

  // The same moment again: nothing more.
  assert.equal(ledger.sweepStorage(day1, price).files, 0);
  assert.equal(file(db, 'big').balance_msat, 6_280n);
  // A second day: the big file goes negative and freezes at that time.
  const day2 = new Date(T0 + 2 * Number(DAY_MS));
  const r = ledger.sweepStorage(day2, price);
  assert.equal(r.files, 3);
  assert.equal(file(db, 'big').balance_msat, 6_280n - 13_720n);
  assert.equal(file(db, 'big').state, 'frozen');
  assert.equal(file(db, 'big').frozen_at, BigInt(day2.getTime()));
  assert.equal(file(db, 'big').charged_until, BigInt(day2.getTime()));
  // Every storage entry names its period.
  const refs = ledger.entries('big').filter((e) => e.kind === 'storage').map((e) => e.ref);
  assert.deepEqual(refs, [`${T0}-${day1.getTime()}`, `${day1.getTime()}-${day2.getTime()}`]);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('with a minimum period, a file is charged once per period, or at once when the charge would take it below zero', () => {
  const { db, ledger } = setup();
  const price = 3_430n;
  addFile(db, ledger, 'rich', GIB);
  addFile(db, ledger, 'poor', GIB);
  ledger.record({ fileId: 'rich', kind: 'payment', ref: 'tx:0/0', amountMsat: 1_000_000n, at: new Date(T0) });
  ledger.record({ fileId: 'poor', kind: 'payment', ref: 'tx:1/0', amountMsat: 4_000n, at: new Date(T0) });
  const hour = 3_600_000;
  // Hourly sweeps for a day: the rich file is left alone until its day is up; the poor one (3,430 a day)
  // is charged the hour its balance would go negative... which is never within this day: 4,000 > 3,430.
  for (let h = 1; h < 24; h++) assert.equal(ledger.sweepStorage(new Date(T0 + h * hour), price, DAY_MS).files, 0, `hour ${h}`);
  assert.equal(ledger.sweepStorage(new Date(T0 + 24 * hour), price, DAY_MS).files, 2);
  assert.equal(file(db, 'poor').balance_msat, 570n);
  // Day two: after 4 hours the poor file's 570 msat are used up (3,430 / 24 = 142.9 an hour), so it is charged
  // and frozen then, not at the end of the day.
  let frozenAt = 0;
  for (let h = 25; h <= 48 && frozenAt === 0; h++) {
    if (ledger.sweepStorage(new Date(T0 + h * hour), price, DAY_MS).frozen > 0) frozenAt = h;
  }
  assert.equal(frozenAt, 28);
  assert.equal(file(db, 'poor').state, 'frozen');
  assert.equal(file(db, 'rich').charged_until, BigInt(T0 + 24 * hour), 'the rich file waits for its day');
  // Only the sweeps that charged something are kept, each with its price.
  assert.deepEqual(db.prepare('SELECT at, storage_msat_per_gib_day AS price FROM storage_sweeps ORDER BY id').all(), [
    { at: BigInt(T0 + 24 * hour), price },
    { at: BigInt(T0 + 28 * hour), price },
  ]);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('with a minimum period, a frozen file is charged once per period, not at every run', () => {
  const { db, ledger } = setup();
  const price = 3_430n; // 100 MiB: 335 msat a day, 13 for its first hour
  addFile(db, ledger, 'unpaid', 100n * 1024n * 1024n);
  const hour = 3_600_000;
  const r = ledger.sweepStorage(new Date(T0 + hour), price, DAY_MS);
  assert.deepEqual(r, { files: 1, frozen: 1 }, 'an unpaid file is charged and frozen at once');
  assert.equal(file(db, 'unpaid').state, 'frozen');
  for (let h = 2; h <= 24; h++) assert.equal(ledger.sweepStorage(new Date(T0 + h * hour), price, DAY_MS).files, 0, `hour ${h}`);
  assert.equal(ledger.sweepStorage(new Date(T0 + 25 * hour), price, DAY_MS).files, 1);
  assert.equal(file(db, 'unpaid').balance_msat, -13n - 335n, 'its first hour, then a whole day');
  assert.equal(ledger.entries('unpaid').filter((e) => e.kind === 'storage').length, 2);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('deleted and pending files are not charged', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'gone', GIB);
  addFile(db, ledger, 'pending', GIB, T0, false);
  assert.equal(ledger.closeAccount('gone', new Date(T0 + 1)), true);
  assert.equal(ledger.closeAccount('gone', new Date(T0 + 2)), false, 'closed once');
  assert.equal(ledger.startCharging('gone', new Date(T0 + 3)), false, 'a closed account is not charged again');
  assert.equal(ledger.sweepStorage(new Date(T0 + Number(DAY_MS)), 3_430n).files, 0);
  assert.equal(file(db, 'gone').balance_msat, 0n);
  assert.equal(file(db, 'pending').balance_msat, 0n);
  assert.equal(ledger.account('pending', { now: new Date(T0 + Number(DAY_MS)), priceMsatPerGibDay: 3_430n })?.accruedMsat, 0n, 'a pending file owes nothing yet');
});

test('a balance reversed below zero before the file is stored is overdrawn from the file\'s completion', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'early', GIB, T0, false);
  ledger.record({ fileId: 'early', kind: 'payment', ref: 'tx:0/0', amountMsat: 1_000n, at: new Date(T0) });
  ledger.record({ fileId: 'early', kind: 'reversal', ref: 'tx:0/0', amountMsat: -2_000n, at: new Date(T0 + 1) });
  assert.equal(ledger.overdrawnSince(new Date(T0 + 10)).length, 0, 'a file not stored is not frozen, so never deleted');
  assert.equal(ledger.startCharging('early', new Date(T0 + 5)), true);
  assert.equal(file(db, 'early').frozen_at, BigInt(T0 + 5));
  assert.deepEqual(ledger.overdrawnSince(new Date(T0 + 5)), ['early']);
  assert.deepEqual(ledger.overdrawnSince(new Date(T0 + 4)), []);
  ledger.closeAccount('early', new Date(T0 + 6));
  assert.deepEqual(ledger.overdrawnSince(new Date(T0 + 10)), [], 'a closed account is not asked about again');
});

test('an entry for a file with no account is refused, and nothing of it is kept', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'f1', 1000n);
  db.prepare("INSERT INTO wallet_addresses (chain, idx, address, script, purpose, created_at) VALUES (0, 99, 'bcrt1qnoaccount', x'99', 'upload', 0)").run();
  db.prepare("INSERT INTO files (id, address, state, size, created_at) VALUES ('lost', 'bcrt1qnoaccount', 'pending', 10, 0)").run();
  assert.throws(() => ledger.record({ fileId: 'lost', kind: 'payment', ref: 'tx:9/0', amountMsat: 5n, at: new Date(T0) }), /no account/);
  assert.deepEqual(ledger.entries('lost'), []);
  assert.throws(() => ledger.openAccount('f1', 1000n), /UNIQUE/, 'one account per file');
});

test('a hold an earlier version left moves only held_msat, and its stale release never goes below zero', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'f1', 1000n);
  ledger.record({ fileId: 'f1', kind: 'payment', ref: 'tx:0/0', amountMsat: 100n, at: new Date(T0) });
  // Downloads hold in memory now (src/host/meter.ts); a hold in the table is one an earlier version wrote.
  db.prepare("UPDATE file_accounts SET held_msat = 50 WHERE file_id = 'f1'").run();
  assert.deepEqual([ledger.account('f1')?.balanceMsat, ledger.account('f1')?.heldMsat], [100n, 50n]);
  assert.throws(() => db.prepare("UPDATE file_accounts SET held_msat = -1 WHERE file_id = 'f1'").run(), /CHECK/, 'a hold never goes below zero');
  ledger.releaseStale('f1', 30n);
  assert.equal(ledger.account('f1')?.heldMsat, 20n);
  ledger.releaseStale('f1', 21n);
  assert.equal(ledger.account('f1')?.heldMsat, 0n, 'a stale release stops at zero');
  assert.equal(ledger.account('f1')?.balanceMsat, 100n);
  assert.equal(ledger.account('nope'), undefined);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test('a group commit records every entry once, in one transaction: all or none', () => {
  const { db, ledger } = setup();
  addFile(db, ledger, 'f1', 1000n);
  addFile(db, ledger, 'f2', 1000n);
  ledger.record({ fileId: 'f1', kind: 'payment', ref: 'tx:0/0', amountMsat: 100n, at: new Date(T0) });
  const at = new Date(T0 + 1);
  assert.deepEqual(
    ledger.recordAll([
      { fileId: 'f1', kind: 'egress', ref: 'd1', amountMsat: -10n, at },
      { fileId: 'f2', kind: 'egress', ref: 'd2', amountMsat: -20n, at },
    ]),
    [true, true],
  );
  // Written again (a retry after a commit whose answer was lost): nothing moves twice.
  assert.deepEqual(ledger.recordAll([{ fileId: 'f1', kind: 'egress', ref: 'd1', amountMsat: -10n, at }, { fileId: 'f1', kind: 'egress', ref: 'd3', amountMsat: -5n, at }]), [false, true]);
  assert.deepEqual([ledger.account('f1')?.balanceMsat, ledger.account('f2')?.balanceMsat], [85n, -20n]);
  assert.ok(ledger.account('f2')?.overdrawnAt, 'a balance taken below zero is overdrawn, as by record');
  // One entry that cannot be written undoes the whole group.
  assert.throws(() => ledger.recordAll([{ fileId: 'f1', kind: 'egress', ref: 'd4', amountMsat: -1n, at }, { fileId: 'lost', kind: 'egress', ref: 'd5', amountMsat: -1n, at }]));
  assert.equal(ledger.account('f1')?.balanceMsat, 85n);
  assert.equal(ledger.entries('f1').filter((e) => e.ref === 'd4').length, 0);
  assert.deepEqual(ledger.verifyBalances(), []);
});

test("a group commit moves each account once for all its entries, to where record's one at a time would have", () => {
  // Two twin ledgers: one records each entry on its own, the other the same entries as one group. Balances that
  // start above zero, below it, and cross it both ways, so overdrawn_at is set, kept and cleared.
  const one = setup();
  const group = setup();
  const starts = [50n, -5n, 0n, 30n];
  const steps = [-20n, -40n, 25n, -100n, 200n, -7n, -100n, 3n];
  for (const l of [one, group]) {
    starts.forEach((s, i) => {
      addFile(l.db, l.ledger, `f${i}`, 1000n);
      if (s !== 0n) l.ledger.record({ fileId: `f${i}`, kind: s > 0n ? 'payment' : 'reversal', ref: 'tx:0/0', amountMsat: s, at: new Date(T0) });
    });
  }
  // Interleaved across the files, each at its own time, so the time that overdrew each account is told apart.
  const entries = steps.flatMap((amountMsat, k) => starts.map((_, i) => ({ fileId: `f${i}`, kind: amountMsat < 0n ? ('egress' as const) : ('payment' as const), ref: `r${k}`, amountMsat: amountMsat * BigInt(i + 1), at: new Date(T0 + 1000 * k + i) })));
  for (const e of entries) one.ledger.record(e);
  assert.ok(group.ledger.recordAll(entries).every(Boolean));
  for (let i = 0; i < starts.length; i++) assert.deepEqual(file(group.db, `f${i}`), file(one.db, `f${i}`), `f${i}`);
  assert.ok(starts.some((_, i) => file(one.db, `f${i}`).frozen_at !== null), 'some account ends overdrawn');
  assert.ok(starts.some((_, i) => file(one.db, `f${i}`).frozen_at === null), 'some account ends above zero');
  assert.deepEqual(group.ledger.verifyBalances(), []);
});

test('the SQL charge agrees with the reference arithmetic, and stays exact at the extremes', () => {
  for (const [size, price, ms] of [
    [1n, 1n, 1n],
    [GIB, 3_430n, DAY_MS],
    [4n * GIB, 1_000_000_000n, DAY_MS * 36_500n], // a 4 GiB file at an absurd price for a century
    [123_456_789n, 77_777n, 3_600_001n],
  ] as const) {
    const { db, ledger } = setup();
    addFile(db, ledger, 'f', size);
    ledger.sweepStorage(new Date(T0 + Number(ms)), price);
    const expected = -((storageMsatPerDay(size, price) * ms) / DAY_MS);
    assert.equal(file(db, 'f').balance_msat, expected, `${size} bytes at ${price} for ${ms} ms`);
    assert.equal(typeof file(db, 'f').balance_msat, 'bigint', 'never a float');
  }
});

test('egress is charged per byte at the GiB price, rounded up', () => {
  assert.equal(egressMsat(0n, 12_000n), 0n);
  assert.equal(egressMsat(1n, 12_000n), 1n);
  assert.equal(egressMsat(GIB, 12_000n), 12_000n);
  assert.equal(egressMsat(GIB / 2n, 12_000n), 6_000n);
});
