/**
 * For the tus tests: raw tus requests, and where the agent keeps a partial upload's bytes (a paid quote comes
 * from test/helpers/paid.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Quote } from '../helpers/paid.ts';

/** The headers of a tus request for `q`. */
export function tusHeaders(q: Quote, extra: Record<string, string> = {}): Record<string, string> {
  return { 'tus-resumable': '1.0.0', authorization: `Bearer ${q.uploadToken}`, ...extra };
}

/** `Upload-Metadata` naming the upload. */
export function uploadMetadata(id: string): string {
  return `uploadId ${Buffer.from(id).toString('base64')},filename ${Buffer.from('x.bin').toString('base64')}`;
}

/** Every file under the agent's blob store's `sub` folder (blobs/ for stored blobs, partial/ for partial uploads, tmp/ for PUTs). */
export function storeFiles(dataDir: string, sub: 'blobs' | 'partial' | 'tmp'): Array<{ path: string; size: number }> {
  const out: Array<{ path: string; size: number }> = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push({ path: p, size: statSync(p).size });
    }
  };
  walk(join(dataDir, 'blobs', sub));
  return out;
}

/** Polls `check` until it returns a value, or fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function pattern(size: number, seed = 0): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
