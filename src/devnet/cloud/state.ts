/**
 * The local cloud's records and where they live: one JSON file, `<dir>/cloud-state.json`, replaced atomically
 * (written beside, fsynced, renamed over), so a kill -9 at any moment leaves the old state or the new one, never
 * half of one. JSON rather than SQLite because the state is a handful of servers and invoices with one writer,
 * read whole at start and rewritten after each change; it needs neither queries nor migrations.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

type InvoiceState = 'unpaid' | 'seen' | 'paid' | 'expired';
type ServerState = 'awaiting_payment' | 'booting' | 'running' | 'stopped' | 'expired' | 'deleted';

export interface Invoice {
  id: string;
  serverId: string;
  purpose: 'create' | 'renew';
  days: number;
  address: string;
  amountSat: number;
  state: InvoiceState;
  expiresAt: number;
  txid: string | null;
}

export interface Server {
  id: string;
  plan: string;
  state: ServerState;
  createdAt: number;
  paidUntil: number | null;
  url: string | null;
  invoices: string[];
  /** Not on the wire: what the cloud keeps to run and to forget the server. */
  userData: string;
  /** When it entered `expired` or `deleted` (cloud clock): a day later it is deleted, then forgotten. */
  endedAt: number | null;
  /** The OS process running the server's image, while booting or running. */
  pid: number | null;
  port: number | null;
  /** runcmd lines the image does not ship, recorded and not run. */
  skipped: string[];
}

export interface CloudState {
  network: 'regtest';
  /** The cloud wallet's account xpub; receive addresses derive from it in order. */
  xpub: string;
  nextAddressIndex: number;
  /** Added to the system clock: moved forward by POST /v1/dev/advance, as the devnet's clock is. */
  clockOffsetMs: number;
  servers: Record<string, Server>;
  invoices: Record<string, Invoice>;
}

const STATE_FILE = 'cloud-state.json';

/** `srv_` or `inv_` followed by 16 hex digits. */
export function newId(prefix: 'srv' | 'inv'): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** The saved state, or null before the first start. */
export function loadState(dir: string): CloudState | null {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const parsed = JSON.parse(text) as CloudState;
  if (typeof parsed.xpub !== 'string' || typeof parsed.servers !== 'object' || typeof parsed.invoices !== 'object') {
    throw new Error(`${join(dir, STATE_FILE)} is not the local cloud's state`);
  }
  return parsed;
}

/** Replaces the state file atomically and durably. Synchronous, so two saves never interleave. */
export function saveState(dir: string, state: CloudState): void {
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
