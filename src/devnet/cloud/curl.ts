/**
 * The image's `curl -fsS [--retry N] -o PATH URL`: a download over http from a loopback host only (the local
 * cloud's servers reach nothing else), with fetch, so the cloud keeps answering while a server boots. As curl,
 * `-f` fails on a status of 400 or more without writing the file, and `--retry N` tries again after a timeout
 * or a 408, 429, 500, 502, 503 or 504, waiting 1 s, then 2 s, 4 s, ...
 */
import { closeSync, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableStream } from 'node:stream/web';
import type { ShellContext } from './shell-context.ts';
import { openUnder } from './root-fs.ts';

/** The most a download may write: a bundle is a few hundred KiB; this bounds a server filling the cloud's disk. */
const MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 120_000;
const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

interface CurlArgs {
  url: URL;
  output: string;
  fail: boolean;
  retries: number;
}

function parseArgs(args: string[]): CurlArgs {
  let url: string | undefined;
  let output: string | undefined;
  let fail = false;
  let retries = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o' || a === '--output') output = args[++i];
    else if (a === '--retry') {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 0 || n > 10) throw new Error('--retry takes a count from 0 to 10');
      retries = n;
    } else if (a === '--fail' || /^-[fsS]+$/.test(a)) fail ||= a === '--fail' || a.includes('f');
    else if (a === '--silent' || a === '--show-error') continue;
    else if (a.startsWith('-')) throw new Error(`curl option ${a} is not one the image knows`);
    else if (url === undefined) url = a;
    else throw new Error('the image downloads one URL at a time');
  }
  if (url === undefined || output === undefined) throw new Error('the image ships `curl -fsS [--retry N] -o PATH URL`');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${url} is not a URL`);
  }
  if (parsed.protocol !== 'http:' || !LOOPBACK.has(parsed.hostname)) throw new Error(`${url}: a local cloud's server reaches http on loopback only`);
  return { url: parsed, output, fail, retries };
}

/** Counts the bytes going through, failing past the limit. */
function limit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > max ? new Error(`the download is over ${max} bytes`) : null, chunk);
    },
  });
}

/** One try: written to the file on success, or the error and whether curl would try again. */
async function attempt(c: CurlArgs, ctx: ShellContext): Promise<{ error: Error; transient: boolean } | null> {
  let res: Response;
  try {
    res = await fetch(c.url, { redirect: 'manual', signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
  } catch (e) {
    const timeout = (e as Error).name === 'TimeoutError';
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { error: new Error(timeout ? 'the transfer timed out' : `could not connect (${cause ?? (e as Error).message})`), transient: timeout };
  }
  if (c.fail && res.status >= 400) {
    await res.body?.cancel();
    return { error: new Error(`the requested URL returned error: ${res.status}`), transient: TRANSIENT.has(res.status) };
  }
  const { fd } = openUnder(ctx.root, c.output, 0o644);
  const out = createWriteStream('', { fd, autoClose: false });
  try {
    await pipeline(res.body ? Readable.fromWeb(res.body as ReadableStream<Uint8Array>) : Readable.from([]), limit(MAX_DOWNLOAD_BYTES), out);
  } catch (e) {
    const timeout = (e as Error).name === 'TimeoutError';
    return { error: new Error(timeout ? 'the transfer timed out' : (e as Error).message), transient: timeout };
  } finally {
    closeSync(fd);
  }
  return null;
}

export async function curl(args: string[], ctx: ShellContext): Promise<undefined> {
  const c = parseArgs(args);
  for (let tryNo = 0; ; tryNo++) {
    const failed = await attempt(c, ctx);
    if (failed === null) return undefined;
    if (!failed.transient || tryNo >= c.retries) throw failed.error;
    const wait = 1000 * 2 ** tryNo;
    ctx.log(`curl: ${failed.error.message}; retrying in ${wait / 1000} s`);
    await sleep(wait);
  }
}
