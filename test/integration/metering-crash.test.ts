// kill -9 of a real agent process (`storj run`) under a load of small downloads, then a restart on the same
// data dir (docs/metering.md): balances are the sums of their entries, no charge is counted twice, and the
// egress left uncharged is within the bound the group commit's settings give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { egressMsat } from '../../src/ledger/index.ts';
import { api, initTestDataDir, spawnAgent, startDevnet, startTestAgent, tempDir } from '../helpers/agent.ts';
import { paidFile } from '../helpers/paid.ts';

const SIZE = 4096;
/** Charges of 16 downloads make a group commit; the timer is far off, so the bytes decide. */
const BATCH_BYTES = 16 * SIZE;
const CLIENTS = 8;

test('kill -9 under small downloads: balances stay the sums of their entries, nothing is charged twice, and the loss is within the bound', async (t) => {
  const devnet = await startDevnet(t);
  const dataDir = tempDir(t);
  await initTestDataDir(dataDir);
  const proc = await spawnAgent(t, dataDir, devnet, { STORJ_METER_BATCH_BYTES: String(BATCH_BYTES), STORJ_METER_BATCH_MS: '60000' });
  const body = randomBytes(SIZE);
  const { fileId } = await paidFile(api(proc.url), body, { downloads: 100_000 });
  const link = `${proc.url}/f/${fileId}`;

  // Clients that download the file over and over, counting every whole 200 they receive, until the agent dies.
  let served = 0;
  let refused = 0;
  let stop = false;
  const client = async (): Promise<void> => {
    while (!stop) {
      try {
        const r = await fetch(link);
        const got = await r.arrayBuffer();
        if (r.status === 200 && got.byteLength === SIZE) served++;
        else refused++;
      } catch {
        return; // the agent is gone
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, () => client());
  // Killed at a moment the load picks, not a time: once some group commits have run and more is on the way.
  for (let i = 0; i < 2400 && served < 20 * (BATCH_BYTES / SIZE) + 7; i++) await new Promise((r) => setTimeout(r, 25));
  await proc.kill9();
  stop = true;
  await Promise.all(clients);
  assert.equal(refused, 0, 'the balance covered every download');
  assert.ok(served > 20 * (BATCH_BYTES / SIZE), `${served} downloads served before the kill`);

  // The next start, in this process, on the same data dir.
  const a = await startTestAgent(t, { devnet, dataDir, init: false });
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), [], 'every balance is the sum of its entries');
  const cost = egressMsat(BigInt(SIZE), a.agent.host.currentPrices()?.egressMsatPerGib ?? 0n);
  const egress = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
  assert.ok(egress.length > 0, 'group commits ran before the kill');
  assert.equal(new Set(egress.map((e) => e.ref)).size, egress.length, 'each download charged once');
  assert.ok(egress.every((e) => e.amountMsat === -cost), 'each at the price of its bytes');
  const rows = a.agent.db.prepare('SELECT id, bytes_sent FROM downloads WHERE file_id = ?').all(fileId) as Array<{ id: string; bytes_sent: bigint }>;
  assert.deepEqual(rows.map((r) => r.id).sort(), egress.map((e) => e.ref).sort(), 'each written download has its one charge');
  // Uncharged: the group not yet committed (under BATCH_BYTES, i.e. fewer than 16 downloads) and the downloads
  // in flight (one per client). More than that, or a charge the clients never received, would be a bug.
  const charged = egress.length;
  const lost = served - charged;
  assert.ok(charged <= served + CLIENTS, `${charged} charged for ${served} received`);
  assert.ok(lost * SIZE < BATCH_BYTES + CLIENTS * SIZE, `${lost} downloads uncharged, within the bound of ${BATCH_BYTES / SIZE - 1} waiting + ${CLIENTS} in flight`);

  // The restarted agent goes on from there: a new download is one more charge, none of the old ones again.
  const r = await fetch(`${a.agent.url}/f/${fileId}`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  for (let i = 0; i < 400 && a.agent.host.pendingSettlements === 0; i++) await new Promise((r2) => setTimeout(r2, 25));
  a.agent.host.retryPendingWrites();
  const after = a.agent.host.ledger.entries(fileId).filter((e) => e.kind === 'egress');
  assert.equal(after.length, charged + 1);
  assert.equal(new Set(after.map((e) => e.ref)).size, after.length);
  assert.deepEqual(a.agent.host.ledger.verifyBalances(), []);
});
