// Helpers for the local cloud's suites: a temp dir, JSON calls, and bounded waits on the cloud's own passes.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Plan, WireServer } from '../../src/devnet/cloud/cloud.ts';
import type { CloudState, Invoice } from '../../src/devnet/cloud/state.ts';
import { stopServerProcess } from '../../src/devnet/cloud/image.ts';
import { stopCloudProcess, stopDevnetProcess } from '../../src/devnet/index.ts';
import type { ChildProcess } from 'node:child_process';

/** Every field any answer of the cloud has; a test reads those its call answers with (a missing one fails its assert). */
interface Body {
  server: WireServer;
  invoice: Invoice;
  error: { code: string; message: string };
  now: number;
  network: string;
  minDays: number;
  plans: Plan[];
}

export function tempDir(t: TestContext, prefix = 'storj-cloud-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Answer {
  status: number;
  json: Body;
}

export async function call(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, raw?: string): Promise<Answer> {
  const init: RequestInit = { method };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  if (init.body !== undefined) init.headers = { 'content-type': 'application/json' };
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Body };
}

/**
 * Runs `step` until `done` says yes, at most `tries` times (each step is a pass of the cloud or a look at it,
 * not a fixed sleep): fails with the last value otherwise.
 */
export async function until<T>(step: () => Promise<T>, done: (v: T) => boolean, tries = 200, what = 'condition', pauseMs = 25): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await step();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`${what} not reached; last: ${JSON.stringify(last)}`);
}

/**
 * Stops everything a `storj run` on the embedded devnet started, in this order: the agent (SIGKILL, as a crash would
 * leave the rest), the cloud's servers, the cloud and the devnet; then removes `base`.
 */
export async function stopAgentWithCloud(agent: { child: ChildProcess; exited: Promise<unknown> }, dataDir: string, base: string): Promise<void> {
  if (agent.child.exitCode === null && agent.child.signalCode === null) {
    agent.child.kill('SIGKILL');
    await agent.exited;
  }
  const cloudDir = join(dataDir, 'cloud');
  if (existsSync(join(cloudDir, 'cloud-state.json'))) {
    const state = JSON.parse(readFileSync(join(cloudDir, 'cloud-state.json'), 'utf8')) as CloudState;
    for (const s of Object.values(state.servers)) if (s.pid) await stopServerProcess(s.pid, join(cloudDir, 'servers', s.id));
  }
  await stopCloudProcess(cloudDir);
  await stopDevnetProcess(join(dataDir, 'devnet'));
  rmSync(base, { recursive: true, force: true });
}
