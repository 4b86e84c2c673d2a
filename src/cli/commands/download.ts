/**
 * `storj download`: a link (or a file id) streamed into a temp file beside the destination, checked against the
 * sha256 the agent sends as the ETag, then renamed into place; nothing is kept when anything fails.
 *
 * A link with a key after its `#` (`storj upload --encrypt`, docs/encryption.md) is decrypted as it arrives, and
 * saved under the name sealed inside it. Only the part before the `#` is ever sent, or printed. Its bytes are
 * not hashed: AES-GCM authenticates every one of them against the key (a changed, missing or added byte fails a
 * record's tag or the metadata's), which checks more than the agent's sha256 would, for no second pass.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { decryptStream, splitLink, type Metadata } from '../../e2e/index.ts';
import { AgentError, isAgentError } from '../../errors/index.ts';
import { agentUrl, clean, IDLE_TIMEOUT_MS, readCapped, reason, remoteError } from '../client/api.ts';
import { ID } from '../client/parse.ts';
import { showDemand } from '../render/text.ts';
import { onInterrupt, progress, type Ui } from '../render/ui.ts';

/** What the file stream takes before it asks for a pause: twice the decryption's batch (src/e2e/stream.ts). */
const WRITE_BUFFER_BYTES = 2 * 1024 * 1024;

/** The part of a Content-Disposition header that names the file, made safe to create in a directory. */
export function dispositionName(header: string | null): string | undefined {
  if (!header) return undefined;
  let name: string | undefined;
  const star = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(header);
  if (star?.[1]) {
    try {
      name = decodeURIComponent(star[1]);
    } catch {
      // malformed percent-encoding: fall back to the plain filename
    }
  }
  if (name === undefined) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
    name = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2];
  }
  return name === undefined ? undefined : safeName(name);
}

/**
 * The agent chooses the default name, and an agent may be hostile: keep only a last path component, without
 * control characters or leading dots (no `../x`, no hidden `.bashrc`).
 */
function safeName(name: string): string | undefined {
  const last = clean(name.split(/[/\\]/).pop() ?? '').replace(/^[.\s]+/, '').trim();
  return last === '' ? undefined : Array.from(last).slice(0, 200).join('');
}

function linkTarget(target: string, urlFlag: string | undefined): { url: string; fileId: string | undefined } {
  if (/^https?:\/\//i.test(target)) {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw new AgentError('BAD_REQUEST', `${target} is not a valid URL`);
    }
    const m = /\/([fs])\/([^/]+)\/?$/.exec(u.pathname);
    let fileId: string | undefined;
    try {
      fileId = m?.[2] ? decodeURIComponent(m[2]) : undefined;
    } catch {
      fileId = undefined;
    }
    // A file page's link (/s/FILE_ID, which `storj upload --encrypt` prints): the bytes are at /f/FILE_ID.
    if (m?.[1] === 's') u.pathname = `${u.pathname.slice(0, m.index)}/f/${m[2] ?? ''}`;
    return { url: u.toString(), fileId: fileId !== undefined && ID.test(fileId) ? fileId : undefined };
  }
  if (ID.test(target)) return { url: `${agentUrl(urlFlag)}/f/${target}`, fileId: target };
  throw new AgentError('BAD_REQUEST', `${target} is neither a link (http://.../s/FILE_ID or .../f/FILE_ID) nor a file id`);
}

/** The ETag of a download, which the API sets to the file's sha256. */
function etagSha256(etag: string | null): string | undefined {
  const m = /^(?:W\/)?"?([0-9a-fA-F]{64})"?$/.exec(etag?.trim() ?? '');
  return m?.[1]?.toLowerCase();
}

export async function download(ui: Ui, target: string, o: { output?: string; url?: string }): Promise<void> {
  const link = splitLink(target.trim());
  const key = link.key;
  const { url, fileId } = linkTarget(link.url, o.url);
  // Where the bytes go. The temp file is made first, next to the destination (so the final rename stays on one
  // file system), so a bad path fails before any byte is paid for.
  const explicit = o.output === undefined ? undefined : resolve(o.output);
  const intoDir = explicit !== undefined && existsSync(explicit) && statSync(explicit).isDirectory();
  const dir = explicit === undefined ? process.cwd() : intoDir ? explicit : dirname(explicit);
  const tmp = join(dir, `.storj-download-${randomBytes(6).toString('hex')}.part`);
  let handle;
  try {
    handle = await open(tmp, 'wx');
  } catch (e) {
    throw new AgentError('BAD_REQUEST', `cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const removeTmp = () => rm(tmp, { force: true });
  const stopHint = onInterrupt(async () => {
    await removeTmp();
    return 'interrupted: the partial download was deleted (only the bytes sent were charged).';
  });
  const ctl = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => ctl.abort(new AgentError('AGENT_UNREACHABLE', `the download stalled: nothing arrived for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
  };
  let bar: ReturnType<typeof progress> | undefined;
  try {
    touch();
    let res: Response;
    try {
      res = await fetch(url, { signal: ctl.signal, headers: { accept: '*/*' } });
    } catch (e) {
      throw ctl.signal.reason instanceof AgentError ? ctl.signal.reason : new AgentError('AGENT_UNREACHABLE', `no answer from ${new URL(url).origin} (${reason(e)})`, undefined, { cause: e });
    }
    if (!res.ok || !res.body) {
      const e = remoteError(res.status, await readCapped(res));
      if (e.status === 402) showDemand(ui, e, fileId);
      throw e;
    }
    const expected = etagSha256(res.headers.get('etag'));
    if (!expected) {
      ctl.abort();
      throw new AgentError('AGENT_BAD_RESPONSE', 'the answer has no sha256 ETag, so its bytes cannot be checked; nothing was kept');
    }
    const lengthHeader = res.headers.get('content-length');
    const length = lengthHeader !== null && /^[0-9]{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const destination = (name: string | undefined) => {
      const d = explicit !== undefined && !intoDir ? explicit : join(dir, name ?? fileId ?? 'download');
      // A name the agent (or whoever encrypted the file) chose never replaces an existing file; a path the user chose (-o) does.
      if (explicit === undefined && existsSync(d)) throw new AgentError('CONFLICT', `${d} already exists; choose a path with -o`);
      return d;
    };
    // An encrypted file's name is sealed inside it: known once its metadata has been opened.
    let dest: string | undefined;
    let metadata: Metadata | undefined;
    if (!key) {
      try {
        dest = destination(dispositionName(res.headers.get('content-disposition')));
      } catch (e) {
        ctl.abort();
        throw e;
      }
    }
    const decrypt = key
      ? [
          decryptStream({
            key,
            onMetadata: (m) => {
              metadata = m;
              dest = destination(safeName(m.name));
            },
          }),
        ]
      : [];
    // A plain file is checked against the agent's sha256; an encrypted one by its records' tags (above).
    const hash = key ? undefined : createHash('sha256');
    let received = 0;
    bar = progress(ui, 'downloading', length);
    const b = bar;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        touch();
        hash?.update(chunk);
        received += chunk.length;
        b.update(received);
        cb(null, chunk);
      },
    });
    try {
      // flush: fsync before the stream closes the file, so what is renamed into place is on disk. The high-water
      // mark lets what arrives while a write is under way (the decryption passes on a batch of records at once)
      // wait in the stream and go out in one writev, rather than one write each.
      await pipeline([Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), counter, ...decrypt, handle.createWriteStream({ flush: true, highWaterMark: WRITE_BUFFER_BYTES })]);
    } catch (e) {
      if (ctl.signal.reason instanceof AgentError) throw ctl.signal.reason;
      // The decryption's verdict (a wrong key, a damaged file) or a name already taken: stop the transfer there.
      ctl.abort();
      if (isAgentError(e)) throw e;
      throw new AgentError('AGENT_UNREACHABLE', `the download broke off after ${received} bytes (${reason(e)}); nothing was kept`, undefined, { cause: e });
    }
    handle = undefined; // closed by its stream
    b.stop();
    if (length !== undefined && received !== length) throw new AgentError('AGENT_BAD_RESPONSE', `got ${received} of ${length} bytes; nothing was kept`);
    const got = hash?.digest('hex');
    if (got !== undefined && got !== expected) {
      throw new AgentError('HASH_MISMATCH', `the bytes received hash to sha256 ${got}, not ${expected} as the ETag says; the download was deleted`);
    }
    if (dest === undefined) throw new AgentError('AGENT_BAD_RESPONSE', 'the download ended before the file could be named');
    await rename(tmp, dest);
    if (metadata) {
      ui.say(`saved ${dest} (${metadata.size} bytes, decrypted and authenticated: every record of the ${received} encrypted bytes opened under the key)`);
      ui.emit({ path: dest, ...(fileId ? { fileId } : {}), url, size: metadata.size, encrypted: true, ciphertextSize: received });
    } else {
      ui.say(`saved ${dest} (${received} bytes, sha256 ${got} checked)`);
      ui.emit({ path: dest, ...(fileId ? { fileId } : {}), url, size: received, sha256: got });
    }
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await removeTmp();
    throw e;
  } finally {
    clearTimeout(idle);
    bar?.stop();
    stopHint();
  }
}
