/**
 * Request and response schemas (TypeBox, i.e. JSON Schema). The same objects validate requests (fastify's
 * ajv, with unknown fields rejected) and generate the OpenAPI document served at /v1/openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MEDIA_TYPE_PATTERN } from './file-headers.ts';

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

const Sat = (description: string) => Type.Integer({ minimum: 0, description: `${description} (satoshis)` });
const Msat = (description: string) => Type.String({ pattern: '^-?[0-9]+$', description: `${description} (millisatoshis, decimal string)` });

export const InfoSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  network: Type.Union([Type.Literal('mainnet'), Type.Literal('testnet'), Type.Literal('regtest')]),
  nodeId: Type.String({ description: 'hex ed25519 public key of the agent' }),
  prices: Type.Object({
    storageMsatPerGibDay: Msat('price of storing one GiB for one day'),
    egressMsatPerGib: Msat('price of sending one GiB'),
    minimumDepositSat: Sat('smallest payment accepted for an upload'),
    quoteTtlSeconds: Type.Integer(),
  }),
  confirmations: Type.Object({ required: Type.Integer(), zeroConfMaxSat: Sat('most that counts at 0 confirmations toward one file or quote, over all its payments') }),
  graceSeconds: Type.Integer(),
  maxFileSize: Type.Integer(),
});
export type Info = Static<typeof InfoSchema>;

export const DevPayBody = Type.Object(
  { address: Type.String({ minLength: 14, maxLength: 90 }), amountSat: Type.Integer({ minimum: 1, maximum: 2_100_000_000_000_000 }) },
  { additionalProperties: false },
);
export const DevMineBody = Type.Object({ blocks: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false });
export const DevAdvanceBody = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10 * 365 * 86_400 }) }, { additionalProperties: false });
export const DevAdvanceReply = Type.Object({ now: Type.String({ format: 'date-time' }) });
export const DevJobParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
export const DevJobReply = Type.Object({
  job: Type.String(),
  outcome: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('running')]),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
});
export const DevPayReply = Type.Object({ txid: Type.String() });
export const DevMineReply = Type.Object({ height: Type.Integer() });

// ---- customers ----

export const CreateUploadBody = Type.Object(
  {
    size: Type.Integer({ minimum: 1, description: 'exact size of the file in bytes' }),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500, default: 1, description: 'days of storage to prepay' })),
    downloads: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'full downloads to prepay' })),
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000-\\u001f]+$' })),
    // Written back as the download's Content-Type, so it must be a header value that can be written: RFC 9110's
    // media-type grammar in visible US-ASCII (see file-headers.ts), checked here, at quote time.
    contentType: Type.Optional(Type.String({ minLength: 3, maxLength: 255, pattern: MEDIA_TYPE_PATTERN, description: 'a media type (RFC 9110 8.3.1), e.g. text/plain; charset=utf-8' })),
  },
  { additionalProperties: false },
);

export const QuoteReply = Type.Object({
  id: Type.String(),
  address: Type.String({ description: 'pay here (BIP84 P2WPKH); it stays the file\'s top-up address' }),
  amountSat: Sat('amount to pay'),
  bip21: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  uploadToken: Type.String({ description: 'secret; send as Authorization: Bearer <uploadToken> with the PUT' }),
});

export const UploadStatusReply = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('awaiting_payment'), Type.Literal('paid'), Type.Literal('complete'), Type.Literal('expired')]),
  amountSat: Sat('amount due'),
  receivedSat: Sat('received, confirmed or not'),
  confirmedSat: Sat('received with at least one confirmation'),
  fileId: Type.Optional(Type.String({ description: 'once complete, and only with Authorization: Bearer <uploadToken>: the fileId is the download link' })),
});

export const PutUploadReply = Type.Object({ fileId: Type.String(), url: Type.String(), size: Type.Integer(), sha256: Type.String() });

export const FileReply = Type.Object({
  fileId: Type.String(),
  size: Type.Integer(),
  sha256: Type.String(),
  filename: Type.Union([Type.String(), Type.Null()]),
  contentType: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union([Type.Literal('active'), Type.Literal('frozen'), Type.Literal('deleted')]),
  balanceMsat: Msat('prepaid balance'),
  address: Type.String({ description: 'top-up address: any payment to it is credited to this file' }),
  bip21: Type.String(),
  fundedUntil: Type.String({ format: 'date-time' }),
  deleteAt: Type.Optional(Type.String({ format: 'date-time' })),
});

/**
 * A body of raw bytes, documented for OpenAPI. The download route writes these bytes itself after
 * `reply.hijack()` (src/http/routes-host.ts), so no value of this type ever reaches fastify's serializer: `never`.
 */
export const Bytes = (description: string) => Type.Unsafe<never>({ description, type: 'string', format: 'binary' });

/** The body of a 304: none (RFC 9110 15.4.5). */
export const NotModifiedReply = Type.Null({ description: 'If-None-Match matched the ETag; free' });

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
export const FileIdParams = Type.Object({ fileId: Type.String({ maxLength: 64 }) });
