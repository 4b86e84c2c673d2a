/**
 * A supervised child's pid file, `<dir>/<name>.json`: `{pid, ...what the child announced}` (where it listens).
 * The child writes it once it is ready and removes it on a clean exit; the supervisor reads it to find, adopt or
 * clean up a child left running, and removes it when the pid it names is gone or is not the child.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** What a pid file holds: the child's pid and the fields it announced, not yet checked by the child's kind. */
export type PidRecord = Record<string, unknown> & { pid: number };

export function pidFilePath(dir: string, name: string): string {
  return join(dir, `${name}.json`);
}

export function logFilePath(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}

/** The pid file's contents, or null when absent, torn, foreign, or naming no valid pid. */
export async function readPidFile(file: string): Promise<PidRecord | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const pid = (v as { pid?: unknown }).pid;
    if (typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 1) return v as PidRecord;
  } catch {
    // a torn or foreign file counts as no child; the next start rewrites it
  }
  return null;
}

/** Writes the pid file atomically (temp file, fsync, rename), so a reader never sees half of it. */
export async function writePidFile(file: string, record: PidRecord): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(JSON.stringify(record) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** Removes the pid file if it still names `pid` (a successor's file is left alone). */
export async function removePidFile(file: string, pid: number): Promise<void> {
  const record = await readPidFile(file);
  if (record?.pid !== pid) return;
  await unlink(file).catch(() => undefined);
}
