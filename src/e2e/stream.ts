/**
 * Encryption and decryption as they stream (the format is ./format.ts, specified in docs/encryption.md). Neither
 * side ever holds the whole file: the encryptor feeds each chunk straight into its record's cipher and holds
 * nothing; the decryptor gathers one sealed record at a time, opens it whole, and passes on no plaintext before
 * its record's tag has been checked (the stream holds up to 1 MiB of checked plaintext, to write it in batches).
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCM } from 'node:crypto';
import { Transform } from 'node:stream';
import { AgentError } from '../errors/index.ts';
import {
  buildHeader,
  decodeMetadata,
  DEFAULT_RECORD_LOG2,
  deriveKeys,
  encodeMetadata,
  FLAG_FINAL,
  FLAG_METADATA,
  FLAG_RECORD,
  HEADER_BYTES,
  KEY_BYTES,
  MAGIC,
  METADATA_BYTES,
  nonce,
  open,
  openHeader,
  recordCount,
  recordLength,
  SALT_BYTES,
  seal,
  TAG_BYTES,
  type Metadata,
} from './format.ts';

export interface EncryptOptions {
  /** The file key: 32 random bytes (./link.ts `newKey`), which travel only in the link's #fragment. */
  key: Uint8Array;
  /** The plaintext's size in bytes, sealed in the metadata: the input must be exactly this long. */
  size: number;
  /** The file's name, sealed in the metadata (default: none). */
  name?: string;
  /** Its media type, sealed in the metadata (default: none). */
  contentType?: string;
  /** log2 of the record size (default format.ts DEFAULT_RECORD_LOG2: 20, 1 MiB). */
  recordLog2?: number;
  /** The header's salt (default: 16 random bytes); fixed only by the test vectors. */
  salt?: Uint8Array;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new AgentError('E2E_BAD_KEY', `a file key is ${KEY_BYTES} bytes, not ${key.length}`);
}

/**
 * The content key, and the prefix (header and sealed metadata) that comes before the records.
 * @throws AgentError E2E_BAD_KEY, BAD_REQUEST for a bad size, salt, name, media type or record size
 */
export function prepare(o: EncryptOptions): { prefix: Buffer; contentKey: Buffer } {
  checkKey(o.key);
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new AgentError('BAD_REQUEST', `a plaintext size must be a whole number of bytes, not ${o.size}`);
  const salt = o.salt ?? randomBytes(SALT_BYTES);
  if (salt.length !== SALT_BYTES) throw new AgentError('BAD_REQUEST', `a salt is ${SALT_BYTES} bytes`);
  const { contentKey, keyCheck } = deriveKeys(o.key, salt);
  const header = buildHeader(o.recordLog2 ?? DEFAULT_RECORD_LOG2, salt, keyCheck);
  const metadata = encodeMetadata({ size: o.size, name: o.name ?? '', contentType: o.contentType ?? '' });
  return { prefix: Buffer.concat([header, seal(contentKey, nonce(0, FLAG_METADATA), metadata, header)]), contentKey };
}

/** Encrypts a plaintext handed over in chunks of any size: `prefix` first, then what `update` and `finish` return. */
class Encryptor {
  readonly prefix: Buffer;
  private readonly contentKey: Buffer;
  private readonly size: number;
  private readonly recordLog2: number;
  private readonly records: number;
  private index = 0;
  private inRecord = 0;
  private taken = 0;
  private cipher: CipherGCM | undefined;

  constructor(o: EncryptOptions) {
    ({ prefix: this.prefix, contentKey: this.contentKey } = prepare(o));
    this.recordLog2 = o.recordLog2 ?? DEFAULT_RECORD_LOG2;
    this.size = o.size;
    this.records = recordCount(o.size, this.recordLog2);
  }

  private flag(index: number): number {
    return index === this.records - 1 ? FLAG_FINAL : FLAG_RECORD;
  }

  /** @throws AgentError E2E_SIZE_MISMATCH when the input runs past the declared size */
  update(chunk: Uint8Array): Buffer[] {
    if (this.taken + chunk.length > this.size) throw new AgentError('E2E_SIZE_MISMATCH', `the input is longer than the ${this.size} bytes declared`);
    this.taken += chunk.length;
    const out: Buffer[] = [];
    let off = 0;
    while (off < chunk.length) {
      const length = recordLength(this.size, this.recordLog2, this.index);
      const take = Math.min(length - this.inRecord, chunk.length - off);
      this.cipher ??= createCipheriv('aes-256-gcm', this.contentKey, nonce(this.index, this.flag(this.index)));
      out.push(this.cipher.update(chunk.subarray(off, off + take)));
      off += take;
      this.inRecord += take;
      if (this.inRecord === length) {
        this.cipher.final();
        out.push(this.cipher.getAuthTag());
        this.cipher = undefined;
        this.index++;
        this.inRecord = 0;
      }
    }
    return out;
  }

  /** @throws AgentError E2E_SIZE_MISMATCH when the input ended short of the declared size */
  finish(): Buffer[] {
    if (this.taken !== this.size) throw new AgentError('E2E_SIZE_MISMATCH', `the input ended after ${this.taken} of the ${this.size} bytes declared`);
    // Only an empty file has a record no byte went into: its one, empty, final record.
    return this.index < this.records ? [seal(this.contentKey, nonce(this.index, FLAG_FINAL), Buffer.alloc(0))] : [];
  }
}

export interface DecryptOptions {
  key: Uint8Array;
  /** Called once the metadata is open, before any plaintext; a throw ends the decryption with that error. */
  onMetadata?: (m: Metadata) => void;
}

/** Decrypts an encrypted file handed over in chunks of any size; `update` returns plaintext only once authenticated. */
class Decryptor {
  metadata: Metadata | undefined;
  private readonly key: Uint8Array;
  private readonly onMetadata: ((m: Metadata) => void) | undefined;
  private prefix = Buffer.alloc(0);
  private header: Buffer | undefined;
  private contentKey: Buffer | undefined;
  private recordLog2 = 0;
  private records = 0;
  private index = 0;
  private received = 0;
  /** The sealed record being gathered from several chunks, and how much of it has arrived. */
  private gathering = Buffer.alloc(0);
  private gathered = 0;

  constructor(o: DecryptOptions) {
    checkKey(o.key);
    this.key = o.key;
    this.onMetadata = o.onMetadata;
  }

  /** @throws AgentError E2E_BAD_HEADER, E2E_WRONG_KEY, E2E_TAMPERED */
  update(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let off = 0;
    this.received += chunk.length;
    while (off < chunk.length) {
      if (this.metadata === undefined) off = this.readPrefix(chunk, off);
      else if (this.index === this.records) throw new AgentError('E2E_TAMPERED', 'there are bytes after the final record: the encrypted file was extended');
      else off = this.readRecord(chunk, off, out);
    }
    return out;
  }

  private readPrefix(chunk: Buffer, off: number): number {
    const want = (this.header ? HEADER_BYTES + METADATA_BYTES + TAG_BYTES : HEADER_BYTES) - this.prefix.length;
    const take = Math.min(want, chunk.length - off);
    this.prefix = Buffer.concat([this.prefix, chunk.subarray(off, off + take)]);
    const seen = Math.min(this.prefix.length, MAGIC.length);
    if (!this.header && !this.prefix.subarray(0, seen).equals(MAGIC.subarray(0, seen))) {
      throw new AgentError('E2E_BAD_HEADER', 'these bytes are not an encrypted file (no SJEF header)');
    }
    if (take === want) {
      if (!this.header) {
        this.header = this.prefix;
        ({ recordLog2: this.recordLog2, contentKey: this.contentKey } = openHeader(this.header, this.key));
      } else {
        const sealed = this.prefix.subarray(HEADER_BYTES);
        const m = decodeMetadata(open(this.contentKey ?? Buffer.alloc(0), nonce(0, FLAG_METADATA), sealed, 'the metadata', this.header));
        this.records = recordCount(m.size, this.recordLog2);
        this.metadata = m;
        this.onMetadata?.(m);
      }
    }
    return off + take;
  }

  /**
   * Takes the bytes of the current sealed record from `chunk`: a record that lies whole in the chunk is opened
   * where it is, one that straddles chunks is gathered first. Each record is opened with one call, and its
   * plaintext goes out only once its tag has been checked.
   */
  private readRecord(chunk: Buffer, off: number, out: Buffer[]): number {
    const length = recordLength(this.metadata?.size ?? 0, this.recordLog2, this.index) + TAG_BYTES;
    if (this.gathered === 0 && chunk.length - off >= length) {
      out.push(this.openRecord(chunk.subarray(off, off + length)));
      return off + length;
    }
    const take = Math.min(length - this.gathered, chunk.length - off);
    if (this.gathering.length < length) this.gathering = Buffer.allocUnsafe(2 ** this.recordLog2 + TAG_BYTES);
    chunk.copy(this.gathering, this.gathered, off, off + take);
    this.gathered += take;
    if (this.gathered === length) {
      out.push(this.openRecord(this.gathering.subarray(0, length)));
      this.gathered = 0;
    }
    return off + take;
  }

  /** The plaintext of the current record, from its sealed bytes (body and tag); the next record becomes current. */
  private openRecord(sealed: Buffer): Buffer {
    const last = this.index === this.records - 1;
    const d = createDecipheriv('aes-256-gcm', this.contentKey ?? Buffer.alloc(0), nonce(this.index, last ? FLAG_FINAL : FLAG_RECORD));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw new AgentError('E2E_TAMPERED', `record ${this.index + 1} of ${this.records} fails authentication: the encrypted file was altered, or its records reordered or removed`);
    }
    this.index++;
    return plain;
  }

  /** @throws AgentError E2E_TRUNCATED when the input ended before the final record */
  finish(): void {
    if (this.metadata !== undefined && this.index === this.records) return;
    const expected = this.metadata ? ` of the ${HEADER_BYTES + METADATA_BYTES + TAG_BYTES + this.metadata.size + this.records * TAG_BYTES} its metadata announces` : '';
    throw new AgentError('E2E_TRUNCATED', this.received === 0 ? 'the encrypted file is empty' : `the encrypted file ends after ${this.received} bytes${expected}, before its final record`);
  }
}

/**
 * A Transform from plaintext to the encrypted file.
 * @throws AgentError (when built) E2E_BAD_KEY, BAD_REQUEST for a bad size, salt, name or media type
 */
export function encryptStream(o: EncryptOptions): Transform {
  const e = new Encryptor(o);
  let started = false;
  const start = (t: Transform) => {
    if (!started) t.push(e.prefix);
    started = true;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        start(this);
        for (const b of e.update(chunk)) if (b.length > 0) this.push(b);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        start(this);
        for (const b of e.finish()) this.push(b);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/**
 * Authenticated plaintext is passed on in batches of this much, all at once: a file stream then writes the batch
 * with one or two system calls (the first record alone, the rest gathered by writev while it is written) rather
 * than one for each network chunk and record.
 */
const RELEASE_BYTES = 1024 * 1024;

/**
 * A Transform from the encrypted file to its plaintext; it fails (E2E_BAD_HEADER, E2E_WRONG_KEY, E2E_TAMPERED,
 * E2E_TRUNCATED) as soon as the bytes show it, and never passes on a byte of a record that fails to open.
 * @throws AgentError (when built) E2E_BAD_KEY
 */
export function decryptStream(o: DecryptOptions): Transform {
  const d = new Decryptor(o);
  let held: Buffer[] = [];
  let heldBytes = 0;
  const release = (t: Transform) => {
    for (const b of held) t.push(b);
    held = [];
    heldBytes = 0;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        for (const b of d.update(chunk)) {
          if (b.length === 0) continue;
          held.push(b);
          heldBytes += b.length;
        }
        if (heldBytes >= RELEASE_BYTES) release(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        d.finish();
        release(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** The whole encrypted file of `plain`, in memory (for small files and the tests). */
export function encrypt(plain: Uint8Array, o: Omit<EncryptOptions, 'size'>): Buffer {
  const e = new Encryptor({ ...o, size: plain.length });
  return Buffer.concat([e.prefix, ...e.update(plain), ...e.finish()]);
}

/**
 * The plaintext and metadata of a whole encrypted file, in memory (for small files and the tests).
 * @throws AgentError E2E_BAD_KEY, E2E_BAD_HEADER, E2E_WRONG_KEY, E2E_TAMPERED, E2E_TRUNCATED
 */
export function decrypt(encrypted: Uint8Array, key: Uint8Array): { plaintext: Buffer; metadata: Metadata } {
  const d = new Decryptor({ key });
  const plaintext = Buffer.concat(d.update(Buffer.from(encrypted.buffer, encrypted.byteOffset, encrypted.byteLength)));
  d.finish();
  if (!d.metadata) throw new AgentError('E2E_TRUNCATED', 'the encrypted file ends before its metadata');
  return { plaintext, metadata: d.metadata };
}
