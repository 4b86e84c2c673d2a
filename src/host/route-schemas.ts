/**
 * The customers' request and reply schemas (TypeBox): the same objects validate requests and document them in the
 * OpenAPI document at /v1/openapi.json.
 */
import { Type } from '@sinclair/typebox';
import { Msat, Sat } from '../http/index.ts';
import { MEDIA_TYPE_PATTERN } from './file-headers.ts';

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

/** A tus creation's answer: tus clients read the headers; the body says the same for anyone else. */
export const TusCreatedReply = Type.Object({
  location: Type.String({ description: 'where to HEAD and PATCH: /v1/tus/<uploadId>' }),
  offset: Type.Integer({ description: 'bytes held: 0' }),
  length: Type.Integer({ description: 'the upload\'s length (the quote\'s size)' }),
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
  downloadTopUpSat: Type.Optional(Sat('when a download of the whole file would be refused (402): the top-up it asks for, the same amountSat')),
});

/** The body of a 304: none (RFC 9110 15.4.5). */
export const NotModifiedReply = Type.Null({ description: 'If-None-Match matched the ETag; free' });

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
export const FileIdParams = Type.Object({ fileId: Type.String({ maxLength: 64 }) });
