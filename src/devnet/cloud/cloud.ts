/**
 * The local cloud's bookkeeping: plans, servers, invoices, and the clock. Invoices are paid on the devnet chain
 * to receive addresses of the cloud's own wallet, which it watches through the chain's Esplora client: an invoice
 * is `seen` once one transaction pays its address at least its amount, and `paid` once that transaction has one
 * confirmation. Every change is saved at once (src/devnet/cloud/state.ts), so the cloud resumes after any stop.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChainBackend } from '../../chain/index.ts';
import { xpubReceiveAddress } from '../../../wallet/index.ts';
import { answers, boot, isServerProcess, stopServerProcess, type ImageSettings } from './image.ts';
import { freePort } from './server-process.ts';
import { newId, saveState, type CloudState, type Invoice, type Server } from './state.ts';

export const DAY_MS = 86_400_000;
/** An unpaid invoice expires an hour after it was made. */
const INVOICE_TTL_MS = 3_600_000;
/** As Hetzner Cloud's limit. */
const MAX_USER_DATA_BYTES = 32 * 1024;
/** Ten years: beyond it a term is a mistake, and its price could leave the safe integers. */
const MAX_DAYS = 3660;

export interface Plan {
  id: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  satPerDay: number;
}

const DEFAULT_PLANS: readonly Plan[] = [
  { id: 'small', vcpus: 1, memoryMb: 1024, diskGb: 25, satPerDay: 1000 },
  { id: 'medium', vcpus: 2, memoryMb: 2048, diskGb: 50, satPerDay: 2000 },
];

/** An answer of the cloud's API other than 2xx: its wire code (docs/local-cloud.md), not the agent's catalogue. */
export class CloudApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: 'BAD_REQUEST' | 'UNKNOWN_PLAN' | 'TERM_TOO_SHORT' | 'USER_DATA_TOO_LARGE' | 'NOT_FOUND' | 'SERVER_DELETED',
    message: string,
  ) {
    super(message);
  }
}

export interface CloudOptions {
  dir: string;
  state: CloudState;
  chain: Pick<ChainBackend, 'getAddressUtxos'>;
  image: ImageSettings;
  plans?: readonly Plan[];
  minDays?: number;
  /** The system clock the cloud's own clock is offset from; Date.now by default. */
  systemNow?: () => number;
  log?: (line: string) => void;
}

export type WireServer = Pick<Server, 'id' | 'plan' | 'state' | 'createdAt' | 'paidUntil' | 'url' | 'invoices'>;

export class Cloud {
  readonly plans: readonly Plan[];
  readonly minDays: number;
  private readonly state: CloudState;
  private readonly systemNow: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: CloudOptions) {
    this.state = opts.state;
    this.plans = opts.plans ?? DEFAULT_PLANS;
    this.minDays = opts.minDays ?? 1;
    this.systemNow = opts.systemNow ?? Date.now;
    this.log = opts.log ?? (() => undefined);
  }

  now(): number {
    return this.systemNow() + this.state.clockOffsetMs;
  }

  /** Moves the cloud's clock forward, then settles what the new time ends (invoices, terms). */
  async advance(seconds: number): Promise<number> {
    this.state.clockOffsetMs += Math.round(seconds * 1000);
    this.save();
    await this.tick();
    return this.now();
  }

  private save(): void {
    saveState(this.opts.dir, this.state);
  }

  private serverDir(id: string): string {
    return join(this.opts.dir, 'servers', id);
  }

  private plan(id: unknown): Plan {
    const plan = this.plans.find((p) => p.id === id);
    if (!plan) throw new CloudApiError(400, 'UNKNOWN_PLAN', `no plan ${String(id)}`);
    return plan;
  }

  private checkDays(days: unknown): number {
    if (typeof days !== 'number') throw new CloudApiError(400, 'BAD_REQUEST', 'days must be a number');
    if (!Number.isInteger(days) || days < this.minDays) throw new CloudApiError(400, 'TERM_TOO_SHORT', `days must be an integer of at least ${this.minDays}`);
    if (days > MAX_DAYS) throw new CloudApiError(400, 'BAD_REQUEST', `days must be at most ${MAX_DAYS}`);
    return days;
  }

  private invoice(server: Server, purpose: Invoice['purpose'], days: number, now = this.now()): Invoice {
    const index = this.state.nextAddressIndex++;
    const invoice: Invoice = {
      id: newId('inv'),
      serverId: server.id,
      purpose,
      days,
      address: xpubReceiveAddress(this.state.xpub, this.state.network, index),
      amountSat: this.plan(server.plan).satPerDay * days,
      state: 'unpaid',
      expiresAt: now + INVOICE_TTL_MS,
      txid: null,
    };
    this.state.invoices[invoice.id] = invoice;
    server.invoices.push(invoice.id);
    return invoice;
  }

  createServer(body: { plan?: unknown; days?: unknown; userData?: unknown }): { server: WireServer; invoice: Invoice } {
    if (typeof body.plan !== 'string') throw new CloudApiError(400, 'BAD_REQUEST', 'plan must be a string');
    if (typeof body.userData !== 'string') throw new CloudApiError(400, 'BAD_REQUEST', 'userData must be a string');
    const plan = this.plan(body.plan);
    const days = this.checkDays(body.days);
    if (Buffer.byteLength(body.userData, 'utf8') > MAX_USER_DATA_BYTES) {
      throw new CloudApiError(400, 'USER_DATA_TOO_LARGE', `userData is over ${MAX_USER_DATA_BYTES} bytes`);
    }
    const now = this.now();
    const server: Server = {
      id: newId('srv'),
      plan: plan.id,
      state: 'awaiting_payment',
      createdAt: now,
      paidUntil: null,
      url: null,
      invoices: [],
      userData: body.userData,
      endedAt: null,
      pid: null,
      port: null,
      skipped: [],
    };
    this.state.servers[server.id] = server;
    const invoice = this.invoice(server, 'create', days, now);
    this.save();
    return { server: wire(server), invoice: { ...invoice } };
  }

  /** A server the cloud still answers for: a deleted one for a day after its deletion. */
  private find(id: string): Server {
    const server = Object.hasOwn(this.state.servers, id) ? this.state.servers[id] : undefined;
    if (!server || (server.state === 'deleted' && server.endedAt !== null && this.now() >= server.endedAt + DAY_MS)) {
      throw new CloudApiError(404, 'NOT_FOUND', `no server ${id}`);
    }
    return server;
  }

  getServer(id: string): WireServer {
    return wire(this.find(id));
  }

  getInvoice(id: string): Invoice {
    const invoice = Object.hasOwn(this.state.invoices, id) ? this.state.invoices[id] : undefined;
    if (!invoice) throw new CloudApiError(404, 'NOT_FOUND', `no invoice ${id}`);
    return { ...invoice };
  }

  renew(id: string, body: { days?: unknown }): Invoice {
    const server = this.find(id);
    const days = this.checkDays(body.days);
    if (server.state === 'deleted') throw new CloudApiError(409, 'SERVER_DELETED', `server ${id} is deleted`);
    const invoice = this.invoice(server, 'renew', days);
    this.save();
    return { ...invoice };
  }

  async deleteServer(id: string): Promise<WireServer> {
    const server = this.find(id);
    if (server.state !== 'deleted') {
      server.state = 'deleted';
      server.endedAt = this.now();
      await this.halt(server);
      this.save();
    }
    return wire(server);
  }

  /** Stops the server's process, if it has one, and forgets its pid and url: nothing answers there any more. */
  private async halt(server: Server): Promise<void> {
    const pid = server.pid;
    server.pid = null;
    server.url = null;
    if (pid !== null && pid > 0) await stopServerProcess(pid, this.serverDir(server.id));
  }

  /** Boots in flight, by server id: a boot downloads, so it runs beside the passes, not inside one. */
  private readonly boots = new Map<string, Promise<void>>();

  /** Starts a paid server: `booting` at once, with the url its process will answer on; the boot runs on its own. */
  private async start(server: Server): Promise<void> {
    if (this.boots.has(server.id) && server.port !== null) {
      // Expired and renewed while its boot was still in flight: that boot goes on, on the port it was given.
      server.state = 'booting';
      server.url = `http://127.0.0.1:${server.port}`;
      this.save();
      return;
    }
    const port = await freePort();
    server.state = 'booting';
    server.pid = null;
    server.port = port;
    server.url = `http://127.0.0.1:${port}`;
    this.save();
    this.boots.set(server.id, this.runBoot(server, port).finally(() => this.boots.delete(server.id)));
  }

  private async runBoot(server: Server, port: number): Promise<void> {
    try {
      const booted = await boot(this.serverDir(server.id), server.userData, server.id, this.opts.image, port);
      server.pid = booted.pid;
      server.skipped = booted.skipped;
      this.log(`server ${server.id} booted (pid ${booted.pid}, ${server.url ?? 'no url'}); runcmd not run: ${JSON.stringify(booted.skipped)}`);
      // Deleted or expired while it booted: its new process must not outlive that.
      if (server.state !== 'booting') await this.halt(server);
    } catch (e) {
      // The reason is in the server's console.log too (src/devnet/cloud/image.ts).
      if (server.state === 'booting') server.state = 'stopped';
      server.pid = null;
      server.url = null;
      this.log(`server ${server.id} failed to boot: ${(e as Error).message}`);
    }
    this.save();
  }

  /** Resolves once no boot is in flight. */
  async idle(): Promise<void> {
    while (this.boots.size > 0) await Promise.allSettled([...this.boots.values()]);
  }

  /** The invoice's payment as the chain shows it: one transaction paying its address at least its amount. */
  private async payment(invoice: Invoice): Promise<{ txid: string; confirmed: boolean } | null> {
    const utxos = await this.opts.chain.getAddressUtxos(invoice.address);
    const byTx = new Map<string, { sat: bigint; confirmed: boolean }>();
    for (const u of utxos) {
      const t = byTx.get(u.txid) ?? { sat: 0n, confirmed: u.confirmed };
      byTx.set(u.txid, { sat: t.sat + u.valueSat, confirmed: u.confirmed });
    }
    let seen: { txid: string; confirmed: boolean } | null = null;
    for (const [txid, t] of byTx) {
      if (t.sat < BigInt(invoice.amountSat)) continue;
      if (t.confirmed) return { txid, confirmed: true };
      seen ??= { txid, confirmed: false };
    }
    return seen;
  }

  private async settleInvoice(invoice: Invoice): Promise<void> {
    const before = JSON.stringify(invoice);
    const found = await this.payment(invoice);
    if (invoice.state !== 'unpaid' && invoice.state !== 'seen') return; // settled meanwhile
    if (found?.confirmed) {
      invoice.state = 'paid';
      invoice.txid = found.txid;
      await this.applyPayment(invoice);
    } else if (found) {
      invoice.state = 'seen';
      invoice.txid = found.txid;
    } else if (invoice.state === 'seen') {
      // The payment left the mempool (replaced, or double-spent): unpaid again, and it may expire.
      invoice.state = 'unpaid';
      invoice.txid = null;
    }
    if (invoice.state === 'unpaid' && this.now() >= invoice.expiresAt) {
      invoice.state = 'expired';
      const server = this.state.servers[invoice.serverId];
      if (invoice.purpose === 'create' && server?.state === 'awaiting_payment') {
        server.state = 'deleted';
        server.endedAt = this.now();
      }
    }
    // Saved only on a change: a pass runs every second, and most find nothing new.
    if (JSON.stringify(invoice) !== before) this.save();
  }

  private async applyPayment(invoice: Invoice): Promise<void> {
    const server = this.state.servers[invoice.serverId];
    // A payment for a deleted server is kept and changes nothing.
    if (!server || server.state === 'deleted') return;
    const now = this.now();
    server.paidUntil = Math.max(now, server.paidUntil ?? now) + invoice.days * DAY_MS;
    if (server.state === 'awaiting_payment' || server.state === 'expired') await this.start(server);
  }

  private async settleServer(server: Server): Promise<void> {
    const now = this.now();
    const dir = this.serverDir(server.id);
    const before = JSON.stringify(server);
    if (server.state === 'deleted') {
      if (server.endedAt !== null && now >= server.endedAt + DAY_MS) {
        // Forgotten: its record and its disk (its process was stopped when it was deleted).
        delete this.state.servers[server.id];
        rmSync(dir, { recursive: true, force: true });
        this.save();
      }
    } else if (server.state === 'expired') {
      if (server.endedAt !== null && now >= server.endedAt + DAY_MS) {
        server.state = 'deleted';
        server.endedAt = now;
      }
    } else if (server.paidUntil !== null && now >= server.paidUntil && server.state !== 'awaiting_payment') {
      server.state = 'expired';
      server.endedAt = now;
      await this.halt(server);
    } else if (server.state === 'booting' || server.state === 'running') {
      if (server.pid === null && !this.boots.has(server.id)) {
        // Booting with no boot in flight: the cloud stopped during the boot, which is not run twice.
        server.state = 'stopped';
        server.url = null;
        this.log(`server ${server.id}: its boot was cut short by a stop of the cloud`);
      } else if (server.pid === null || server.pid === 0) {
        return; // still booting, or user data that starts nothing (it stays booting)
      } else if (!isServerProcess(server.pid, dir)) {
        server.state = 'stopped';
        server.pid = null;
        server.url = null;
      } else if (server.state === 'booting' && server.url !== null && (await answers(server.url))) {
        if (server.state === 'booting') server.state = 'running';
      }
    }
    if (JSON.stringify(server) !== before) this.save();
  }

  /**
   * Stops every server's process, leaving the records as they are: for a devnet that is thrown away (a test's
   * clean-up). A cloud that merely stops leaves its servers running, as a provider's VPSes outlive its API.
   */
  async haltAll(): Promise<void> {
    await this.idle();
    for (const server of Object.values(this.state.servers)) await this.halt(server);
    this.save();
  }

  private ticking: Promise<void> | null = null;

  /** One pass over open invoices and live servers. Passes never overlap: a second caller waits for the first. */
  async tick(): Promise<void> {
    while (this.ticking) await this.ticking;
    this.ticking = this.pass().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async pass(): Promise<void> {
    for (const invoice of Object.values(this.state.invoices)) {
      if (invoice.state !== 'unpaid' && invoice.state !== 'seen') continue;
      try {
        await this.settleInvoice(invoice);
      } catch (e) {
        this.log(`invoice ${invoice.id}: ${(e as Error).message}`);
      }
    }
    for (const server of Object.values(this.state.servers)) await this.settleServer(server);
  }
}

function wire(s: Server): WireServer {
  return { id: s.id, plan: s.plan, state: s.state, createdAt: s.createdAt, paidUntil: s.paidUntil, url: s.url, invoices: [...s.invoices] };
}

/** Makes the cloud's directory and its servers' parent. */
export function prepareDir(dir: string): void {
  mkdirSync(join(dir, 'servers'), { recursive: true, mode: 0o700 });
}
