/**
 * `storj upload`'s transfer: the agent's tus endpoint (docs/uploads.md) through tus-js-client, in pieces of
 * CHUNK_BYTES, each fsynced by the agent before it answers. A dropped connection, a 5xx or an agent that is
 * down for a while (a restart) is retried from the offset the agent reports, so only what it does not hold is
 * sent again. The bytes come from a `Source` read at any offset: the file itself, or its encryption, sealed
 * record by record where asked (src/e2e/slices.ts). Each slice is read while the one before it is sent.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { DetailedError, Upload } from 'tus-js-client';
import type { SliceEncryptor } from '../../e2e/index.ts';
import { AgentError } from '../../errors/index.ts';
import { remoteError, RemoteError } from './api.ts';
import { parseStored, type Stored } from './parse.ts';

/** Each PATCH carries this much: an interruption costs at most this much sent again. */
const CHUNK_BYTES = 32 * 1024 * 1024;
/** Waits between tries after a failure: quick at first, then every 2 s for about two minutes (an agent restarting). */
const RETRY_DELAYS_MS = [0, 250, 500, 1000, ...Array<number>(60).fill(2000)];

/**
 * Bytes read at any offset, one read at a time. What a read returns may be overwritten by the reads after the
 * next one (the sources below use their buffers again), so it must be used by then.
 */
export interface Source {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Reads bytes [position, position + into.length) of `fh` into `into`. */
async function readFully(fh: FileHandle, path: string, into: Uint8Array, position: number): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await fh.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new AgentError('BAD_REQUEST', `${path} became shorter while it was sent`);
    got += bytesRead;
  }
}

/**
 * The buffers a source reads its slices into, used again in turn: a slice's bytes stay as they were until
 * SLICE_BUFFERS - 1 more slices have been read. tus-js-client sends one slice at a time and asks for the next only
 * once the agent has answered for it, and the read-ahead (below) reads one more, so three are enough. Memory
 * the kernel has already mapped is faster to fill than a new allocation of 32 MiB, whose every page faults in.
 */
const SLICE_BUFFERS = 3;

function sliceBuffers(): (length: number) => Buffer {
  const ring: Buffer[] = [];
  let next = 0;
  return (length) => {
    let b = ring[next];
    if (!b || b.length < length) ring[next] = b = Buffer.allocUnsafeSlow(Math.max(length, b?.length ?? 0));
    next = (next + 1) % SLICE_BUFFERS;
    return b.subarray(0, length);
  };
}

/** A file on disk, read where asked. */
export async function fileSource(path: string, size: number): Promise<Source> {
  const fh = await open(path, 'r');
  const buffer = sliceBuffers();
  return {
    size,
    async read(start, end) {
      const buf = buffer(end - start);
      await readFully(fh, path, buf, start);
      return buf;
    },
    close: () => fh.close(),
  };
}

/** About this much plaintext is sealed in one go (at least one record) before the sending of the slice before gets a turn. */
const SEAL_BATCH_BYTES = 1024 * 1024;

/**
 * A file's encryption (src/e2e/slices.ts), made where asked: the plaintext of the records a slice covers is
 * read with one read, then sealed a batch of records at a time, so a read-ahead (below) seals while the previous
 * slice is on the wire.
 */
export async function encryptedFileSource(path: string, encryptor: SliceEncryptor): Promise<Source> {
  const fh = await open(path, 'r');
  const buffer = sliceBuffers();
  // One read at a time (the read-ahead's rule), so the plaintext's buffer is one, used again.
  let plainBuffer = Buffer.alloc(0);
  return {
    size: encryptor.size,
    async read(start, end) {
      const span = encryptor.span(start, end);
      if (plainBuffer.length < span.to - span.from) plainBuffer = Buffer.allocUnsafeSlow(span.to - span.from);
      const plain = plainBuffer.subarray(0, span.to - span.from);
      await readFully(fh, path, plain, span.from);
      const out = buffer(end - start);
      const batch = Math.max(1, Math.floor(SEAL_BATCH_BYTES / encryptor.recordSize));
      for (let first = span.first; ; first += batch) {
        encryptor.seal(span, plain, out, first, first + batch - 1);
        if (first + batch > span.last) break;
        await new Promise(setImmediate);
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/**
 * `source`, read one slice ahead: once a slice [start, end) has been handed over, the next one, as long, is
 * read while the first is sent. A read of anything else (a resume from another offset) waits for the one
 * ahead to end and reads where asked, so `source` is never read twice at once.
 */
export function readAhead(source: Source): Source {
  let ahead: { start: number; end: number; bytes: Promise<Uint8Array> } | undefined;
  return {
    size: source.size,
    async read(start, end) {
      const next = ahead;
      ahead = undefined;
      let bytes: Uint8Array;
      if (next?.start === start && next.end === end) {
        bytes = await next.bytes;
      } else {
        await next?.bytes.catch(() => undefined);
        bytes = await source.read(start, end);
      }
      if (end < source.size && end > start) {
        const following = { start: end, end: Math.min(source.size, 2 * end - start), bytes: source.read(end, Math.min(source.size, 2 * end - start)) };
        // Its failure is reported to whoever asks for it; one never asked for is dropped.
        following.bytes.catch(() => undefined);
        ahead = following;
      }
      return bytes;
    },
    close: async () => {
      await ahead?.bytes.catch(() => undefined);
      await source.close();
    },
  };
}

/**
 * Uploads `source` to the paid upload `id` through the agent's tus endpoint, resuming after dropped connections
 * and agent restarts. `onProgress` gets the bytes the agent holds so far.
 * @returns what the agent stored, and the sha256 of every byte of `source`, to check against it
 * @throws RemoteError for an answer the agent means (402, 409...); AgentError AGENT_UNREACHABLE when every try failed
 */
export async function tusUpload(base: string, id: string, token: string, file: Source, onProgress: (sent: number) => void): Promise<{ stored: Stored; sentSha256: string }> {
  const source = readAhead(file);
  const hash = createHash('sha256');
  let hashed = 0;
  /**
   * Hashes the bytes before `start` that this run never read (the agent held them from a previous run's upload),
   * a slice at a time, each hashed before the next read: a slice's buffer is used again a few reads later, and
   * a read of the whole gap at once would take a buffer as large as the gap.
   */
  const catchUp = async (start: number): Promise<void> => {
    while (hashed < start) {
      const end = Math.min(start, hashed + CHUNK_BYTES);
      hash.update(await source.read(hashed, end));
      hashed = end;
    }
  };
  /** Hashes each byte of the source once, in order, whatever the slices asked for (catchUp has run up to `start`). */
  const note = (start: number, bytes: Uint8Array): void => {
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
          // The gap first: read after this slice, it would take this slice's buffer before tus-js-client sends it.
          await catchUp(start);
          const value = await source.read(start, Math.min(end, source.size));
          note(start, value);
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
    await catchUp(source.size);
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
