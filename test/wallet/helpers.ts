// Shared test helpers for test/wallet (not a test file: the runner picks up *.test.ts only).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** scrypt parameters cheap enough for tests (the lower bound the keystore accepts). */
export const CHEAP_KDF = { N: 2 ** 10, r: 8, p: 1 };

/** A deterministic "random" source: SHA-256 in counter mode over a label. */
export function fakeRandom(label: string): (size: number) => Uint8Array {
  let counter = 0;
  return (size) => {
    const out = Buffer.alloc(size);
    for (let off = 0; off < size; off += 32) {
      createHash('sha256').update(`${label}/${counter++}`).digest().copy(out, off);
    }
    return new Uint8Array(out);
  };
}

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-wallet-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

