/**
 * `storj upload`'s transfer: the agent's tus endpoint (docs/uploads.md) through tus-js-client, in pieces of
 * CHUNK_BYTES, each fsynced by the agent before it answers. A dropped connection, a 5xx or an agent that is
 * down for a while (a restart) is retried from the offset the agent reports, so only what it does not hold is
 * sent again. The bytes come from a `Source` read at any offset: the file itself, or its encryption made again
 * from the start (the encryption is deterministic once its key and salt are fixed).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DetailedError, Upload } from 'tus-js-client';
import { AgentError } from '../../errors/index.ts';
import { remoteError, RemoteError } from './api.ts';
import { parseStored, type Stored } from './parse.ts';

/** Each PATCH carries this much: an interruption costs at most this much sent again. */
const CHUNK_BYTES = 32 * 1024 * 1024;
/** Waits between tries after a failure: quick at first, then every 2 s for about two minutes (an agent restarting). */
const RETRY_DELAYS_MS = [0, 250, 500, 1000, ...Array<number>(60).fill(2000)];

/** Bytes read at any offset. */
export interface Source {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A file on disk, read where asked. */
export async function fileSource(path: string, size: number): Promise<Source> {
  const fh = await open(path, 'r');
  return {
    size,
    async read(start, end) {
      const buf = Buffer.allocUnsafe(end - start);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
        if (bytesRead === 0) throw new AgentError('BAD_REQUEST', `${path} became shorter while it was sent`);
        got += bytesRead;
      }
      return buf;
    },
    close: () => fh.close(),
  };
}

/**
 * What a stream makes (`make()` starts it again from the beginning), read where asked: forward reads continue
 * it, a read behind where it stands starts it again and skips to there.
 */
export function streamSource(size: number, make: () => Readable): Source {
  let stream: Readable | undefined;
  let iterator: AsyncIterator<Buffer> | undefined;
  let at = 0;
  let pending: Buffer = Buffer.alloc(0);
  const restart = () => {
    stream?.destroy();
    stream = make();
    iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    at = 0;
    pending = Buffer.alloc(0);
  };
  const take = async (n: number): Promise<Uint8Array> => {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (pending.length === 0) {
        const r = await iterator?.next();
        if (!r || r.done) throw new AgentError('BAD_REQUEST', 'the file became shorter while it was sent');
        pending = r.value;
      }
      const part = pending.subarray(0, n - have);
      pending = pending.subarray(part.length);
      parts.push(part);
      have += part.length;
    }
    at += n;
    return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts);
  };
  return {
    size,
    async read(start, end) {
      if (!iterator || start < at) restart();
      if (start > at) await take(start - at);
      return take(end - start);
    },
    close: () => {
      stream?.destroy();
      return Promise.resolve();
    },
  };
}

/** `createReadStream(path)` through `through`, for `streamSource`. */
export const encryptedFile = (path: string, through: () => NodeJS.ReadWriteStream) => (): Readable => createReadStream(path).pipe(through()) as unknown as Readable;

/**
 * Uploads `source` to the paid upload `id` through the agent's tus endpoint, resuming after dropped connections
 * and agent restarts. `onProgress` gets the bytes the agent holds so far.
 * @returns what the agent stored, and the sha256 of every byte of `source`, to check against it
 * @throws RemoteError for an answer the agent means (402, 409...); AgentError AGENT_UNREACHABLE when every try failed
 */
export async function tusUpload(base: string, id: string, token: string, source: Source, onProgress: (sent: number) => void): Promise<{ stored: Stored; sentSha256: string }> {
  const hash = createHash('sha256');
  let hashed = 0;
  /** Hashes each byte of the source once, in order, whatever the slices asked for. */
  const note = async (start: number, bytes: Uint8Array): Promise<void> => {
    if (start > hashed) {
      // The agent already held bytes this run never read (it resumed a previous run's upload): read them for the hash.
      hash.update(await source.read(hashed, start));
      hashed = start;
    }
    const end = start + bytes.length;
    if (end > hashed) {
      hash.update(bytes.subarray(hashed - start));
      hashed = end;
    }
  };
  // tus-js-client's FileReader (lib/index.d.ts, not exported): openFile gives a source sliced at any offset.
  const fileReader = {
    openFile: () =>
      Promise.resolve({
        size: source.size,
        async slice(start: number, end: number): Promise<{ value: Uint8Array; done: boolean }> {
          const value = await source.read(start, Math.min(end, source.size));
          await note(start, value);
          // `done` is only read with the value's `size` (a Blob's; a byte array has none), so never set: the upload
          // ends when the agent's offset reaches the length.
          return { value, done: false };
        },
        close: () => undefined,
      }),
  };
  try {
    const headers = await new Promise<Record<string, string>>((resolve, reject) => {
      const upload = new Upload(Buffer.alloc(0), {
        endpoint: `${base}/v1/tus`,
        uploadSize: source.size,
        chunkSize: CHUNK_BYTES,
        retryDelays: RETRY_DELAYS_MS,
        headers: { authorization: `Bearer ${token}` },
        metadata: { uploadId: id },
        fileReader,
        storeFingerprintForResuming: false,
        removeFingerprintOnSuccess: true,
        onProgress: (sent: number) => onProgress(sent),
        onError: reject,
        onSuccess: (payload) => {
          const res = payload.lastResponse;
          const out: Record<string, string> = {};
          for (const k of ['storj-file-id', 'storj-file-url', 'storj-sha256', 'upload-length']) out[k] = res.getHeader(k) ?? '';
          resolve(out);
        },
      });
      upload.start();
    });
    if (hashed < source.size) await note(source.size, new Uint8Array(0));
    const stored = parseStored({ fileId: headers['storj-file-id'], url: headers['storj-file-url'], size: Number(headers['upload-length']), sha256: headers['storj-sha256'] });
    return { stored, sentSha256: hash.digest('hex') };
  } catch (e) {
    throw tusError(e, base);
  } finally {
    await source.close();
  }
}

/** tus-js-client's error as the CLI's: the agent's own error when it answered with one, else AGENT_UNREACHABLE. */
function tusError(e: unknown, base: string): unknown {
  if (e instanceof AgentError || e instanceof RemoteError) return e;
  const res = e instanceof DetailedError ? e.originalResponse : null;
  if (res) return remoteError(res.getStatus(), res.getBody());
  return new AgentError('AGENT_UNREACHABLE', `the upload to ${new URL(base).origin} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, undefined, { cause: e });
}
