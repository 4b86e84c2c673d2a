/**
 * Time as the agent sees it. Everything that bills, expires or schedules asks an injected Clock rather than
 * `Date.now()` (passed in, like every outside thing), so devnet and tests can move time forward without monkey-patching.
 */
import type { Db } from '../db/index.ts';
import { AgentError } from '../errors/index.ts';
import { ClockOffsetRepository } from './repository.ts';

/** A source of the current time. */
export interface Clock {
  now(): Date;
}

/** The machine's own clock: production time. */
export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

/**
 * The largest total offset. A devnet never needs more than a century, and the cap keeps every Date and every
 * millisecond count far inside the exactly representable range; it also catches a caller passing milliseconds
 * where seconds are meant, many times over.
 */
const MAX_OFFSET_MS = 100 * 365 * 86_400_000;

export interface DevClockOptions {
  /** Where the offset is kept (the `meta` table); without it the offset lives only in memory. */
  db?: Db;
  /** The clock the offset is added to; default the system clock (tests pass a fixed one). */
  base?: Clock;
}

/**
 * Devnet time: a base clock (the system's, by default) plus an offset that only grows. `POST /v1/dev/advance`
 * moves it forward so storage-days, grace periods and quote expiry can be tested in seconds; it never goes
 * back, because billing charges "since last charged" and a clock that rewinds would make those periods
 * negative.
 */
export class DevClock implements Clock {
  readonly #base: Clock;
  /** Where the offset is kept; undefined when it lives only in memory. */
  readonly #repo: ClockOffsetRepository | undefined;
  #offsetMs: number;

  /**
   * Creates the clock, reading a persisted offset from `opts.db` when there is one.
   * @throws AgentError INTERNAL when the persisted offset is not a whole number of milliseconds in range.
   */
  constructor(opts: DevClockOptions = {}) {
    this.#base = opts.base ?? new SystemClock();
    this.#repo = opts.db ? new ClockOffsetRepository(opts.db) : undefined;
    this.#offsetMs = 0;
    if (this.#repo) {
      const value = this.#repo.read();
      if (value !== undefined) {
        const ms = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
        if (!Number.isSafeInteger(ms) || ms > MAX_OFFSET_MS) {
          throw new AgentError('INTERNAL', `meta '${this.#repo.key}' is not a valid clock offset`, { value: value.slice(0, 40) });
        }
        this.#offsetMs = ms;
      }
    }
  }

  now(): Date {
    return new Date(this.#base.now().getTime() + this.#offsetMs);
  }

  /** How far ahead of the base clock this clock is, in milliseconds. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /**
   * Moves the clock forward by `seconds` (rounded to the millisecond), persisting the new offset before it
   * takes effect, and returns the new time.
   * @throws AgentError BAD_REQUEST when `seconds` is negative, not finite, or would take the total offset past
   * a century.
   */
  advance(seconds: number): Date {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      throw new AgentError('BAD_REQUEST', 'seconds must be a non-negative number: the devnet clock only moves forward', { seconds: String(seconds) });
    }
    const next = this.#offsetMs + Math.round(seconds * 1000);
    if (next > MAX_OFFSET_MS) {
      throw new AgentError('BAD_REQUEST', 'the devnet clock cannot be moved more than 100 years ahead', { seconds });
    }
    // Written first: if the write fails the clock has not moved, and once it is on disk a restart keeps it.
    this.#repo?.write(next);
    this.#offsetMs = next;
    return this.now();
  }
}
