/**
 * Slow and greedy clients: the timeouts and the per-client connection limit of the HTTP server, the 503 while it
 * closes, and a shutdown that ends in bounded time whatever the clients do.
 *
 * - headers: Node's `headersTimeout`, checked every `connectionsCheckingInterval`; the parser's timeout error is
 *   answered 408 by the client error handler (src/http/errors.ts).
 * - an idle body, or a download whose client stopped reading: the socket's idle timeout (`server.timeout`,
 *   fastify's `connectionTimeout`); the socket is destroyed, which aborts an upload (the blob store removes its
 *   temp file and the quote stays usable) and settles a download for the bytes sent.
 * - a request that does not stream: its body must arrive whole within `requestTimeoutMs` of its headers, else
 *   408 (Node's own `requestTimeout` would apply to uploads too, which may take hours).
 * - keep-alive: Node's `keepAliveTimeout`.
 * - connections per client: by the socket's remote address when clients connect directly; behind a trusted
 *   proxy every connection comes from the proxy, so there the limit counts a client's requests in flight, by
 *   the X-Forwarded-For address fastify derives (`request.ip`).
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { AgentError } from '../errors/index.ts';
import { hasBody } from './errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route whose body streams (an upload): no whole-request deadline, only the idle timeout. */
    streaming?: boolean;
  }
}

type Limits = Pick<Config, 'headersTimeoutMs' | 'bodyIdleTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnectionsPerClient' | 'trustProxy'>;

/** The fastify server options that set Node's timeouts. */
export function serverTimeoutOptions(c: Limits) {
  return {
    keepAliveTimeout: c.keepAliveTimeoutMs,
    connectionTimeout: c.bodyIdleTimeoutMs,
    // Node's whole-request timer would cut long uploads; the non-streaming deadline is ours (below).
    requestTimeout: 0,
    http: {
      headersTimeout: c.headersTimeoutMs,
      requestTimeout: 0,
      // Node checks header deadlines on this period (30 s by default, which would let a 1 s limit run to 31 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(c.headersTimeoutMs / 4))),
    },
  };
}

export interface Connections {
  /** The request on `socket` that has not finished its answer, if any (for the client error handler). */
  inFlight(socket: Socket): { req: FastifyRequest; reply: FastifyReply } | undefined;
  /** Starts the bounded shutdown: after `timeoutMs`, every connection still open is destroyed. */
  close(timeoutMs: number): Promise<void>;
  /**
   * Whether a fast path may answer a request now (src/http/fast-paths.ts): not while closing (the routes answer
   * SHUTTING_DOWN), nor behind a trusted proxy (the routes count a client's requests in flight there).
   */
  fastPathOpen(): boolean;
  /**
   * A response a fast path answers: shutdown waits for its 'close' listeners, as for the routes' responses.
   * `closed` runs at its 'close', before shutdown is told.
   */
  track(res: ServerResponse, closed?: () => void): void;
}

/**
 * A pass-through for a request body that fails with REQUEST_TIMEOUT when the body is not whole by `deadline`.
 * fastify's body parser reads from it, so the timeout comes back through the one error mapping.
 */
class Deadline extends Transform {
  readonly #timer: NodeJS.Timeout;
  constructor(ms: number) {
    super();
    this.#timer = setTimeout(() => this.destroy(new AgentError('REQUEST_TIMEOUT', `the request body did not arrive within ${ms} ms`)), ms);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    clearTimeout(this.#timer);
    cb();
  }
  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    cb(err);
  }
}

/**
 * Installs the connection limit, the non-streaming deadline and the 503 while closing on `app`; call before
 * routes are added.
 */
export function installConnections(app: FastifyInstance, c: Limits): Connections {
  const server: Server = app.server;
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const active = new WeakMap<Socket, { req: FastifyRequest; reply: FastifyReply }>();
  let closing = false;
  // Every response not yet closed: shutdown waits for their 'close' listeners (a download settles there) to
  // have run before the caller closes the database under them.
  const open = new Set<FastifyReply['raw']>();
  let allClosed: (() => void) | undefined;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    const addr = socket.remoteAddress ?? '';
    socket.once('close', () => {
      sockets.delete(socket);
      if (c.trustProxy) return;
      const n = (perAddress.get(addr) ?? 1) - 1;
      if (n <= 0) perAddress.delete(addr);
      else perAddress.set(addr, n);
    });
    if (c.trustProxy) return;
    const n = (perAddress.get(addr) ?? 0) + 1;
    perAddress.set(addr, n);
    // Refused before a byte is read: a client over its share gets no parser, no timers and no answer.
    if (n > c.maxConnectionsPerClient) socket.destroy();
  });
  // An Expect other than 100-continue: RFC 9110 section 10.1.1 lets a server ignore it; Node would answer 417
  // outside the envelope. The request is served as if the field were absent.
  server.on('checkExpectation', (req, res) => server.emit('request', req, res));
  // CONNECT is not a method this server has any use for; without a listener Node drops the socket unanswered.
  server.on('connect', (_req, socket: Socket) => {
    const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'CONNECT is not supported' } });
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  // Also when the app is closed by other means than close() below.
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  const track = (res: ServerResponse, closed?: () => void) => {
    open.add(res);
    res.once('close', () => {
      closed?.();
      open.delete(res);
      if (open.size === 0) allClosed?.();
    });
  };

  app.addHook('onRequest', (req, reply, done) => {
    const socket = req.raw.socket;
    const entry = { req, reply };
    active.set(socket, entry);
    track(reply.raw);
    reply.raw.once('close', () => {
      if (active.get(socket) === entry) active.delete(socket);
    });
    if (closing) {
      reply.header('connection', 'close');
      done(new AgentError('SHUTTING_DOWN', 'the agent is shutting down; try again once it is back'));
      return;
    }
    if (c.trustProxy) {
      const key = req.ip;
      const n = (inFlight.get(key) ?? 0) + 1;
      if (n > c.maxConnectionsPerClient) {
        reply.header('retry-after', '1').header('connection', 'close');
        done(new AgentError('RATE_LIMITED', `more than ${c.maxConnectionsPerClient} requests in flight from this client`));
        return;
      }
      inFlight.set(key, n);
      reply.raw.once('close', () => {
        const left = (inFlight.get(key) ?? 1) - 1;
        if (left <= 0) inFlight.delete(key);
        else inFlight.set(key, left);
      });
    }
    done();
  });

  app.addHook('preParsing', (req, reply, payload, done) => {
    if (req.routeOptions.config.streaming === true || !hasBody(req) || req.raw.complete) {
      done(null, payload);
      return;
    }
    const deadline = new Deadline(c.requestTimeoutMs);
    // The parser listens while it reads; an answer sent before it did (a body over the limit) leaves nobody.
    deadline.on('error', () => undefined);
    reply.raw.once('close', () => deadline.destroy());
    payload.on('error', (e) => deadline.destroy(e));
    done(null, payload.pipe(deadline));
  });

  return {
    inFlight: (socket) => active.get(socket),
    fastPathOpen: () => !closing && !c.trustProxy,
    track,
    async close(timeoutMs) {
      closing = true;
      // Past the grace period every connection is destroyed: stalled uploads, downloads nobody reads, headers
      // that never end (Node stops checking header deadlines once the server closes), lingering error answers.
      const force = setTimeout(() => {
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      }, timeoutMs);
      try {
        await app.close();
        // The sockets are gone; their responses' 'close' events follow on the next tick.
        if (open.size > 0) await new Promise<void>((resolve) => (allClosed = resolve));
      } finally {
        clearTimeout(force);
      }
    },
  };
}
