/** The short detail kept with a job run: one line, bounded. */

/** Long enough for any useful message, short enough that a run table stays readable. */
const MAX_DETAIL = 500;

/** The message of what was thrown, on one line and bounded; never a stack, which may carry secrets and paths. */
export function describe(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error ? e.message || e.name : String(e);
  } catch {
    text = 'unprintable error';
  }
  return clip(text) || 'failed without a message';
}

/** `text` on one line, cut to the length a run keeps. */
export function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL - 1)}…` : line;
}
