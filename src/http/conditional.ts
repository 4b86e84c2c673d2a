/** Conditional requests (RFC 9110 13): one reading of If-None-Match for every route that sends an ETag. */
// RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text. One list
// element at a time (RFC 9110 5.6.1: `#element`, where empty elements are allowed and skipped).
const ETAG_ITEM = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"|(\*))?[ \t]*(?:,|$)/y;

/**
 * Whether an If-None-Match value matches the entity-tag `tag` (RFC 9110 13.1.2): `*`, or any listed entity-tag by
 * the weak comparison (a `W/` tag matches the same opaque tag). A malformed value matches nothing, so the
 * request is answered as if it had no condition.
 */
export function ifNoneMatch(header: string, tag: string): boolean {
  let matched = false;
  ETAG_ITEM.lastIndex = 0;
  while (ETAG_ITEM.lastIndex < header.length) {
    const m = ETAG_ITEM.exec(header);
    if (!m) return false;
    if (m[3] === '*' || m[2] === tag) matched = true;
  }
  return matched;
}
