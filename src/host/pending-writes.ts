/** For the log lines of writes kept back by a full disk (src/host/meter.ts, src/host/downloads.ts). */

/** An error's message on one line, for a log line. */
export function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300);
}
