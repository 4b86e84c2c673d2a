/**
 * Random access to an encrypted file (the format is ./format.ts, specified in docs/encryption.md): bytes
 * [start, end) of the ciphertext from just the plaintext of the records that cover them. Every record is sealed
 * on its own, under a nonce made from its index, so any record can be sealed without the ones before it; with
 * the key and the salt fixed, the same bytes come out wherever a slice starts. The browser's
 * src/web/assets/e2e.js `encryptedSource` does the same on WebCrypto.
 */
import { createCipheriv } from 'node:crypto';
import { AgentError } from '../errors/index.ts';
import { ciphertextSize, DEFAULT_RECORD_LOG2, FLAG_FINAL, FLAG_RECORD, nonce, PREFIX_BYTES, recordCount, recordLength, TAG_BYTES } from './format.ts';
import { prepare, type EncryptOptions } from './stream.ts';

/**
 * What a slice is made of: the records `first`..`last` (none when `last < first`: the slice lies within the
 * prefix), and the plaintext bytes [from, to) that `seal` needs for them. A record kept from the slice before
 * (below) needs no plaintext, so `from` may start after `first`'s.
 */
export interface Span {
  start: number;
  end: number;
  first: number;
  last: number;
  from: number;
  to: number;
}

export class SliceEncryptor {
  /** The encrypted file's size (format.ts `ciphertextSize`). */
  readonly size: number;
  private readonly prefix: Buffer;
  private readonly contentKey: Buffer;
  private readonly plainSize: number;
  private readonly recordLog2: number;
  /** Plaintext bytes in a record (the last one may be shorter). */
  readonly recordSize: number;
  private readonly records: number;
  /**
   * The last record sealed when it runs past the end of its slice: the next slice, which starts inside it, takes
   * it as it is. So a record is sealed once even when it is sent in two slices, and stays whole (it would not
   * open if its two parts were sealed from two versions of a file that changed in between).
   */
  private kept: Sealed | undefined;

  /** @throws AgentError (when built) E2E_BAD_KEY, BAD_REQUEST for a bad size, salt, name, media type or record size */
  constructor(o: EncryptOptions) {
    ({ prefix: this.prefix, contentKey: this.contentKey } = prepare(o));
    this.recordLog2 = o.recordLog2 ?? DEFAULT_RECORD_LOG2;
    this.size = ciphertextSize(o.size, this.recordLog2);
    this.plainSize = o.size;
    this.recordSize = 2 ** this.recordLog2;
    this.records = recordCount(o.size, this.recordLog2);
  }

  /** Where sealed record `index` starts in the encrypted file. */
  private recordStart(index: number): number {
    return PREFIX_BYTES + index * (this.recordSize + TAG_BYTES);
  }

  /** The record that holds encrypted byte `at` (record 0 for a byte of the prefix). */
  private recordAt(at: number): number {
    return at < PREFIX_BYTES ? 0 : Math.min(this.records - 1, Math.floor((at - PREFIX_BYTES) / (this.recordSize + TAG_BYTES)));
  }

  /**
   * What encrypted bytes [start, end) are made of.
   * @throws AgentError BAD_REQUEST for a range outside the encrypted file
   */
  span(start: number, end: number): Span {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.size) {
      throw new AgentError('BAD_REQUEST', `bytes ${start} to ${end} are not within the ${this.size}-byte encrypted file`);
    }
    const first = this.recordAt(start);
    const last = end <= PREFIX_BYTES ? -1 : this.recordAt(end - 1);
    const readFrom = this.kept?.index === first ? first + 1 : first;
    const to = Math.min(this.plainSize, (last + 1) * this.recordSize);
    return { start, end, first, last, from: Math.min(to, readFrom * this.recordSize), to };
  }

  /**
   * Writes the span's encrypted bytes into `out` (from its offset 0), sealing records `from`..`to` of it (all of
   * them by default, and the prefix with the first) from `plain`, the plaintext bytes [s.from, s.to). A long
   * slice can so be sealed a few records at a time, with other work (the sending of the slice before) let in
   * between. The spans are sealed in the order they were asked for.
   * @throws AgentError E2E_SIZE_MISMATCH when `plain` is not the span's length
   */
  seal(s: Span, plain: Uint8Array, out: Uint8Array, from = s.first, to = s.last): void {
    if (plain.length !== s.to - s.from) throw new AgentError('E2E_SIZE_MISMATCH', `the plaintext of records ${s.first} to ${s.last} is ${plain.length} bytes, not ${s.to - s.from}`);
    if (from === s.first && s.start < PREFIX_BYTES) out.set(this.prefix.subarray(s.start, Math.min(s.end, PREFIX_BYTES)), 0);
    for (let i = Math.max(from, s.first); i <= Math.min(to, s.last); i++) {
      let sealed: Sealed;
      if (this.kept?.index === i) {
        sealed = this.kept;
      } else {
        const offset = i * this.recordSize - s.from;
        const c = createCipheriv('aes-256-gcm', this.contentKey, nonce(i, i === this.records - 1 ? FLAG_FINAL : FLAG_RECORD));
        const body = c.update(plain.subarray(offset, offset + recordLength(this.plainSize, this.recordLog2, i)));
        c.final();
        sealed = { index: i, body, tag: c.getAuthTag() };
      }
      // The sealed record is its body then its tag, from `at` in the file: what of it lies in [start, end) is copied.
      const at = this.recordStart(i);
      copyWithin(sealed.body, at, s, out);
      copyWithin(sealed.tag, at + sealed.body.length, s, out);
      if (at + sealed.body.length + TAG_BYTES > s.end) this.kept = sealed;
    }
  }
}

/** A sealed record: its ciphertext and its tag. */
interface Sealed {
  index: number;
  body: Buffer;
  tag: Buffer;
}

/** Copies the bytes of `src`, which sit at `at` in the encrypted file, that lie within the span, to their place in `out`. */
function copyWithin(src: Buffer, at: number, s: Span, out: Uint8Array): void {
  const a = Math.max(at, s.start);
  const b = Math.min(at + src.length, s.end);
  if (b > a) out.set(src.subarray(a - at, b - at), a - s.start);
}

/** The whole encrypted file of `plain`, sealed slice by slice between the given cuts (for the tests). */
export function encryptBySlices(plain: Uint8Array, o: Omit<EncryptOptions, 'size'>, cuts: number[]): Buffer {
  const e = new SliceEncryptor({ ...o, size: plain.length });
  const out = Buffer.alloc(e.size);
  const points = [0, ...cuts.filter((c) => c > 0 && c < e.size).sort((a, b) => a - b), e.size];
  for (let k = 0; k + 1 < points.length; k++) {
    const s = e.span(points[k] ?? 0, points[k + 1] ?? 0);
    e.seal(s, plain.subarray(s.from, s.to), out.subarray(s.start, s.end));
  }
  return out;
}
