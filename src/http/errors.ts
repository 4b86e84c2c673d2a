/**
 * The one place where thrown errors become HTTP responses (CONVENTIONS habit 6): an AgentError keeps its
 * catalogue status and code (plus its non-secret details, e.g. the top-up address on a 402); fastify's own
 * errors (schema validation, bad JSON, body too large, unsupported media type) are mapped onto catalogue
 * codes; anything else is a 500 INTERNAL whose message says nothing about the inside.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AgentError, ERRORS, diskFullError, type ErrorCode } from '../errors/index.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
  [extra: string]: unknown;
}

/** The response body for an AgentError: `{error: {code, message}, ...details}` with bigints as JSON numbers/strings. */
export function errorBody(e: AgentError): ErrorBody {
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  for (const [k, v] of Object.entries(e.details ?? {})) {
    if (k === 'error') continue;
    body[k] = typeof v === 'bigint' ? (k.endsWith('Msat') ? v.toString() : Number(v)) : v;
  }
  return body;
}

function fromFastify(err: FastifyError): AgentError | undefined {
  if (err.validation) return new AgentError('BAD_REQUEST', `invalid request: ${err.message}`);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AgentError('PAYLOAD_TOO_LARGE', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AgentError('BAD_REQUEST', 'unsupported content type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AgentError('BAD_REQUEST', err.message);
    default:
      break;
  }
  // Bad JSON comes through as a 400 SyntaxError from the content-type parser.
  if (err.statusCode === 400 || err instanceof SyntaxError) return new AgentError('BAD_REQUEST', `malformed request: ${err.message}`);
  if (err.statusCode === 404) return new AgentError('NOT_FOUND', 'not found');
  if (err.statusCode === 413) return new AgentError('PAYLOAD_TOO_LARGE', 'request body too large');
  return undefined;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const known = err instanceof AgentError ? err : (diskFullError(err) ?? fromFastify(err));
    if (known) {
      if (known.status >= 500) req.log.error({ code: known.code, msg: known.message }, 'request failed');
      return reply.status(known.status).type('application/json').send(errorBody(known));
    }
    req.log.error({ err }, 'unexpected error');
    return reply.status(ERRORS.INTERNAL.status).type('application/json').send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } });
  });
}
