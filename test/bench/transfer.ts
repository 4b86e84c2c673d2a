/**
 * Moving 1 GiB through the agent against nginx on the same machine, with the same client (curl): download
 * (GET /f/:fileId vs a static file with sendfile), upload (PUT /v1/uploads/:id vs a dav PUT, with the same bytes
 * through the tus endpoint beside it), and the agent process's peak RSS while it does so.
 */
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Devnet } from '../../src/devnet/index.ts';
import { AgentProcess, agentNodeEnv, agentNodeFlags, type Quote } from './agent-process.ts';
import { Nginx } from './nginx.ts';
import { Cleanup, curl, fmt, GIB, interleave, MB, mbps, median, procCpu, procMemory, progress, resetPeak, RUNS, verdict, type BenchResult } from './lib.ts';

const DOWNLOAD_TARGET = 0.7;
const UPLOAD_TARGET = 0.6;
/** The agent's peak VmRSS while it moves 1 GiB up and down, and its VmRSS once started, before any transfer. */
const RSS_TARGET_MB = 110;
const IDLE_RSS_TARGET_MB = 80;
/** How often the agent's VmRSS is sampled during transfers (VmHWM is the authoritative peak; this shows when). */
const RSS_SAMPLE_MS = 20;
/** How long the bare node of the idle reference runs before its VmRSS is read: what it loads is loaded by then. */
const BARE_SETTLE_MS = 1000;
/**
 * How long after start-up the agent's idle VmRSS is read, for the memory benchmarks. V8 shrinks the heap a fresh
 * agent built while starting once it has been idle a while (its memory reducer: a `Mark-Compact (reduce)` in
 * --trace-gc, 8 to 30 s after start on this machine, about 11 MiB of VmRSS; docs/memory.md "When the idle figure
 * is read"). A reading a few seconds after start catches either side of that; an agent that runs unattended
 * spends its life on the far side. Both readings are printed.
 */
const IDLE_SETTLE_MS = 45_000;
/** Disk the transfer benchmarks need: the payload, an agent blob per upload (2 RUNS + 2), nginx's PUT and headroom. */
export const TRANSFER_DISK_BYTES = (2 * RUNS + 5) * GIB;

export class TransferRig {
  readonly devnet: Devnet;
  readonly agent: AgentProcess;
  readonly payload: string;
  /** The agent's memory once started and idle (read IDLE_SETTLE_MS after start when asked to settle), before any transfer. */
  readonly idle: { rss: number; hwm: number };
  /** The agent's memory as soon as it had started and the payload was written. */
  readonly started: { rss: number; hwm: number };
  readonly #root: string;
  readonly #cleanup: Cleanup;
  readonly #nginxPath: string | undefined;
  #nginx: Promise<Nginx> | undefined;
  #downloadFile: Promise<string> | undefined;
  #sampledPeak = 0;
  /** Bytes moved through the agent so far (uploads and downloads, warm-ups included). */
  moved = 0;

  private constructor(root: string, cleanup: Cleanup, nginxPath: string | undefined, devnet: Devnet, agent: AgentProcess, payload: string, started: { rss: number; hwm: number }) {
    this.#root = root;
    this.#cleanup = cleanup;
    this.#nginxPath = nginxPath;
    this.devnet = devnet;
    this.agent = agent;
    this.payload = payload;
    this.started = started;
    this.idle = procMemory(agent.pid);
  }

  /**
   * Runs `fn` while sampling the agent's VmRSS. Only the rss benchmark samples, so the throughput runs are
   * not perturbed by reads of /proc/<pid>/status (which take the agent's memory-map lock) that nginx, never
   * sampled, would not see.
   */
  async sampling<T>(fn: () => Promise<T>): Promise<T> {
    const pid = this.agent.pid;
    const timer = setInterval(() => {
      try {
        this.#sampledPeak = Math.max(this.#sampledPeak, procMemory(pid).rss);
      } catch {
        // the agent is gone; whatever uses it next reports that
      }
    }, RSS_SAMPLE_MS);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * A devnet in this process, the agent in its own, and a 1 GiB payload of random bytes on disk. What it starts
   * is stopped by `close()`, which `outer` also runs (so an error or a Ctrl-C midway stops it too). With `settle`
   * (the memory benchmarks), the agent is left idle until IDLE_SETTLE_MS after its start before `idle` is read.
   */
  static async open(root: string, outer: Cleanup, nginxPath: string | undefined, settle = false): Promise<TransferRig> {
    const cleanup = new Cleanup();
    outer.add('transfer rig', () => cleanup.run());
    progress('starting the devnet (500 regtest blocks)');
    const devnet = await Devnet.start();
    cleanup.add('devnet', () => devnet.close());
    progress('starting the agent process');
    const agent = await AgentProcess.start(join(root, 'agent'), devnet);
    const startedAt = performance.now();
    cleanup.add('agent process', () => agent.stop());
    progress(`agent pid ${agent.pid} at ${agent.url}; writing the 1 GiB payload`);
    const payload = join(root, 'payload.bin');
    writePayload(payload);
    const started = procMemory(agent.pid);
    const wait = IDLE_SETTLE_MS - (performance.now() - startedAt);
    if (settle && wait > 0) {
      progress(`leaving the agent idle until ${IDLE_SETTLE_MS / 1000} s after its start (VmRSS now ${fmt(started.rss / MB)} MB)`);
      await sleep(wait);
    }
    return new TransferRig(root, cleanup, nginxPath, devnet, agent, payload, started);
  }

  /** Stops nginx, the agent and the devnet, so nothing of theirs runs during later benchmarks. Idempotent. */
  close(): Promise<void> {
    return this.#cleanup.run();
  }

  /** nginx, started on first use (the rss benchmark alone does not need it). */
  nginx(): Promise<Nginx> {
    this.#nginx ??= (async () => {
      if (!this.#nginxPath) throw new Error('nginx is needed but was not found');
      const n = await Nginx.start(this.#nginxPath, join(this.#root, 'nginx'));
      this.#cleanup.add('nginx', () => n.stop());
      progress(`nginx at ${n.url}`);
      return n;
    })();
    return this.#nginx;
  }

  /** The peak VmRSS seen by sampling, in bytes. */
  get sampledPeak(): number {
    return this.#sampledPeak;
  }

  /**
   * Overwrites the payload's first 16 bytes with `tag`, so each upload is a new blob: the agent keeps one copy
   * of identical bytes and would skip the fsync and rename that a new file costs.
   */
  tagPayload(tag: string): void {
    const fd = openSync(this.payload, 'r+');
    try {
      const b = Buffer.alloc(16);
      b.write(tag.slice(0, 16), 'utf8');
      writeSync(fd, b, 0, b.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** `p`, with the agent's last output added to its error when the agent has died. */
  async #agentCall<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (this.agent.running) throw e;
      throw new Error(`${e instanceof Error ? e.message : String(e)}; the agent has exited, its last output:\n${this.agent.lastOutput()}`, { cause: e });
    }
  }

  /** `n` paid quotes for the payload's size, each prepaid for `downloads` downloads. */
  paidQuotes(n: number, downloads: number): Promise<Quote[]> {
    return this.#agentCall(this.agent.paidQuotes(this.devnet, n, GIB, downloads));
  }

  /** PUTs the payload to a paid quote. @throws Error unless the agent answers 201 with the whole size */
  async agentPut(q: Quote): Promise<{ seconds: number; fileId: string }> {
    const r = await this.#agentCall(curl(['-T', this.payload, '-H', `authorization: Bearer ${q.uploadToken}`, `${this.agent.url}/v1/uploads/${q.id}`]));
    if (r.status !== 201) throw new Error(`agent upload: ${r.status} ${r.body.slice(0, 300)}`);
    const body = JSON.parse(r.body) as { size: number; fileId: string };
    if (body.size !== GIB || r.sizeUpload !== GIB) throw new Error(`agent upload: stored ${body.size} of ${r.sizeUpload} bytes sent`);
    this.moved += GIB;
    return { seconds: r.seconds, fileId: body.fileId };
  }

  /**
   * Uploads the payload to a paid quote through the tus endpoint (src/host/tus-routes.ts): the POST that starts it,
   * then one PATCH of the whole file, as a tus client without a chunk size sends it. Timed from the POST.
   * @throws Error unless the agent answers 201, then 204 with the file's sha256
   */
  async agentTus(q: Quote): Promise<number> {
    const tus = ['-H', 'tus-resumable: 1.0.0', '-H', `authorization: Bearer ${q.uploadToken}`];
    const meta = `uploadId ${Buffer.from(q.id).toString('base64')}`;
    const c = await this.#agentCall(curl(['-X', 'POST', ...tus, '-H', `upload-length: ${GIB}`, '-H', `upload-metadata: ${meta}`, `${this.agent.url}/v1/tus`]));
    if (c.status !== 201) throw new Error(`agent tus POST: ${c.status} ${c.body.slice(0, 300)}`);
    const r = await this.#agentCall(curl(['-X', 'PATCH', '-T', this.payload, '-D', '-', ...tus, '-H', 'content-type: application/offset+octet-stream', '-H', 'upload-offset: 0', `${this.agent.url}/v1/tus/${q.id}`]));
    if (r.status !== 204 || r.sizeUpload !== GIB || !/^storj-sha256: [0-9a-f]{64}/im.test(r.body)) throw new Error(`agent tus PATCH: ${r.status}, ${r.sizeUpload} bytes sent: ${r.body.slice(0, 300)}`);
    this.moved += GIB;
    return c.seconds + r.seconds;
  }

  /** GETs a whole file from the agent into /dev/null. @throws Error unless 200 with every byte */
  async agentGet(fileId: string): Promise<number> {
    const r = await this.#agentCall(curl(['-o', '/dev/null', `${this.agent.url}/f/${fileId}`]));
    if (r.status !== 200 || r.sizeDownload !== GIB) throw new Error(`agent download: ${r.status}, ${r.sizeDownload} bytes`);
    this.moved += GIB;
    return r.seconds;
  }

  /** The fileId of the payload as stored by the agent (uploaded once, untimed), prepaid for the downloads. */
  downloadFile(): Promise<string> {
    this.#downloadFile ??= (async () => {
      progress('uploading the payload for the download benchmark (untimed)');
      const [q] = await this.paidQuotes(1, 2 * RUNS + 2);
      if (!q) throw new Error('no quote');
      this.tagPayload('download');
      return (await this.agentPut(q)).fileId;
    })();
    return this.#downloadFile;
  }
}

function writePayload(path: string): void {
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  const fd = openSync(path, 'w', 0o600);
  try {
    for (let written = 0; written < GIB; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk);
    }
    // Clean pages from the start: write-back of this file must not land inside a timed run.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncPath(path: string): number {
  const t0 = performance.now();
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return (performance.now() - t0) / 1000;
}

const runsList = (secs: number[]): string => secs.map((s) => fmt(mbps(GIB, s))).join(', ');

/** A transfer benchmark's result: the medians of the agent's and nginx's runs (seconds per GiB) and their ratio. */
function throughputResult(name: 'download' | 'upload', t: { a: number[]; b: number[] }, target: number, extra: string[] = []): BenchResult {
  const agent = mbps(GIB, median(t.a));
  const ref = mbps(GIB, median(t.b));
  const ratio = agent / ref;
  const pass = ratio >= target;
  return {
    name,
    line: `${name} 1GiB: agent ${fmt(agent)} MB/s, nginx ${fmt(ref)} MB/s, ratio ${fmt(ratio, 2)}x (target >= ${target}x) ${verdict(pass)}`,
    measured: `${fmt(agent)} MB/s`,
    reference: `nginx ${fmt(ref)} MB/s`,
    ratio: `${fmt(ratio, 2)}x`,
    target: `>= ${target}x`,
    pass,
    details: [`runs (MB/s): agent ${runsList(t.a)}; nginx ${runsList(t.b)}`, ...extra],
  };
}

export async function benchDownload(rig: TransferRig): Promise<BenchResult> {
  const fileId = await rig.downloadFile();
  const nginx = await rig.nginx();
  const served = join(nginx.getDir, 'payload.bin');
  // The same bytes as the agent's blob: the payload still carries the tag it was uploaded with.
  if (!existsSync(served)) linkSync(rig.payload, served);
  const nginxGet = async (): Promise<number> => {
    const r = await curl(['-o', '/dev/null', `${nginx.url}/get/payload.bin`]);
    if (r.status !== 200 || r.sizeDownload !== GIB) throw new Error(`nginx download: ${r.status}, ${r.sizeDownload} bytes`);
    return r.seconds;
  };
  progress('download: warm-up (one untimed GET each, which also reads each file into the page cache)');
  await rig.agentGet(fileId);
  await nginxGet();
  progress(`download: ${RUNS} runs each, interleaved`);
  const t = await interleave(() => rig.agentGet(fileId), nginxGet);
  return throughputResult('download', t, DOWNLOAD_TARGET);
}

export async function benchUpload(rig: TransferRig): Promise<BenchResult> {
  const nginx = await rig.nginx();
  progress(`upload: ${RUNS} paid quotes`);
  const quotes = await rig.paidQuotes(2 * RUNS, 1);
  const fsyncs: number[] = [];
  const cpu: string[] = [];
  const agentPut = async (i: number): Promise<number> => {
    const q = quotes[i];
    if (!q) throw new Error('no quote');
    rig.tagPayload(`upload-${i}`);
    const before = procCpu(rig.agent.pid);
    const seconds = (await rig.agentPut(q)).seconds;
    const after = procCpu(rig.agent.pid);
    cpu.push(`${fmt(after.user - before.user, 2)}+${fmt(after.sys - before.sys, 2)} of ${fmt(seconds, 2)}`);
    return seconds;
  };
  const nginxPut = async (i: number): Promise<number> => {
    const dest = join(nginx.putDir, `run-${i}.bin`);
    const r = await curl(['-T', rig.payload, `${nginx.url}/put/run-${i}.bin`]);
    if (r.status !== 201 || r.sizeUpload !== GIB) throw new Error(`nginx upload: ${r.status}, ${r.sizeUpload} bytes sent: ${r.body.slice(0, 200)}`);
    // nginx does not fsync what it received; the agent does before it answers. Timed apart, as a second
    // reference with the same durability, and so no write-back of this file lands inside the next run.
    fsyncs.push(fsyncPath(dest));
    unlinkSync(dest);
    return r.seconds;
  };
  // The same bytes through tus (POST + one PATCH), each run right after the PUT it is compared with.
  const tusSeconds: number[] = [];
  const agentPutThenTus = async (i: number): Promise<number> => {
    const seconds = await agentPut(i);
    const q = quotes[RUNS + i];
    if (!q) throw new Error('no quote');
    rig.tagPayload(`tus-${i}`);
    tusSeconds.push(await rig.agentTus(q));
    return seconds;
  };
  progress(`upload: ${RUNS} runs each, interleaved (each agent upload is a new blob; each PUT is followed by a tus upload)`);
  const t = await interleave(agentPutThenTus, nginxPut);
  const agent = mbps(GIB, median(t.a));
  const durable = mbps(GIB, median(t.b.map((s, i) => s + (fsyncs[i] ?? 0))));
  const tus = mbps(GIB, median(tusSeconds));
  return throughputResult('upload', t, UPLOAD_TARGET, [
    `tus (POST + one PATCH of 1 GiB, src/host/tus-routes.ts): ${fmt(tus)} MB/s, tus/PUT ${fmt(tus / agent, 2)}x, tus/nginx ${fmt(tus / mbps(GIB, median(t.b)), 2)}x; runs (MB/s) ${runsList(tusSeconds)}`,
    `the agent hashes (sha256) and fsyncs before answering; nginx does neither. nginx PUT + fsync: ${fmt(durable)} MB/s, agent/that ${fmt(agent / durable, 2)}x (fsync alone ${fsyncs.map((s) => fmt(s, 2)).join(', ')} s)`,
    `agent CPU per upload, user+sys of wall seconds (all its threads, on its one core): ${cpu.join('; ')}`,
  ]);
}

/**
 * The agent's resident memory once started, before any transfer (read when the rig opened, whatever ran since),
 * against a bare `node` started with the same flags in the same run: what the agent's own code and modules add.
 */
export async function benchIdleRss(rig: TransferRig): Promise<BenchResult> {
  progress('rss-idle: a bare node with the agent\'s flags, for reference');
  const bare = await bareNodeRss();
  const mb = rig.idle.rss / MB;
  const pass = mb < IDLE_RSS_TARGET_MB;
  return {
    name: 'rss-idle',
    line: `rss idle after start-up: agent ${fmt(mb)} MB VmRSS ${IDLE_SETTLE_MS / 1000} s after its start (a bare node with the same flags ${fmt(bare / MB)} MB) (target < ${IDLE_RSS_TARGET_MB} MB) ${verdict(pass)}`,
    measured: `idle ${fmt(mb)} MB`,
    reference: `bare node ${fmt(bare / MB)} MB`,
    ratio: '-',
    target: `< ${IDLE_RSS_TARGET_MB} MB`,
    pass,
    details: [
      `VmRSS as soon as it had started and the payload was written: ${fmt(rig.started.rss / MB)} MB; VmHWM by the idle reading ${fmt(rig.idle.hwm / MB)} MB; docs/memory.md says where it goes`,
    ],
  };
}

/** VmRSS of `node FLAGS -e <wait>`, with the flags and environment `npm start` gives the agent, once it has settled. */
async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, [...agentNodeFlags(), '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', env: { ...process.env, ...agentNodeEnv() } });
  try {
    await sleep(BARE_SETTLE_MS);
    return procMemory(child.pid ?? -1).rss;
  } finally {
    child.kill('SIGKILL');
  }
}

export async function benchRss(rig: TransferRig): Promise<BenchResult> {
  progress('rss: one more upload and download of 1 GiB, the peak of each read apart');
  const [q] = await rig.paidQuotes(1, 1);
  if (!q) throw new Error('no quote');
  rig.tagPayload('rss');
  const pid = rig.agent.pid;
  // The kernel's peak (VmHWM) is what counts; it is reset before each phase, so each phase's peak is its own.
  // The benchmark's figure is the higher of the two, which is also the process's peak over both.
  const before = procMemory(pid);
  resetPeak(pid);
  const { fileId } = await rig.sampling(() => rig.agentPut(q));
  const afterUpload = procMemory(pid);
  resetPeak(pid);
  await rig.sampling(() => rig.agentGet(fileId));
  const afterDownload = procMemory(pid);
  const peakMb = Math.max(afterUpload.hwm, afterDownload.hwm) / MB;
  const pass = peakMb < RSS_TARGET_MB;
  return {
    name: 'rss',
    line: `rss 1GiB up+down: agent peak ${fmt(peakMb)} MB (VmHWM; VmRSS before transfers ${fmt(rig.idle.rss / MB)} MB) (target < ${RSS_TARGET_MB} MB) ${verdict(pass)}`,
    measured: `peak ${fmt(peakMb)} MB`,
    reference: `idle ${fmt(rig.idle.rss / MB)} MB`,
    ratio: '-',
    target: `< ${RSS_TARGET_MB} MB`,
    pass,
    details: [
      `VmRSS before this upload ${fmt(before.rss / MB)} MB; peak during the upload ${fmt(afterUpload.hwm / MB)} MB, during the download ${fmt(afterDownload.hwm / MB)} MB; now ${fmt(afterDownload.rss / MB)} MB`,
      `VmHWM after start-up, before any transfer: ${fmt(rig.idle.hwm / MB)} MB; highest VmRSS sampled every ${RSS_SAMPLE_MS} ms during the two: ${fmt(rig.sampledPeak / MB)} MB`,
      `the agent process (pid ${pid}) moved ${fmt(rig.moved / GIB)} GiB in all by then (warm-ups and the other benchmarks included)`,
    ],
  };
}
