// Raw HTTP/1.1 over sockets, for requests fetch cannot send (bad encodings, huge request lines, broken framing,
// stalls), and the check every error answer must pass: the one envelope, with a code from the catalogue.
import { connect, type Socket } from 'node:net';
import { errorDefinition } from '../../src/errors/index.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The host and port of an agent URL. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * Parses one response from the start of `buf`; undefined while incomplete (with `ended`, a body without a
 * length runs to the end). `head`: the request was a HEAD (no body whatever the headers say).
 */
function parseResponse(buf: Buffer, head: boolean, ended: boolean): { res: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const start = end + 4;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return { res: { status, headers, body: Buffer.alloc(0) }, used: start };
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) return { res: { status, headers, body: Buffer.concat(parts) }, used: lineEnd + 4 };
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  if (headers['content-length'] !== undefined) {
    const len = Number(headers['content-length']);
    if (buf.length < start + len) return undefined;
    return { res: { status, headers, body: buf.subarray(start, start + len) }, used: start + len };
  }
  if (!ended) return undefined;
  return { res: { status, headers, body: buf.subarray(start) }, used: buf.length };
}

/**
 * A keep-alive connection that sends one request at a time and reads its answer. `closed` is true once the
 * server has closed it (then a new one is needed).
 */
export class RawConnection {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #ended = false;
  #waiter: (() => void) | undefined;
  closed = false;

  constructor(url: string, opts: { localAddress?: string } = {}) {
    const { host, port } = hostPort(url);
    this.socket = connect({ host, port, ...opts });
    this.socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#waiter?.();
    });
    const onEnd = () => {
      this.#ended = true;
      this.closed = true;
      this.#waiter?.();
    };
    this.socket.on('end', onEnd);
    this.socket.on('close', onEnd);
    this.socket.on('error', onEnd);
  }

  /** Resolves once the socket is connected. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connecting) return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  /** Sends bytes as they are. */
  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Half-closes: the server sees the end of what was sent. */
  end(): void {
    this.socket.end();
  }

  /** The next answer, or undefined when the server closed the connection without one. */
  async read(head = false): Promise<RawResponse | undefined> {
    for (;;) {
      const parsed = this.#buf.length > 0 ? parseResponse(this.#buf, head, this.#ended) : undefined;
      if (parsed) {
        this.#buf = this.#buf.subarray(parsed.used);
        return parsed.res;
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
      this.#waiter = undefined;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Sends `bytes` on a new connection and returns every answer until the server closes it. The connection is
 * half-closed only after the first final answer (or at once with `endFirst`): Node aborts requests still in
 * flight when the client ends its side, so ending earlier would lose answers that come from async handlers.
 */
export async function rawExchange(url: string, bytes: string | Buffer, opts: { head?: boolean; endFirst?: boolean } = {}): Promise<RawResponse[]> {
  const c = new RawConnection(url);
  await c.ready().catch(() => undefined);
  c.write(bytes);
  if (opts.endFirst) c.end();
  const out: RawResponse[] = [];
  for (let i = 0; i < 100; i++) {
    const r = await c.read(opts.head);
    if (!r) break;
    out.push(r);
    if (r.status >= 200) c.end();
  }
  c.destroy();
  return out;
}

const PAYMENT_FIELDS = new Set(['address', 'amountSat', 'receivedSat', 'bip21']);

/**
 * Why an answer breaks the error contract (README.md, "Error codes"): every non-2xx answer is JSON `{error: {code, message}}`
 * with a code from the catalogue whose status is the answer's, and nothing else at the top level except a
 * 402's payment details. Undefined when it keeps it. `head`: a HEAD answer has no body to check.
 */
export function envelopeProblem(res: RawResponse, head = false): string | undefined {
  if (res.status < 400) return undefined;
  if (head) return undefined;
  if (!(res.headers['content-type'] ?? '').startsWith('application/json')) return `content-type ${res.headers['content-type']}`;
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return `not JSON: ${res.body.toString('utf8').slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'not an object';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (k === 'error') continue;
    if (res.status === 402 && PAYMENT_FIELDS.has(k)) continue;
    return `top-level field ${k}`;
  }
  const e = b.error as Record<string, unknown> | undefined;
  if (typeof e !== 'object' || e === null) return 'no error object';
  if (Object.keys(e).sort().join(',') !== 'code,message') return `error has fields ${Object.keys(e).join(',')}`;
  if (typeof e.message !== 'string' || e.message.length === 0) return 'no message';
  const def = typeof e.code === 'string' ? errorDefinition(e.code) : undefined;
  if (!def) return `code ${String(e.code)} not in the catalogue`;
  const status = def.status;
  if (status !== res.status) return `code ${String(e.code)} is ${status} in the catalogue, answered ${res.status}`;
  return undefined;
}

/** The envelope's code (for assertions). */
export function codeOf(res: RawResponse): string | undefined {
  try {
    return (JSON.parse(res.body.toString('utf8')) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}
