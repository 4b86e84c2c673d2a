import type { FileHandle } from 'node:fs/promises';
import { AgentError } from '../errors/index.ts';
import type { BlobReader } from './types.ts';

/** Positional reads of `[position, end)` through one file handle, which it owns. */
export class FileRangeReader implements BlobReader {
  readonly length: number;
  #position: number;
  #closed: Promise<void> | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly sha256: string,
    start: number,
    private readonly end: number,
  ) {
    this.#position = start;
    this.length = end - start;
  }

  async read(buf: Uint8Array): Promise<number> {
    const want = Math.min(buf.length, this.end - this.#position);
    if (want <= 0) return 0;
    const { bytesRead } = await this.fh.read(buf, 0, want, this.#position);
    if (bytesRead === 0) throw new AgentError('BLOB_TRUNCATED', `blob ${this.sha256} ends at byte ${this.#position}, before the ${this.end} bytes it should have`);
    this.#position += bytesRead;
    return bytesRead;
  }

  close(): Promise<void> {
    this.#closed ??= this.fh.close();
    return this.#closed;
  }
}
