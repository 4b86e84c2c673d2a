// A small real filesystem for tests of a full disk: a tmpfs the test mounts (it must run as root), a filler
// that takes every free byte, and a raw HTTP client that can stop half-way through a body.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Ctx } from './agent.ts';

export const MiB = 1024 * 1024;

/** Mounts a tmpfs of `mib` MiB; unmounted after the test. Fails, saying why, when it cannot. */
export function mountTmpfs(t: Ctx, mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'storj-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    throw new Error(`this test needs a small real filesystem, and could not mount a tmpfs on ${dir}: ${why} (it must run as root, or with CAP_SYS_ADMIN)`, { cause: e });
  }
  // Lazy: the agent may still hold files there until its own teardown has run.
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Fills the filesystem of `dir` until a write gets ENOSPC; returns the filler's path (remove it to free the space). */
export function fillDisk(dir: string): string {
  const path = join(dir, `filler-${randomBytes(4).toString('hex')}`);
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [MiB, 4096, 1]) {
      const buf = Buffer.alloc(chunk);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (e) {
          if ((e as { code?: string }).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  assert.equal(freeBytes(dir), 0, 'the filler left no free space');
  return path;
}

/** Polls `check` until it returns true (bounded: fails after `tries` looks). */
export async function until(what: string, check: () => boolean | Promise<boolean>, tries = 1200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/**
 * A PUT over a raw socket: sends the headers and `first`, then runs `between` and sends `rest` (if any).
 * Resolves once the server has closed the connection, with what it answered; rejects if it keeps the
 * connection open (bounded), which is what a refused upload must not do. With `whole`, the body was sent in
 * full, so the connection may stay open: resolves once the answer is complete.
 */
export function rawPut(url: string, path: string, token: string, size: number, first: Buffer, between?: () => Promise<void>, rest?: Buffer, whole = false): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open after: ${Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? '(nothing)'}`));
    }, 30_000);
    const answer = (): RawAnswer => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head: head.toLowerCase(), body };
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const a = answer();
      const length = /\r\ncontent-length: (\d+)/.exec(a.head)?.[1];
      if (whole && length !== undefined && Buffer.byteLength(a.body, 'latin1') >= Number(length)) socket.destroy();
    });
    socket.on('error', () => undefined); // a reset after the answer is fine: the answer was read first
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer());
    });
    socket.on('connect', () => {
      socket.write(`PUT ${path} HTTP/1.1\r\nhost: ${u.host}\r\nauthorization: Bearer ${token}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${size}\r\n\r\n`);
      socket.write(first);
      void (async () => {
        await between?.();
        if (rest && !socket.destroyed) socket.write(rest);
      })().catch((e: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  });
}

export function tmpParts(dataDir: string): string[] {
  const dir = join(dataDir, 'blobs', 'tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function countBlobs(dataDir: string): number {
  let n = 0;
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else n++;
    }
  };
  walk(join(dataDir, 'blobs', 'blobs'));
  return n;
}

