/**
 * Writes a full disk kept back: each is a closure over one synchronous transaction that applies itself at
 * most once (it checks, inside the transaction, that it has not been applied), so it can be tried again and
 * again until the database takes it. Nothing here is lost silently: every write kept back is logged.
 */
export class PendingWrites {
  readonly #writes = new Map<string, () => void>();
  readonly #log: (line: string) => void;

  constructor(log: ((line: string) => void) | undefined) {
    this.#log = (line) => {
      try {
        log?.(line);
      } catch {
        /* a broken log sink must not undo the work it reports */
      }
    };
  }

  /** How many writes are waiting. */
  get size(): number {
    return this.#writes.size;
  }

  /** Runs `write` now; if it throws, keeps it under `key` to retry, and logs `what`. Never throws. */
  attempt(key: string, what: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      this.#writes.set(key, write);
      this.log(`${what} not yet written (${describe(e)}); kept, retried until written`);
    }
  }

  /** Tries every waiting write, oldest first, stopping at the first that still fails. Never throws. */
  retry(): number {
    let written = 0;
    for (const [key, write] of this.#writes) {
      try {
        write();
        this.#writes.delete(key);
        written++;
      } catch (e) {
        this.log(`${this.#writes.size} write(s) still not written (${describe(e)}); retried later`);
        break;
      }
    }
    return written;
  }

  log(line: string): void {
    this.#log(line);
  }
}

/** An error's message on one line, for a log line. */
export function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300);
}
