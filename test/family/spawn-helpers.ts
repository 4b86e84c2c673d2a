// The spawn's tests share this: a real devnet, a real local cloud (its stub image: a server boots and answers, but no
// child ever registers), and a proposal of spawn-scripts/local-cloud.js rewritten for the cloud's free port.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCloud, type OpenCloud } from '../../src/devnet/index.ts';
import type { SpawnSpec } from '../../src/family/index.ts';
import type { Devnet } from '../../src/devnet/index.ts';
import type { Ctx } from '../helpers/agent.ts';
import { proposal, root } from './helpers.ts';
import { until as pollUntil } from '../devnet/cloud-helpers.ts';

/** The bundle hash the tests' parents claim (the bundle's own module gives the real one). */
export const CODE_HASH = 'c0de'.repeat(16);

export async function startCloud(t: Ctx, devnet: Devnet): Promise<OpenCloud> {
  // One teardown, the cloud before its directory (a test's after-hooks run in the order they were added).
  const dir = mkdtempSync(join(tmpdir(), 'storj-spawn-cloud-'));
  const cloud = await openCloud({ dir, esploraUrl: devnet.url, port: 0, pollMs: 200 });
  t.after(async () => {
    await cloud.cloud.haltAll();
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return cloud;
}

/**
 * User data the local cloud's image boots: the spawn file, and a `storj` runcmd line (the image's stub answers in the
 * agent's place). Every ticket it is given is kept in `tickets`, as the child would read it from its user data.
 */
export function userDataFor(tickets: string[]): (spec: SpawnSpec) => string {
  return (spec) => {
    tickets.push(spec.ticket);
    return ['#cloud-config', 'write_files:', '  - path: /etc/storj/spawn.json', "    permissions: '0600'", '    content: |', `      ${JSON.stringify(spec)}`, 'runcmd:', '  - [storj, run, --spawn, /etc/storj/spawn.json]', ''].join('\n');
  };
}

/** A signed proposal of the local cloud's script and transcript, for a cloud at `cloudUrl`. */
export function cloudProposal(t: Ctx, cloudUrl: string, payoutIndex = 0): Record<string, unknown> {
  const host = new URL(cloudUrl).host;
  const port = (s: string) => s.replaceAll('127.0.0.1:8430', host);
  const script = port(readFileSync(join(root, 'spawn-scripts/local-cloud.js'), 'utf8'));
  const transcript = JSON.parse(port(readFileSync(join(root, 'spawn-scripts/local-cloud.transcript.json'), 'utf8'))) as unknown;
  assert.notEqual(host, '127.0.0.1:8430');
  return proposal(t, { script, transcript, hosts: [host] }, payoutIndex);
}

interface CloudServer { id: string; state: string; url: string | null; invoices: string[] }
interface CloudInvoice { id: string; address: string; amountSat: number; state: string; txid: string | null }

export async function cloudServer(cloud: OpenCloud, id: string): Promise<CloudServer | undefined> {
  const r = await fetch(`${cloud.url}/v1/servers/${id}`);
  if (r.status === 404) return undefined;
  return ((await r.json()) as { server: CloudServer }).server;
}

export async function cloudInvoice(cloud: OpenCloud, id: string): Promise<CloudInvoice> {
  const r = await fetch(`${cloud.url}/v1/invoices/${id}`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { invoice: CloudInvoice }).invoice;
}

/** Polls `step` until `done` (each step does real work: a job, a pass of the cloud), at most `tries` times. */
export function until<T>(step: () => Promise<T>, done: (v: T) => boolean, what: string, tries = 300): Promise<T> {
  return pollUntil(step, done, tries, what, 50);
}
