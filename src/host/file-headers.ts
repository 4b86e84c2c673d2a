/**
 * How a customer's file is served (`GET /f/:fileId`; README.md, "An operator's first steps"): the bytes are the customer's, not the agent's, so
 * they must never run as the agent's origin. Three layers, each enough on its own for the common cases:
 * - `Content-Disposition: attachment` for everything but a short allow-list of passive types, so HTML, SVG,
 *   XML and the like are saved, never rendered;
 * - `X-Content-Type-Options: nosniff`, so a browser never reads a passive type as an active one;
 * - a `Content-Security-Policy` that sandboxes the document (an opaque origin: no cookies, storage, service
 *   workers or same-origin requests of the agent's) and lets it load and run nothing.
 * Also the media-type grammar a `contentType` must follow to be stored, and If-None-Match matching.
 */

// RFC 9110 5.6.2: token = 1*tchar.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
// RFC 9110 5.6.4: quoted-string, without obs-text (octets above 0x7e): the agent writes this value back in a
// header, and RFC 9110 5.5 asks new values to stay within visible US-ASCII, as every client reads alike.
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
// RFC 9110 8.3.1: media-type = type "/" subtype parameters; parameters = *( OWS ";" OWS [ parameter ] ).
// A trailing OWS is refused (the lookbehind): a field value cannot end in whitespace (RFC 9110 5.5), so the
// value would not come back as it was given.
const MEDIA_TYPE = `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*(?<![ \\t])$`;

/** The RFC 9110 media-type grammar as a JSON Schema `pattern` (ajv compiles it with the `u` flag). */
export const MEDIA_TYPE_PATTERN = MEDIA_TYPE;
const MEDIA_TYPE_RE = new RegExp(MEDIA_TYPE, 'u');

/** True when `value` follows RFC 9110's media-type grammar in visible US-ASCII, so it can be written as a header. */
export function isMediaType(value: string): boolean {
  return MEDIA_TYPE_RE.test(value);
}

/** `type/subtype` of a media type, lowercased (RFC 9110 8.3.1: both are case-insensitive). */
function essence(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

// Raster images only: SVG is a document that can hold script, so it is not here. Browsers show these
// without running anything.
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/apng', 'image/bmp', 'image/x-icon', 'image/vnd.microsoft.icon']);

/** Whether a file of this media type may be shown in the browser (`inline`) rather than saved (`attachment`). */
export function isPassive(mediaType: string | null): boolean {
  if (mediaType === null || !isMediaType(mediaType)) return false;
  const e = essence(mediaType);
  if (INLINE_IMAGES.has(e) || e === 'text/plain' || e === 'application/pdf') return true;
  // Every audio and video format a browser plays is a container of samples; an XML-based one (a playlist or
  // a subtitle format that is +xml) is a document, and is saved instead.
  return (e.startsWith('audio/') || e.startsWith('video/')) && !e.endsWith('+xml');
}

/**
 * The document may run and load nothing, and is given an opaque origin (`sandbox` with no allow- flags, per
 * the CSP 3 `sandbox` directive), so even a rendered file cannot read or write anything of the agent's.
 */
export const FILE_CSP = "default-src 'none'; form-action 'none'; sandbox";

/** The headers every answer about a file's bytes carries, whatever its status (200, 206, 304, HEAD). */
const FILE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': FILE_CSP,
  // Files are shared by link and may be embedded elsewhere (an <img> on a forum), as GitHub's raw content
  // is: said explicitly, so a page that requires it (Cross-Origin-Embedder-Policy) can still embed them.
  'cross-origin-resource-policy': 'cross-origin',
});

/** `inline` or `attachment` (by type), with the filename as ASCII and as RFC 8187 UTF-8 when there is one. */
export function contentDisposition(filename: string | null, mediaType: string | null): string {
  const kind = isPassive(mediaType) ? 'inline' : 'attachment';
  if (!filename) return kind;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  // A lone surrogate has no UTF-8 form (encodeURIComponent would throw): it becomes U+FFFD, as SQLite stores it.
  const whole = filename.replace(/[\ud800-\udfff]/gu, '\ufffd');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(whole)}`;
}

// RFC 8187 3.2.1: attr-char excludes ' ( ) * which encodeURIComponent leaves as they are.
function encodeRfc8187(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The strong ETag of a file: its sha256. */
function fileEtag(sha256: string): string {
  return `"${sha256}"`;
}

/** Everything but the length and range about a file's bytes: type, disposition, ETag and the security headers. */
export function fileHeaders(f: { sha256: string; contentType: string | null; filename: string | null }): Record<string, string> {
  // A type stored before the grammar was enforced, if it could not be written, is served as plain bytes.
  const type = f.contentType !== null && isMediaType(f.contentType) ? f.contentType : 'application/octet-stream';
  return {
    'content-type': type,
    'content-disposition': contentDisposition(f.filename, f.contentType),
    etag: fileEtag(f.sha256),
    'accept-ranges': 'bytes',
    ...FILE_SECURITY_HEADERS,
  };
}

/** What a 304 carries (RFC 9110 15.4.5: the ETag it would have sent), with the security headers. */
export function notModifiedHeaders(sha256: string): Record<string, string> {
  return { etag: fileEtag(sha256), ...FILE_SECURITY_HEADERS };
}
