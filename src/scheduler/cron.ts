/**
 * Cron expressions, read in UTC: the reader and the next-run calculator the scheduler (src/scheduler/scheduler.ts)
 * times its jobs with. Only `Date`'s UTC fields are used, never `Intl` or a local-time getter: computing a run
 * time this way touches none of ICU's data (docs/memory.md, "The node binary's pages").
 *
 * An expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; a 5-field
 * one runs at second 0. Each field is a comma list of `*`, `n`, `a-b`, `*` + `/step` or `a-b/step`, with the
 * ranges second 0-59, minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7 (0 and 7 are
 * Sunday). Names (JAN, MON) are not read: the jobs' expressions are written by the code, in numbers.
 *
 * Day-of-month and day-of-week combine as cron combines them: when both are restricted (neither is written as a
 * bare `*`), a day matching either runs; otherwise the restricted one alone decides.
 */
import { AgentError } from '../errors/index.ts';

/** A parsed expression: for each field, which values it allows. */
export interface CronSchedule {
  readonly expression: string;
  readonly second: readonly boolean[];
  readonly minute: readonly boolean[];
  readonly hour: readonly boolean[];
  /** Index 1-31. */
  readonly dayOfMonth: readonly boolean[];
  /** Index 1-12. */
  readonly month: readonly boolean[];
  /** Index 0-6, Sunday 0 (a 7 in the expression is folded into 0). */
  readonly dayOfWeek: readonly boolean[];
  /** Whether day-of-month, day-of-week is written as a bare `*`. */
  readonly dayOfMonthStar: boolean;
  readonly dayOfWeekStar: boolean;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
];

/** The most days each month can have (February in a leap year). */
const MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const PART_RE = /^(?:(\*)|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/;

function invalid(expression: string, reason: string): AgentError {
  return new AgentError('JOB_INVALID', `invalid cron expression "${expression.slice(0, 100)}": ${reason}`, { cron: expression.slice(0, 100) });
}

/** The values one field allows, indexed by value, 0..spec.max. */
function parseField(expression: string, text: string, spec: FieldSpec): boolean[] {
  const allowed: boolean[] = new Array<boolean>(spec.max + 1).fill(false);
  for (const part of text.split(',')) {
    const m = PART_RE.exec(part);
    if (!m) throw invalid(expression, `${spec.name} field "${text}": "${part}" is not *, n, a-b, */step or a-b/step`);
    const [, star, first, last, step] = m;
    // A lone number with a step (`5/10`) is not read: cron implementations disagree on what it means.
    if (first !== undefined && last === undefined && step !== undefined) {
      throw invalid(expression, `${spec.name} field "${text}": a step needs * or a range before it`);
    }
    const from = star ? spec.min : Number(first);
    const to = star ? spec.max : last !== undefined ? Number(last) : from;
    const by = step !== undefined ? Number(step) : 1;
    if (from < spec.min || to > spec.max) throw invalid(expression, `${spec.name} field "${text}": ${spec.name} is ${spec.min}-${spec.max}`);
    if (from > to) throw invalid(expression, `${spec.name} field "${text}": the range ${from}-${to} is backwards`);
    if (by < 1) throw invalid(expression, `${spec.name} field "${text}": a step is at least 1`);
    for (let v = from; v <= to; v += by) allowed[v] = true;
  }
  return allowed;
}

/**
 * Reads a cron expression.
 * @throws AgentError JOB_INVALID when it is not 5 or 6 fields of the forms above, a value is out of its range,
 * or it can never match (a day-of-month no allowed month has, such as `0 0 30 2 *`).
 */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) throw invalid(expression, 'it has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first');
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = parts.map((text, i) => parseField(expression, text, FIELDS[i]!)) as [
    boolean[],
    boolean[],
    boolean[],
    boolean[],
    boolean[],
    boolean[],
  ];
  if (dayOfWeek[7]) dayOfWeek[0] = true;
  dayOfWeek.length = 7;
  const schedule: CronSchedule = {
    expression,
    second,
    minute,
    hour,
    dayOfMonth,
    month,
    dayOfWeek,
    dayOfMonthStar: parts[3] === '*',
    dayOfWeekStar: parts[5] === '*',
  };
  // Only a restricted day-of-month with an unrestricted day-of-week can name days that never come.
  if (!schedule.dayOfMonthStar && schedule.dayOfWeekStar) {
    const possible = MAX_DAYS.some((days, m) => month[m + 1] && dayOfMonth.slice(1, days + 1).some(Boolean));
    if (!possible) throw invalid(expression, 'no allowed month has any of the allowed days of the month');
  }
  return schedule;
}

function daysInMonth(year: number, month0: number): number {
  return new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
}

/** Whether the day (UTC) runs, by day-of-month and day-of-week combined as cron combines them. */
function dayMatches(s: CronSchedule, year: number, month0: number, day: number): boolean {
  const byMonthDay = s.dayOfMonth[day] === true;
  const byWeekDay = s.dayOfWeek[new Date(Date.UTC(year, month0, day)).getUTCDay()] === true;
  if (s.dayOfMonthStar) return byWeekDay;
  if (s.dayOfWeekStar) return byMonthDay;
  return byMonthDay || byWeekDay;
}

/** The first allowed value at or after `from`, or -1. */
function firstFrom(allowed: readonly boolean[], from: number): number {
  for (let v = from; v < allowed.length; v++) if (allowed[v]) return v;
  return -1;
}

/**
 * The first time the schedule runs strictly after `afterMs` (ms since the epoch), in ms: always a whole second.
 * Computed field by field, from the month down to the second, carrying into the larger field when a smaller one
 * has no allowed value left.
 */
export function nextCronRun(s: CronSchedule, afterMs: number): number {
  const start = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  let year = start.getUTCFullYear();
  let month0 = start.getUTCMonth();
  let day = start.getUTCDate();
  let hour = start.getUTCHours();
  let minute = start.getUTCMinutes();
  let second = start.getUTCSeconds();
  // A leap day can be 8 years away (2096 to 2104); parseCron refused what never matches.
  const lastYear = year + 9;
  /** Moves to the start of the day `days` after the current one (Date.UTC normalises the overflow). */
  const toDay = (days: number): void => {
    const d = new Date(Date.UTC(year, month0, day + days));
    year = d.getUTCFullYear();
    month0 = d.getUTCMonth();
    day = d.getUTCDate();
    hour = minute = second = 0;
  };
  while (year <= lastYear) {
    const m = firstFrom(s.month, month0 + 1);
    if (m < 0) {
      year += 1;
      month0 = 0;
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (m !== month0 + 1) {
      month0 = m - 1;
      day = 1;
      hour = minute = second = 0;
    }
    const days = daysInMonth(year, month0);
    let d = day;
    while (d <= days && !dayMatches(s, year, month0, d)) d++;
    if (d > days) {
      toDay(days - day + 1);
      continue;
    }
    if (d !== day) toDay(d - day);
    const h = firstFrom(s.hour, hour);
    if (h < 0) {
      toDay(1);
      continue;
    }
    if (h !== hour) {
      hour = h;
      minute = second = 0;
    }
    const mi = firstFrom(s.minute, minute);
    if (mi < 0) {
      // The next hour: past 23 the day carries, and the loop finds the next allowed hour from 0.
      if (hour === 23) toDay(1);
      else {
        hour += 1;
        minute = second = 0;
      }
      continue;
    }
    if (mi !== minute) {
      minute = mi;
      second = 0;
    }
    const sec = firstFrom(s.second, second);
    if (sec < 0) {
      if (minute < 59) {
        minute += 1;
        second = 0;
      } else if (hour < 23) {
        hour += 1;
        minute = second = 0;
      } else toDay(1);
      continue;
    }
    return Date.UTC(year, month0, day, hour, minute, sec);
  }
  throw new AgentError('INTERNAL', `cron expression "${s.expression}" has no run within 9 years`, { cron: s.expression });
}
