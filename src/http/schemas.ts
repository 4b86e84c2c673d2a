/**
 * Request and response schemas (TypeBox, i.e. JSON Schema). The same objects validate requests (fastify's
 * ajv, with unknown fields rejected) and generate the OpenAPI document served at /v1/openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';

/** The server as the routes see it: request and reply types come from each route's TypeBox schemas. */
export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  },
  { $id: 'Error', additionalProperties: true, description: 'Every error: a stable code from the catalogue and a message.' },
);
export type ErrorEnvelope = Static<typeof ErrorSchema>;

/**
 * A response entry that points at the shared `Error` schema (registered once with addSchema, so the OpenAPI
 * document names it once). `Type.Unsafe` writes exactly `{"$ref": "Error#"}`, as a plain object did, and gives
 * the type provider the envelope's static type, so a handler's declared replies stay checked at compile time.
 */
export const ErrorRef = Type.Unsafe<ErrorEnvelope>({ $ref: 'Error#' });

export const Sat = (description: string) => Type.Integer({ minimum: 0, description: `${description} (satoshis)` });
export const Msat = (description: string) => Type.String({ pattern: '^-?[0-9]+$', description: `${description} (millisatoshis, decimal string)` });

/**
 * A body of raw bytes, documented for OpenAPI. The download route writes these bytes itself after
 * `reply.hijack()` (src/host/routes.ts), so no value of this type ever reaches fastify's serializer: `never`.
 */
export const Bytes = (description: string) => Type.Unsafe<never>({ description, type: 'string', format: 'binary' });

