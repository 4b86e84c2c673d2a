/** Small filesystem helpers the blob store and its partial uploads share. */
import type { Stats } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { AgentError } from '../errors/index.ts';

/** A Node error's code (ENOENT, ENOSPC...), if it has one. */
export function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Disk-full conditions become a catalogued error; everything else passes through unchanged. */
export function translate(e: unknown): unknown {
  const code = errno(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AgentError('STORAGE_FULL', 'the disk is full; nothing was kept', undefined, { cause: e });
  }
  return e;
}

export function sizeMismatch(expected: number, got: string): AgentError {
  return new AgentError('UPLOAD_SIZE_MISMATCH', `expected exactly ${expected} bytes, got ${got}; nothing was kept`, {
    expectedSize: expected,
  });
}

export async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return null;
    throw e;
  }
}

export async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return [];
    throw e;
  }
}

/** fsync a directory, which makes the entries created or removed in it durable (POSIX). */
export async function fsyncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
