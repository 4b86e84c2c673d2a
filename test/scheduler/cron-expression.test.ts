// The cron expression reader and next-run calculator (src/scheduler/cron.ts): the jobs' expressions at awkward
// times, each field form, bad expressions, and a cross-check against a brute-force matcher written apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAgentError } from '../../src/errors/index.ts';
import { nextCronRun, parseCron } from '../../src/scheduler/cron.ts';

/** The next run after the ISO time `after`, as an ISO time. */
function next(expression: string, after: string): string {
  return new Date(nextCronRun(parseCron(expression), Date.parse(after))).toISOString();
}

/** The next `count` runs after `after`, each from the one before. */
function runs(expression: string, after: string, count: number): string[] {
  const schedule = parseCron(expression);
  const out: string[] = [];
  let t = Date.parse(after);
  for (let i = 0; i < count; i++) {
    t = nextCronRun(schedule, t);
    out.push(new Date(t).toISOString());
  }
  return out;
}

void test("the jobs' expressions at the end of a minute, day, month, leap day and year", () => {
  // Every 10 s (the chain watcher, the family's jobs), every 30 s (refunds).
  assert.deepEqual(runs('*/10 * * * * *', '2024-02-28T23:59:45Z', 3), ['2024-02-28T23:59:50.000Z', '2024-02-29T00:00:00.000Z', '2024-02-29T00:00:10.000Z']);
  assert.equal(next('*/10 * * * * *', '2024-02-29T23:59:59.999Z'), '2024-03-01T00:00:00.000Z');
  assert.equal(next('*/10 * * * * *', '2023-02-28T23:59:55Z'), '2023-03-01T00:00:00.000Z');
  assert.equal(next('*/10 * * * * *', '2024-12-31T23:59:59Z'), '2025-01-01T00:00:00.000Z');
  // Strictly after: a time on a run gives the one after it, a time just before gives it.
  assert.equal(next('*/10 * * * * *', '2024-06-30T12:00:10.000Z'), '2024-06-30T12:00:20.000Z');
  assert.equal(next('*/10 * * * * *', '2024-06-30T12:00:09.999Z'), '2024-06-30T12:00:10.000Z');
  assert.deepEqual(runs('*/30 * * * * *', '2024-12-31T23:59:29.5Z', 3), ['2024-12-31T23:59:30.000Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:30.000Z']);
  // Hourly at minute 0 (the sweep) and 5 (deletion).
  assert.equal(next('0 * * * *', '2024-12-31T23:59:59Z'), '2025-01-01T00:00:00.000Z');
  assert.equal(next('0 * * * *', '2024-03-31T23:00:00Z'), '2024-04-01T00:00:00.000Z');
  assert.deepEqual(runs('5 * * * *', '2024-02-29T22:05:00Z', 3), ['2024-02-29T23:05:00.000Z', '2024-03-01T00:05:00.000Z', '2024-03-01T01:05:00.000Z']);
  assert.equal(next('5 * * * *', '2024-12-31T23:04:59.999Z'), '2024-12-31T23:05:00.000Z');
  assert.equal(next('5 * * * *', '2024-12-31T23:05:00Z'), '2025-01-01T00:05:00.000Z');
  // Daily at midnight (pricing).
  assert.deepEqual(runs('0 0 * * *', '2024-02-27T23:59:59Z', 4), ['2024-02-28T00:00:00.000Z', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z', '2024-03-02T00:00:00.000Z']);
  assert.deepEqual(runs('0 0 * * *', '2023-02-28T00:00:00Z', 1), ['2023-03-01T00:00:00.000Z']);
  assert.equal(next('0 0 * * *', '2024-12-31T00:00:00Z'), '2025-01-01T00:00:00.000Z');
  assert.equal(next('0 0 * * *', '2024-12-31T23:59:59.999Z'), '2025-01-01T00:00:00.000Z');
  // Every second, the real-time test's expression.
  assert.equal(next('* * * * * *', '2024-12-31T23:59:59.001Z'), '2025-01-01T00:00:00.000Z');
});

void test('each field form: numbers, ranges, steps, lists, both day fields, Sunday as 0 and 7', () => {
  assert.deepEqual(runs('15,45 * * * * *', '2024-01-01T00:00:00Z', 3), ['2024-01-01T00:00:15.000Z', '2024-01-01T00:00:45.000Z', '2024-01-01T00:01:15.000Z']);
  assert.deepEqual(runs('0 10-12 * * * *', '2024-01-01T00:11:00Z', 3), ['2024-01-01T00:12:00.000Z', '2024-01-01T01:10:00.000Z', '2024-01-01T01:11:00.000Z']);
  assert.deepEqual(runs('0 0 8-18/5 * * *', '2024-01-01T00:00:00Z', 4), ['2024-01-01T08:00:00.000Z', '2024-01-01T13:00:00.000Z', '2024-01-01T18:00:00.000Z', '2024-01-02T08:00:00.000Z']);
  assert.deepEqual(runs('*/20 1-2,5 * * *', '2024-01-01T00:00:00Z', 7).map((s) => s.slice(11, 16)), ['01:00', '01:20', '01:40', '02:00', '02:20', '02:40', '05:00']);
  // Day 31 only in the months that have one; a leap day only in leap years (2100 is not one).
  assert.deepEqual(runs('0 0 31 * *', '2024-01-31T00:00:00Z', 3), ['2024-03-31T00:00:00.000Z', '2024-05-31T00:00:00.000Z', '2024-07-31T00:00:00.000Z']);
  assert.deepEqual(runs('0 0 29 2 *', '2024-02-29T00:00:00Z', 1), ['2028-02-29T00:00:00.000Z']);
  assert.deepEqual(runs('0 0 29 2 *', '2097-01-01T00:00:00Z', 1), ['2104-02-29T00:00:00.000Z']);
  // Months: the last day of February and of December.
  assert.deepEqual(runs('59 23 28-29 2 *', '2024-01-01T00:00:00Z', 3), ['2024-02-28T23:59:00.000Z', '2024-02-29T23:59:00.000Z', '2025-02-28T23:59:00.000Z']);
  assert.deepEqual(runs('59 59 23 31 12 *', '2024-06-01T00:00:00Z', 2), ['2024-12-31T23:59:59.000Z', '2025-12-31T23:59:59.000Z']);
  // Day of week alone (2024-01-01 was a Monday); 0 and 7 are both Sunday.
  assert.deepEqual(runs('0 12 * * 7', '2024-01-01T00:00:00Z', 2), ['2024-01-07T12:00:00.000Z', '2024-01-14T12:00:00.000Z']);
  assert.deepEqual(runs('0 12 * * 0', '2024-01-01T00:00:00Z', 2), ['2024-01-07T12:00:00.000Z', '2024-01-14T12:00:00.000Z']);
  assert.deepEqual(runs('0 0 * * 1-5/2', '2024-01-01T00:00:00Z', 4).map((s) => s.slice(0, 10)), ['2024-01-03', '2024-01-05', '2024-01-08', '2024-01-10']);
  // Both restricted: either matches (the 13th, and every Friday: 2024-09-06 and 13 are Fridays).
  assert.deepEqual(runs('0 0 13 * 5', '2024-09-01T00:00:00Z', 4).map((s) => s.slice(0, 10)), ['2024-09-06', '2024-09-13', '2024-09-20', '2024-09-27']);
  assert.deepEqual(runs('0 0 13 * 5', '2024-09-27T00:00:00Z', 2).map((s) => s.slice(0, 10)), ['2024-10-04', '2024-10-11']);
  // Day of month restricted and day of week `*`: the day of month alone, and the other way round.
  assert.deepEqual(runs('0 0 1 * *', '2024-01-01T00:00:00Z', 2).map((s) => s.slice(0, 10)), ['2024-02-01', '2024-03-01']);
  // A step over a whole field (`*/2` days of the week) restricts it: so with a day of month, either matches.
  assert.deepEqual(runs('0 0 2 * */3', '2024-01-01T00:00:00Z', 4).map((s) => s.slice(0, 10)), ['2024-01-02', '2024-01-03', '2024-01-06', '2024-01-07']);
  // Whitespace around and between the fields is not a field.
  assert.equal(next('  0   0\t* * *  ', '2024-01-01T00:00:00Z'), '2024-01-02T00:00:00.000Z');
});

void test('bad expressions are JOB_INVALID, with the reason in the message', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /5 fields/],
    ['* * * *', /5 fields/],
    ['* * * * * * *', /5 fields/],
    ['every hour', /5 fields/],
    ['61 * * * *', /minute is 0-59/],
    ['60 * * * * *', /second is 0-59/],
    ['0 24 * * *', /hour is 0-23/],
    ['0 0 0 * *', /day-of-month is 1-31/],
    ['0 0 32 * *', /day-of-month is 1-31/],
    ['0 0 * 0 *', /month is 1-12/],
    ['0 0 * 13 *', /month is 1-12/],
    ['0 0 * * 8', /day-of-week is 0-7/],
    ['0 0 * JAN *', /not \*, n, a-b/],
    ['0 0 * * MON', /not \*, n, a-b/],
    ['10-5 * * * *', /backwards/],
    ['*/0 * * * *', /at least 1/],
    ['5/10 * * * *', /needs \* or a range/],
    ['1,,2 * * * *', /not \*, n, a-b/],
    ['-1 * * * *', /not \*, n, a-b/],
    ['*/ * * * *', /not \*, n, a-b/],
    ['1.5 * * * *', /not \*, n, a-b/],
    ['? * * * *', /not \*, n, a-b/],
    ['0 0 30 2 *', /no allowed month/],
    ['0 0 31 4,6,9,11 *', /no allowed month/],
  ];
  for (const [expression, reason] of bad) {
    assert.throws(
      () => parseCron(expression),
      (e) => isAgentError(e, 'JOB_INVALID') && reason.test(e.message) && e.details?.['cron'] === expression,
      JSON.stringify(expression),
    );
  }
  // A day the month lacks is fine while another allowed month has it, or the day of week is restricted too.
  assert.equal(next('0 0 30 2,3 *', '2024-01-01T00:00:00Z'), '2024-03-30T00:00:00.000Z');
  assert.equal(next('0 0 30 2 1', '2024-01-01T00:00:00Z'), '2024-02-05T00:00:00.000Z');
});

// ---- The cross-check: a matcher that reads the expression itself and tries each second in turn. ----

const RANGES: ReadonlyArray<[number, number]> = [[0, 59], [0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

function expand(field: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', step = '1'] = part.split('/');
    const [a, b] = range === '*' ? [min, max] : range.includes('-') ? range.split('-').map(Number) : [Number(range), Number(range)];
    for (let v = a!; v <= b!; v += Number(step)) out.add(v);
  }
  return out;
}

/** Whether each of the day, the hour, the minute and the second of `ms` matches `fields` (6 of them). */
function matcher(fields: string[]): { day(ms: number): boolean; hour(ms: number): boolean; minute(ms: number): boolean; second(ms: number): boolean } {
  const [sec, min, hour, dom, mon, dow] = fields.map((f, i) => expand(f, ...RANGES[i]!));
  if (dow!.has(7)) dow!.add(0);
  return {
    day(ms) {
      const d = new Date(ms);
      if (!mon!.has(d.getUTCMonth() + 1)) return false;
      const byDom = dom!.has(d.getUTCDate());
      const byDow = dow!.has(d.getUTCDay());
      if (fields[3] === '*' && fields[5] === '*') return true;
      if (fields[3] === '*') return byDow;
      if (fields[5] === '*') return byDom;
      return byDom || byDow;
    },
    hour: (ms) => hour!.has(new Date(ms).getUTCHours()),
    minute: (ms) => min!.has(new Date(ms).getUTCMinutes()),
    second: (ms) => sec!.has(new Date(ms).getUTCSeconds()),
  };
}

/** The first matching second after `afterMs`, trying each day, then each hour, minute and second of the ones that match; undefined if none in 10 years. */
function bruteNext(expression: string, afterMs: number): number | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length === 5) fields.unshift('0');
  const m = matcher(fields);
  const DAY = 86_400_000;
  let t = Math.floor(afterMs / 1000) * 1000 + 1000;
  while (t < afterMs + 3660 * DAY) {
    if (!m.day(t)) t = Math.floor(t / DAY) * DAY + DAY;
    else if (!m.hour(t)) t = Math.floor(t / 3_600_000) * 3_600_000 + 3_600_000;
    else if (!m.minute(t)) t = Math.floor(t / 60_000) * 60_000 + 60_000;
    else if (!m.second(t)) t += 1000;
    else return t;
  }
  return undefined;
}

/** One part of a field: `*`, n, a-b, `*`/n or a-b/n, within [min, max]. */
function partOf(min: number, max: number): fc.Arbitrary<string> {
  const n = fc.integer({ min, max });
  const range = fc.tuple(n, n).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc.integer({ min: 1, max: Math.max(1, max - min) });
  return fc.oneof(
    fc.constant('*'),
    n.map(String),
    range,
    step.map((s) => `*/${s}`),
    fc.tuple(range, step).map(([r, s]) => `${r}/${s}`),
  );
}

function fieldOf(min: number, max: number): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: partOf(min, max) }, { weight: 1, arbitrary: fc.array(partOf(min, max), { minLength: 2, maxLength: 3 }).map((p) => p.join(',')) });
}

const expressionArb = fc
  .tuple(fc.boolean(), ...RANGES.map(([min, max]) => fieldOf(min, max)))
  .map(([withSeconds, ...fields]) => (withSeconds ? fields : fields.slice(1)).join(' '));

const AWKWARD = ['2024-02-28T23:59:59Z', '2024-02-29T23:59:59Z', '2023-02-28T23:59:59Z', '2024-12-31T23:59:59Z', '2100-02-28T23:59:59Z', '2024-04-30T23:59:59Z', '2038-01-19T03:14:07Z'].map(Date.parse);
// Times near the ends of days, months and years (and leap days), near the end of any hour, and anywhere from
// 1970 to 2199.
const timeArb = fc.oneof(
  fc.integer({ min: 0, max: Date.UTC(2199, 11, 31) }),
  fc.tuple(fc.constantFrom(...AWKWARD), fc.integer({ min: -2000, max: 2000 })).map(([t, d]) => t + d),
  fc.tuple(fc.integer({ min: 0, max: 80_000 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 50, max: 59 }), fc.integer({ min: 0, max: 59_999 })).map(([day, h, m, ms]) => Date.UTC(2000, 0, 1 + day, h, m) + ms),
);

void test('the next run is the first second a brute-force matcher finds, for random expressions and times', () => {
  fc.assert(
    fc.property(expressionArb, timeArb, (expression, after) => {
      const brute = bruteNext(expression, after);
      let schedule;
      try {
        schedule = parseCron(expression);
      } catch (e) {
        // Refused only when no second ever matches.
        assert.ok(isAgentError(e, 'JOB_INVALID') && /no allowed month/.test(e.message), String(e));
        assert.equal(brute, undefined, `${expression} was refused but matches ${String(brute)}`);
        return;
      }
      assert.equal(nextCronRun(schedule, after), brute, `${expression} after ${new Date(after).toISOString()}`);
    }),
    { numRuns: 1000 },
  );
});
