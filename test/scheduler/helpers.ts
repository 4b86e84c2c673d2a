// Shared by the scheduler tests: a clock that only moves when told, and a promise the test settles itself.
import type { Clock } from '../../src/scheduler/index.ts';

/** A base clock standing still at `ms`, so DevClock times in tests are exact. */
export class FixedClock implements Clock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (e: Error) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** 2024-01-01T00:00:00Z: a round start so advanced times are easy to read in failures. */
export const T0 = Date.UTC(2024, 0, 1);
