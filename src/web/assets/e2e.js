/**
 * End-to-end encryption in the browser: the encrypted file format of docs/encryption.md (version 1) on WebCrypto
 * alone, as a plain ES module the agent's pages load (no build step, nothing from node_modules). It writes and
 * reads the same bytes as the CLI's src/e2e, and test/fixtures/e2e-vectors.json holds both to it
 * (test/web/e2e-vectors.test.ts runs them in Chromium).
 *
 * - encryptedSource: random access to the ciphertext of a Blob. slice(start, end) encrypts only the records that
 *   cover [start, end), read with Blob.slice(), so an upload can start or resume at any offset without the file
 *   in memory. Nonces come from the record counter, so any record can be sealed on its own.
 * - decryptResponse: streaming. The header and the sealed metadata are checked first (a wrong key fails before
 *   any content); then a ReadableStream opens record after record as the bytes arrive, and never releases a
 *   record's plaintext before its tag is checked.
 * - saveStream: a decrypted stream into the downloads, through the service worker ./sw.js, without holding it.
 *
 * Every failure is an Error whose `code` is one of src/e2e/errors.ts's (E2E_BAD_KEY, E2E_WRONG_KEY, ...).
 */
import {
  checkKey,
  decodeMetadata,
  DEFAULT_RECORD_LOG2,
  deriveKeys,
  E2EError,
  encodeMetadata,
  equalConstantTime,
  FLAG_FINAL,
  FLAG_METADATA,
  FLAG_RECORD,
  HEADER_BYTES,
  MAGIC,
  MAX_RECORD_LOG2,
  METADATA_BYTES,
  MIN_RECORD_LOG2,
  nonce,
  PREFIX_BYTES,
  recordCount,
  recordLength,
  SALT_BYTES,
  sizeWith,
  subtle,
  TAG_BYTES,
  VERSION,
} from './e2e-format.js';

export { decodeKey, encodeKey, encryptedSize, newFileKey } from './e2e-format.js';
export { saveStream } from './e2e-save.js';

// ---------------------------------------------------------------------------------------------------- encrypting

/**
 * @typedef {{ size: number, slice(start: number, end: number): Promise<Uint8Array<ArrayBuffer>> }} EncryptedSource
 */

/**
 * A new random salt for the header. encryptedSource makes one itself; a page that must make the same ciphertext
 * again later (an upload resumed after a reload) makes it here, keeps it with the key and passes both.
 */
export const newSalt = () => globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));

/**
 * The ciphertext of `file` under `key`, with random access: `size` is encryptedSize(file.size), and
 * slice(start, end) gives bytes [start, end) of the encrypted file (clamped to it). The header and the sealed
 * metadata are made once, here; each slice seals only the records that cover it, read from the Blob with
 * file.slice(), so memory stays at about one slice.
 * @param {Blob} file
 * @param {Uint8Array} key the file key (newFileKey)
 * @param {{ name?: string, type?: string }} [meta] the name and media type to seal inside (default: file's own)
 * @param {Uint8Array} [salt] the header's salt (default: a new one): the same file, key, meta and salt give the same bytes
 * @returns {Promise<EncryptedSource>}
 */
export function encryptedSource(file, key, meta = {}, salt = newSalt()) {
  return makeSource(file, key, meta, salt, DEFAULT_RECORD_LOG2);
}

/**
 * @param {Blob} file
 * @param {Uint8Array} key
 * @param {{ name?: string, type?: string }} meta
 * @param {Uint8Array} salt
 * @param {number} recordLog2
 * @returns {Promise<EncryptedSource>}
 */
async function makeSource(file, key, meta, salt, recordLog2) {
  checkKey(key);
  if (salt.length !== SALT_BYTES) throw new E2EError('BAD_REQUEST', `a salt is ${SALT_BYTES} bytes`);
  if (!Number.isInteger(recordLog2) || recordLog2 < MIN_RECORD_LOG2 || recordLog2 > MAX_RECORD_LOG2) throw new E2EError('BAD_REQUEST', 'record size out of range');
  const plainSize = file.size;
  const size = sizeWith(plainSize, recordLog2);
  const fileName = 'name' in file && typeof file.name === 'string' ? file.name : '';
  const { contentKey, keyCheck } = await deriveKeys(key, salt, 'encrypt');
  const header = new Uint8Array(HEADER_BYTES);
  header.set(MAGIC, 0);
  header.set([VERSION, recordLog2], 4);
  header.set(salt, 6);
  header.set(keyCheck, 22);
  const metadata = encodeMetadata(plainSize, meta.name ?? fileName, meta.type ?? file.type);
  const sealedMetadata = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce(0, FLAG_METADATA), additionalData: header }, contentKey, metadata));
  const prefix = new Uint8Array(PREFIX_BYTES);
  prefix.set(header, 0);
  prefix.set(sealedMetadata, HEADER_BYTES);

  const recordSize = 2 ** recordLog2;
  const sealedSize = recordSize + TAG_BYTES;
  const records = recordCount(plainSize, recordLog2);
  /** The last record sealed: a slice that ends inside a record and the next that starts there seal it once. */
  /** @type {{ index: number, bytes: Uint8Array }} */
  let cached = { index: -1, bytes: new Uint8Array(0) };

  /**
   * Records first..last, sealed (in parallel: WebCrypto works off the main thread).
   * @param {number} first
   * @param {number} last
   */
  async function sealRecords(first, last) {
    const from = first * recordSize;
    const to = Math.min(plainSize, (last + 1) * recordSize);
    const reuse = cached.index === first ? 1 : 0;
    let plain;
    try {
      plain = new Uint8Array(await file.slice(from + reuse * recordSize, to).arrayBuffer());
    } catch (e) {
      throw new E2EError('E2E_SIZE_MISMATCH', `the file could not be read (${e instanceof Error ? e.message : String(e)}); did it change since it was chosen?`);
    }
    if (plain.length !== Math.max(0, to - from - reuse * recordSize)) throw new E2EError('E2E_SIZE_MISMATCH', 'the file is not the size it had when it was chosen');
    /** @type {Promise<Uint8Array>[]} */
    const out = [];
    for (let i = first; i <= last; i++) {
      if (i === first && reuse) {
        out.push(Promise.resolve(cached.bytes));
        continue;
      }
      const at = (i - first - reuse) * recordSize;
      const record = plain.subarray(at, at + recordLength(plainSize, recordLog2, i));
      const iv = nonce(i, i === records - 1 ? FLAG_FINAL : FLAG_RECORD);
      out.push(subtle.encrypt({ name: 'AES-GCM', iv }, contentKey, record).then((b) => new Uint8Array(b)));
    }
    const sealed = await Promise.all(out);
    const lastSealed = sealed[sealed.length - 1];
    if (lastSealed) cached = { index: last, bytes: lastSealed };
    return sealed;
  }

  return {
    size,
    async slice(start, end) {
      start = Math.max(0, Math.min(size, Math.floor(start)));
      end = Math.max(start, Math.min(size, Math.floor(end)));
      const out = new Uint8Array(end - start);
      if (start < PREFIX_BYTES) out.set(prefix.subarray(start, Math.min(end, PREFIX_BYTES)), 0);
      if (end > PREFIX_BYTES && end > start) {
        const first = Math.floor((Math.max(start, PREFIX_BYTES) - PREFIX_BYTES) / sealedSize);
        const last = Math.floor((end - 1 - PREFIX_BYTES) / sealedSize);
        const sealed = await sealRecords(first, last);
        sealed.forEach((bytes, k) => {
          const at = PREFIX_BYTES + (first + k) * sealedSize; // where this record starts in the file
          const from = Math.max(start, at);
          const to = Math.min(end, at + bytes.length);
          if (to > from) out.set(bytes.subarray(from - at, to - at), from - start);
        });
      }
      return out;
    },
  };
}

/**
 * Test-only: encryptedSource with a fixed salt and record size, so the test vectors (made with a fixed salt and
 * 64-byte records) can be made again byte for byte. A page never uses it: a fixed salt has no place in real use.
 */
export const testOnly = Object.freeze({
  /**
   * @param {Blob} file
   * @param {Uint8Array} key
   * @param {{ name?: string, type?: string }} meta
   * @param {{ salt: Uint8Array, recordLog2: number }} fixed
   */
  encryptedSource: (file, key, meta, fixed) => makeSource(file, key, meta, fixed.salt, fixed.recordLog2),
  /**
   * @param {number} plainSize
   * @param {number} recordLog2
   */
  encryptedSize: (plainSize, recordLog2) => sizeWith(plainSize, recordLog2),
});

// ---------------------------------------------------------------------------------------------------- decrypting

/** Reads exact byte counts from a stream of chunks of any size, holding only what it was not yet asked for. */
class ByteReader {
  /** @param {ReadableStreamDefaultReader<Uint8Array>} reader */
  constructor(reader) {
    this.reader = reader;
    /** @type {Uint8Array[]} */
    this.chunks = [];
    this.buffered = 0;
    this.done = false;
    this.total = 0;
  }

  /** Waits until `n` bytes are buffered or the stream has ended. @param {number} n */
  async fill(n) {
    while (this.buffered < n && !this.done) {
      const { value, done } = await this.reader.read();
      if (done) this.done = true;
      else if (value && value.length > 0) {
        this.chunks.push(value);
        this.buffered += value.length;
        this.total += value.length;
      }
    }
  }

  /** Up to `n` bytes: fewer only when the stream ended. @param {number} n */
  async take(n) {
    await this.fill(n);
    const length = Math.min(n, this.buffered);
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const head = /** @type {Uint8Array} */ (this.chunks[0]);
      const part = Math.min(head.length, length - at);
      out.set(head.subarray(0, part), at);
      at += part;
      if (part === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(part);
    }
    this.buffered -= length;
    return out;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
const readJson = (response) => response.json();

/**
 * An agent's HTTP error as an E2EError with its code and the fields of its body.
 * @param {Response} response
 */
async function httpError(response) {
  /** @type {Record<string, unknown>} */
  let body = {};
  try {
    body = /** @type {Record<string, unknown>} */ (await readJson(response));
  } catch {
    // not the agent's JSON: the status alone says it
  }
  const error = /** @type {{ code?: unknown, message?: unknown } | undefined} */ (body.error);
  const code = typeof error?.code === 'string' ? error.code : 'AGENT_BAD_RESPONSE';
  const message = typeof error?.message === 'string' ? error.message : `the agent answered ${response.status}`;
  return new E2EError(code, message, { status: response.status, ...body });
}

/**
 * Decrypts an encrypted file as it downloads. Resolves once the header and the sealed metadata are read and
 * checked (E2E_BAD_HEADER, E2E_WRONG_KEY, E2E_TAMPERED, E2E_TRUNCATED otherwise, and the agent's own code for an
 * HTTP error); `stream` then gives the plaintext record by record, each only after its tag is checked, and errors
 * on an altered, reordered, removed or extra record (E2E_TAMPERED) or a file cut short (E2E_TRUNCATED).
 * @param {Response} response a fetch of the file's bytes (/f/FILE_ID)
 * @param {Uint8Array} key
 * @returns {Promise<{ name: string, type: string, size: number, stream: ReadableStream<Uint8Array> }>}
 */
export async function decryptResponse(response, key) {
  checkKey(key);
  if (!response.ok) throw await httpError(response);
  if (!response.body) throw new E2EError('E2E_TRUNCATED', 'the encrypted file is empty');
  const reader = response.body.getReader();
  try {
    return await openFile(new ByteReader(reader), key);
  } catch (e) {
    reader.cancel().catch(() => undefined);
    throw e;
  }
}

/**
 * @param {ByteReader} input
 * @param {Uint8Array} key
 */
async function openFile(input, key) {
  const header = await input.take(HEADER_BYTES);
  const seen = Math.min(header.length, MAGIC.length);
  if (!equalConstantTime(header.subarray(0, seen), Uint8Array.from(MAGIC.slice(0, seen)))) throw new E2EError('E2E_BAD_HEADER', 'these bytes are not an encrypted file (no SJEF header)');
  if (header.length < HEADER_BYTES) throw truncated(input);
  if (header[4] !== VERSION) throw new E2EError('E2E_BAD_HEADER', `the encrypted file's format is version ${header[4]}; this page reads version ${VERSION}`);
  const recordLog2 = header[5] ?? 0;
  if (recordLog2 < MIN_RECORD_LOG2 || recordLog2 > MAX_RECORD_LOG2) throw new E2EError('E2E_BAD_HEADER', `the header's record size 2^${recordLog2} is out of range`);
  const { contentKey, keyCheck } = await deriveKeys(key, header.subarray(6, 22), 'decrypt');
  if (!equalConstantTime(keyCheck, header.subarray(22, 54))) throw new E2EError('E2E_WRONG_KEY', "the key does not open this file (check that the link's #key belongs to it)");

  const sealedMetadata = await input.take(METADATA_BYTES + TAG_BYTES);
  if (sealedMetadata.length < METADATA_BYTES + TAG_BYTES) throw truncated(input);
  const meta = decodeMetadata(await open(contentKey, nonce(0, FLAG_METADATA), sealedMetadata, 'the metadata', header));
  const records = recordCount(meta.size, recordLog2);
  const fullSize = sizeWith(meta.size, recordLog2);
  let index = 0;

  /** @type {ReadableStream<Uint8Array>} */
  const stream = new ReadableStream({
    async pull(controller) {
      try {
        const length = recordLength(meta.size, recordLog2, index) + TAG_BYTES;
        const sealed = await input.take(length);
        if (sealed.length < length) throw truncated(input, fullSize);
        const last = index === records - 1;
        const plain = await open(contentKey, nonce(index, last ? FLAG_FINAL : FLAG_RECORD), sealed, `record ${index + 1} of ${records}`);
        index++;
        if (last) {
          // The final record is released only once the input has ended with it: an extended file gives nothing of its end.
          await input.fill(1);
          if (input.buffered > 0) throw new E2EError('E2E_TAMPERED', 'there are bytes after the final record: the encrypted file was extended');
          controller.enqueue(plain);
          controller.close();
          return;
        }
        controller.enqueue(plain);
      } catch (e) {
        input.reader.cancel().catch(() => undefined);
        controller.error(e);
      }
    },
    cancel(reason) {
      return input.reader.cancel(reason);
    },
  });
  return { name: meta.name, type: meta.type, size: meta.size, stream };
}

/**
 * @param {ByteReader} input
 * @param {number} [expected]
 */
function truncated(input, expected) {
  const of = expected === undefined ? '' : ` of the ${expected} its metadata announces`;
  return new E2EError('E2E_TRUNCATED', input.total === 0 ? 'the encrypted file is empty' : `the encrypted file ends after ${input.total} bytes${of}, before its final record`);
}

/**
 * @param {CryptoKey} key
 * @param {Uint8Array<ArrayBuffer>} iv
 * @param {Uint8Array<ArrayBuffer>} sealed
 * @param {string} what
 * @param {Uint8Array<ArrayBuffer>} [aad]
 */
async function open(key, iv, sealed, what, aad) {
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, ...(aad ? { additionalData: aad } : {}) }, key, sealed));
  } catch {
    throw new E2EError('E2E_TAMPERED', `${what} fails authentication: the encrypted file was altered, or its records reordered or removed`);
  }
}
