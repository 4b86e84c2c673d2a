/**
 * Many small metered downloads: wrk (`-t1 -c32`) against `GET /f/:fileId` of a 4 KiB paid file, and nginx
 * serving the same bytes, in the same run; then, reported beside it, HEAD (free) and 64 KiB and 1 MiB files.
 * Each file is prepaid for more downloads than the runs can make, so every answer counted is a 200. wrk 4.1
 * waits for a body after a HEAD's Content-Length and never finishes one, so HEAD has its own small client
 * (HEAD_CLIENT): 32 keep-alive connections, each sending its next HEAD when the last answer's headers end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransferRig } from './transfer.ts';
import { CLIENT_CPU, fmt, median, pinned, progress, RUNS, verdict, type BenchResult } from './lib.ts';

const SMALL_TARGET = 0.25;
/** Seconds of each timed wrk run, and of the warm-up before each side's first. */
const SECONDS = 5;
const WARM_SECONDS = 1;
const CONNECTIONS = 32;
const KIB = 1024;
/** Egress each file is prepaid for: more than wrk moves in all its runs at any speed this machine reaches. */
const PREPAID_BYTES = 64 * KIB ** 3;
const MAX_DOWNLOADS = 1_000_000;

interface WrkRun {
  rps: number;
  /** Answers that were not 2xx or 3xx, and socket errors: a run with any is not a measurement. */
  bad: number;
}

/** The HEAD client, run by node on the client's core: argv URL CONNECTIONS SECONDS; prints {rps, bad}. */
const HEAD_CLIENT = `
const net = require('node:net');
const [url, conns, secs] = process.argv.slice(1);
const { hostname, port, pathname } = new URL(url);
const req = 'HEAD ' + pathname + ' HTTP/1.1\\r\\nhost: bench\\r\\n\\r\\n';
const end = Date.now() + Number(secs) * 1000;
let ok = 0, bad = 0;
for (let c = 0; c < Number(conns); c++) {
  const s = net.connect(Number(port), hostname, () => s.write(req));
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\\r\\n\\r\\n'); i >= 0; i = buf.indexOf('\\r\\n\\r\\n')) {
      if (buf.startsWith('HTTP/1.1 200')) ok++; else bad++;
      buf = buf.slice(i + 4);
      if (Date.now() < end) s.write(req); else s.destroy();
    }
  });
  s.on('error', () => bad++);
}
setTimeout(() => { console.log(JSON.stringify({ rps: ok / Number(secs), bad })); process.exit(0); }, Number(secs) * 1000);
`;

/** Runs `command args` on the client's core and returns its output. @throws Error when it exits non-zero */
async function client(command: string, args: string[]): Promise<string> {
  const [cmd, argv] = pinned(CLIENT_CPU, command, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => out.push(b));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c ?? -1));
  });
  const text = Buffer.concat(out).toString('utf8');
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${text.slice(-400)}`);
  return text;
}

/** Runs wrk once against `url`, or the HEAD client with `head`. @throws Error when it fails or prints no rate */
async function measure(url: string, seconds: number, head = false): Promise<WrkRun> {
  if (head) {
    const text = await client(process.execPath, ['-e', HEAD_CLIENT, url, String(CONNECTIONS), String(seconds)]);
    return JSON.parse(text.trim().split('\n').at(-1) ?? '{}') as WrkRun;
  }
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url];
  const text = await client('wrk', args);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!rps) throw new Error(`wrk ${args.join(' ')} printed no rate: ${text.slice(-400)}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return { rps: Number(rps[1]), bad: non2xx + errors };
}

/** A paid file of `size` random bytes on the agent, and the same bytes where nginx serves them. */
async function smallFile(rig: TransferRig, size: number): Promise<{ agentUrl: string; nginxUrl: string }> {
  const downloads = Math.min(MAX_DOWNLOADS, Math.ceil(PREPAID_BYTES / size));
  const [q] = await rig.agent.paidQuotes(rig.devnet, 1, size, downloads);
  if (!q) throw new Error('no quote');
  const bytes = randomBytes(size);
  const r = await fetch(`${rig.agent.url}/v1/uploads/${q.id}`, { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${q.uploadToken}` } });
  const body = (await r.json()) as { fileId?: string };
  if (r.status !== 201 || !body.fileId) throw new Error(`agent upload of ${size} bytes: ${r.status} ${JSON.stringify(body)}`);
  const nginx = await rig.nginx();
  const name = `small-${size}.bin`;
  writeFileSync(join(nginx.getDir, name), bytes);
  return { agentUrl: `${rig.agent.url}/f/${body.fileId}`, nginxUrl: `${nginx.url}/get/${name}` };
}

/** `runs` timed wrk runs of each side, interleaved (drift hits both), after one warm-up of each. */
async function compare(agentUrl: string, nginxUrl: string, runs: number, head = false): Promise<{ agent: number[]; nginx: number[] }> {
  const check = (what: string, r: WrkRun): number => {
    if (r.bad > 0) throw new Error(`${what}: ${r.bad} answer(s) were not 2xx/3xx or failed (a balance run out?)`);
    return r.rps;
  };
  await measure(agentUrl, WARM_SECONDS, head);
  await measure(nginxUrl, WARM_SECONDS, head);
  const out = { agent: [] as number[], nginx: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const a = async () => out.agent.push(check(`agent ${agentUrl}`, await measure(agentUrl, SECONDS, head)));
    const n = async () => out.nginx.push(check(`nginx ${nginxUrl}`, await measure(nginxUrl, SECONDS, head)));
    if (i % 2 === 0) {
      await a();
      await n();
    } else {
      await n();
      await a();
    }
  }
  return out;
}

const line = (what: string, c: { agent: number[]; nginx: number[] }): string => {
  const a = median(c.agent);
  const n = median(c.nginx);
  return `${what}: agent ${fmt(a)} req/s, nginx ${fmt(n)} req/s, ratio ${fmt(a / n, 3)}x (runs: agent ${c.agent.map((x) => fmt(x)).join(', ')}; nginx ${c.nginx.map((x) => fmt(x)).join(', ')})`;
};

export async function benchSmall(rig: TransferRig): Promise<BenchResult> {
  progress('small: paid files of 4 KiB, 64 KiB and 1 MiB (untimed)');
  const small = await smallFile(rig, 4 * KIB);
  const mid = await smallFile(rig, 64 * KIB);
  const large = await smallFile(rig, KIB * KIB);

  progress(`small: GET 4 KiB, ${RUNS} runs of ${SECONDS} s each side, interleaved (wrk -t1 -c${CONNECTIONS})`);
  const get4k = await compare(small.agentUrl, small.nginxUrl, RUNS);
  progress('small: HEAD 4 KiB (its own client), GET 64 KiB and GET 1 MiB, one run each side');
  const head = await compare(small.agentUrl, small.nginxUrl, 1, true);
  const get64k = await compare(mid.agentUrl, mid.nginxUrl, 1);
  const get1m = await compare(large.agentUrl, large.nginxUrl, 1);

  const agent = median(get4k.agent);
  const ref = median(get4k.nginx);
  const ratio = agent / ref;
  const pass = ratio >= SMALL_TARGET;
  return {
    name: 'small',
    line: `small GET 4KiB: agent ${fmt(agent)} req/s, nginx ${fmt(ref)} req/s, ratio ${fmt(ratio, 3)}x (target >= ${SMALL_TARGET}x) ${verdict(pass)}`,
    measured: `${fmt(agent)} req/s`,
    reference: `nginx ${fmt(ref)} req/s`,
    ratio: `${fmt(ratio, 3)}x`,
    target: `>= ${SMALL_TARGET}x`,
    pass,
    details: [line('GET 4 KiB', get4k), line('HEAD 4 KiB (free)', head), line('GET 64 KiB', get64k), line('GET 1 MiB', get1m)],
  };
}
