/**
 * The one place where thrown errors become HTTP responses (README.md, "Error codes"). Every non-2xx answer is
 * `{"error": {"code", "message"}}` with a code from the catalogue, whoever produced it: an AgentError from a
 * route, fastify's own errors (schema validation, bad JSON, body too large, an unsupported media type), the
 * router (a bad URL encoding, a parameter too long, no route), and the HTTP parser's client errors (timeouts,
 * headers too large, malformed requests), which never reach a route. Anything unexpected is a 500 INTERNAL whose
 * message says nothing about the inside.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AgentError, diskFullError, errorDefinition, type ErrorCode } from '../errors/index.ts';

interface ErrorBody {
  error: { code: ErrorCode; message: string };
  [extra: string]: unknown;
}

/**
 * The only fields an error body may carry beside `error`: the payment details a 402 carries (README.md, "Error codes": what
 * to pay, and where). Other details (a job's name, a size limit, a file's size) are already in the message and
 * stay out of the body, so a client can rely on one shape.
 */
const PAYMENT_FIELDS = ['address', 'amountSat', 'receivedSat', 'bip21'] as const;

/** The response body for an AgentError: `{error: {code, message}}`, plus the payment details on a 402. */
function errorBody(e: AgentError): ErrorBody {
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  if (e.status !== 402 || !e.details) return body;
  for (const k of PAYMENT_FIELDS) {
    const v = e.details[k];
    if (v === undefined) continue;
    // ...Sat fields are JSON integers (src/http/schemas.ts); an amount of satoshis is far below 2^53.
    body[k] = typeof v === 'bigint' ? Number(v) : v;
  }
  return body;
}

/** The same body as bytes, for answers written straight to a socket. */
/** A code's description from the catalogue, as the message of an error that has none of its own. */
function description(code: ErrorCode): string {
  return errorDefinition(code)?.description ?? code;
}

function errorJson(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** Catalogue codes for the statuses fastify and its plugins give their own errors. */
const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
  503: 'SHUTTING_DOWN',
};

/**
 * ajv's message, except for a `pattern` it failed: the regular expression says nothing to a person (a media
 * type's is two hundred characters), so the field's schema description, which says what is expected, is used.
 */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (first?.keyword !== 'pattern') return err.message;
  const field = `${err.validationContext ?? 'body'}${first.instancePath}`;
  const description = (first as { parentSchema?: { description?: unknown } }).parentSchema?.description;
  return `${field} is malformed${typeof description === 'string' ? `: it must be ${description}` : ''}`;
}

function fromFastify(err: FastifyError): AgentError | undefined {
  if (err.validation) return new AgentError('BAD_REQUEST', `invalid request: ${validationMessage(err)}`);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AgentError('PAYLOAD_TOO_LARGE', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new AgentError('UNSUPPORTED_MEDIA_TYPE', 'this endpoint takes a JSON body (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AgentError('BAD_REQUEST', err.message);
    case 'FST_ERR_BAD_URL':
      return new AgentError('BAD_REQUEST', 'the URL has an invalid percent-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AgentError('URI_TOO_LONG', 'a path segment is longer than the agent accepts');
    default:
      break;
  }
  // Bad JSON comes through as a 400 SyntaxError from the content-type parser.
  if (err instanceof SyntaxError) return new AgentError('BAD_REQUEST', `malformed request: ${err.message}`);
  // A client that hung up mid-body: its stream errors with "aborted" (Node's http) or an AbortError.
  if (err.code === 'ECONNRESET' || err.name === 'AbortError') return new AgentError('BAD_REQUEST', 'the client closed the connection');
  const status = err.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const code = BY_STATUS[status] ?? 'BAD_REQUEST';
  return new AgentError(code, status === 400 ? `malformed request: ${err.message}` : code === 'BAD_REQUEST' ? err.message : description(code));
}

/** True when the request announces a body (a length above zero, or chunks). */
export function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/** Sends an AgentError through fastify, in the envelope; a request whose body was not read closes its connection. */
function sendError(req: FastifyRequest, reply: FastifyReply, e: AgentError): FastifyReply {
  // A body left unread would be parsed as the next request on this connection; close it instead.
  if (!req.raw.complete && hasBody(req)) reply.header('connection', 'close');
  return reply.status(e.status).type('application/json; charset=utf-8').send(errorBody(e));
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const known = err instanceof AgentError ? err : (diskFullError(err) ?? fromFastify(err));
    // A client that is gone gets no answer; the failure is its own doing, so nothing is worth an error line.
    if (req.raw.socket?.destroyed) {
      req.log.info({ code: known?.code ?? 'INTERNAL' }, 'request ended: the client connection is closed');
      return reply.status(known?.status ?? 500).send();
    }
    if (known) {
      if (known.status >= 500) req.log.error({ code: known.code, detail: known.message }, 'request failed');
      return sendError(req, reply, known);
    }
    req.log.error({ err }, 'unexpected error');
    return sendError(req, reply, new AgentError('INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => {
    return sendError(req, reply, new AgentError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`.slice(0, 200)));
  });
}

/**
 * fastify's `frameworkErrors`: the router's refusals (a bad percent-encoding, a parameter longer than
 * maxParamLength) that happen before any route or hook, in the envelope.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const e = fromFastify(err) ?? new AgentError('BAD_REQUEST', 'the request cannot be routed');
  void sendError(req, reply, e);
}

/** How long a socket that got a client error may linger, draining what the client still sends, before it is destroyed. */
const LINGER_MS = 2_000;
const answered = new WeakSet<Socket>();

/** The catalogue code for an error of Node's HTTP parser (llhttp's HPE_* codes) or of its timers. */
function clientErrorCode(err: NodeJS.ErrnoException): ErrorCode {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'REQUEST_TIMEOUT';
    case 'HPE_HEADER_OVERFLOW':
      return 'HEADERS_TOO_LARGE';
    case 'HPE_URI_TOO_LONG':
      return 'URI_TOO_LONG';
    default:
      return 'BAD_REQUEST';
  }
}

const CLIENT_ERROR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  REQUEST_TIMEOUT: 'the request did not arrive in time',
  HEADERS_TOO_LARGE: 'the request line and headers are larger than the agent accepts',
  BAD_REQUEST: 'the request is not valid HTTP/1.1',
};

/**
 * fastify's `clientErrorHandler`: errors Node's HTTP server meets outside a route (a malformed request line,
 * header or chunk, headers too large, a headers timeout). Answered in the envelope: through fastify when a
 * request on the socket is waiting for its answer, else straight on the socket. A response already under way
 * cannot be answered without corrupting it, so that socket is destroyed. A socket answered directly is ended,
 * and destroyed once the client has had a moment to read the answer (destroying at once could reset the
 * connection before it does).
 */
export function clientErrorHandler(inFlight: (socket: Socket) => { req: FastifyRequest; reply: FastifyReply } | undefined) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // The parser keeps failing on every later chunk: answer once.
    if (answered.has(socket)) return;
    answered.add(socket);
    const code = clientErrorCode(err);
    const message = CLIENT_ERROR_MESSAGES[code] ?? description(code);
    const current = inFlight(socket);
    if (current) {
      if (current.reply.sent || current.reply.raw.headersSent) socket.destroy();
      else void sendError(current.req, current.reply.header('connection', 'close'), new AgentError(code, message));
      return;
    }
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = errorJson(code, message);
    const status = errorDefinition(code)?.status ?? 500;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    socket.resume();
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  };
}
