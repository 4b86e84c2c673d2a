// Readiness and the ranking of evaluated proposals (src/family/selection.ts): pure functions, checked on their numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rank, rankCost, readiness, type Candidate } from '../../src/family/selection.ts';

const base = { force: false, reserveSat: 60_000n, hostingCostSatPerMonth: 6_000n, reserveMonths: 3, utilisationBps: 6_000n, minUtilisationBps: 5_000n };

test('readiness: a reserve of enough months and enough demand', () => {
  const r = readiness(base);
  assert.equal(r.ready, true);
  assert.match(r.reason, /10 month\(s\) of runway, utilisation 6000 bps/);
});

test('readiness: too small a reserve, too little demand, or both, each named', () => {
  const poor = readiness({ ...base, reserveSat: 17_999n });
  assert.equal(poor.ready, false);
  assert.match(poor.reason, /reserve of 17999 sat is below 3 month\(s\) of hosting \(18000 sat\)/);
  assert.equal(readiness({ ...base, reserveSat: 18_000n }).ready, true, 'exactly the months asked is enough');
  const idle = readiness({ ...base, utilisationBps: 4_999n });
  assert.equal(idle.ready, false);
  assert.match(idle.reason, /utilisation of 4999 bps is below 5000 bps/);
  const both = readiness({ ...base, reserveSat: 0n, utilisationBps: 0n });
  assert.equal(both.ready, false);
  assert.match(both.reason, /reserve.*; utilisation/);
});

test('readiness: forced (regtest) whatever the numbers, and says so', () => {
  const r = readiness({ ...base, force: true, reserveSat: 0n, utilisationBps: 0n });
  assert.equal(r.ready, true);
  assert.match(r.reason, /^forced/);
});

const c = (id: string, over: Partial<Candidate> = {}): Candidate => ({
  id, monthlySat: 30_000n, interestBps: 500n, checks: 10, checksPassed: 10, record: { terminated: 0, succeeded: 0 }, fundedAt: 1000n, ...over,
});

test('ranking: cheaper per month first, interest counted on top', () => {
  const ids = rank([c('dear', { monthlySat: 40_000n }), c('cheap', { monthlySat: 20_000n }), c('mid')]).map((x) => x.id);
  assert.deepEqual(ids, ['cheap', 'mid', 'dear']);
  // 30,000 at 50% interest costs more than 40,000 at 0%.
  assert.deepEqual(rank([c('greedy', { interestBps: 5_000n }), c('plain', { monthlySat: 40_000n, interestBps: 0n })]).map((x) => x.id), ['plain', 'greedy']);
});

test('ranking: a proposer whose children were terminated ranks below one with a clean record', () => {
  const ids = rank([c('burnt', { record: { terminated: 1, succeeded: 0 } }), c('fresh'), c('proven', { record: { terminated: 0, succeeded: 2 } })]).map((x) => x.id);
  assert.deepEqual(ids, ['proven', 'fresh', 'burnt']);
  // One terminated child outweighs a 20% cheaper month.
  assert.ok(rankCost(c('burnt', { monthlySat: 24_000n, record: { terminated: 1, succeeded: 0 } })) > rankCost(c('fresh')));
});

test('ranking: failed checks of the evaluation count against; ties go to the earliest funded, then the id', () => {
  assert.deepEqual(rank([c('flaky', { checksPassed: 9 }), c('clean')]).map((x) => x.id), ['clean', 'flaky']);
  assert.deepEqual(rank([c('b', { fundedAt: 5n }), c('late', { fundedAt: 9n }), c('a', { fundedAt: 5n })]).map((x) => x.id), ['a', 'b', 'late']);
  // Free proposals (billing 'credentials') still tell records apart.
  assert.ok(rankCost(c('free', { monthlySat: 0n })) < rankCost(c('free-burnt', { monthlySat: 0n, record: { terminated: 1, succeeded: 0 } })));
});
