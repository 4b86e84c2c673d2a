/**
 * Keeping credentials out of what the client says. A base URL may carry a user and password
 * (`https://user:pass@host`), an API key in its query or its path, and a request may carry an Authorization
 * header or a token header. None of them may reach an error's message, its fields, its cause or a log, and a
 * server that echoes them back in an error body must not get them repeated either.
 */

/** Header names whose values are credentials, compared in lower case. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|api-?key|auth/i;
/** Shorter values are left alone: redacting "a" or "12" everywhere would garble every message. */
const MIN_SECRET_LENGTH = 3;

// URL keeps userinfo percent-encoded; a malformed escape is kept as written rather than thrown.
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** True for a header whose value is a credential (compared without regard to case). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}

/** A base URL as messages name it: scheme, host and port only, since userinfo, path and query may carry keys. */
export function origin(base: URL): string {
  return `${base.protocol}//${base.host}`;
}

/** The values worth redacting from text we repeat: the base URL's userinfo and query values, and credential headers. */
export function secretsOf(base: URL, headers: Readonly<Record<string, string>>): string[] {
  const out = [base.username, base.password, safeDecode(base.username), safeDecode(base.password), ...base.searchParams.values()];
  for (const [name, value] of Object.entries(headers)) {
    if (!isCredentialHeader(name)) continue;
    out.push(value);
    // "Bearer abc", "Basic abc": the token alone may be echoed without its scheme.
    const token = /^\S+\s+(\S+)$/.exec(value.trim())?.[1];
    if (token !== undefined) out.push(token);
  }
  return [...new Set(out.filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by `***` (longest first, so a secret containing another goes whole). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

/** Text from outside, fit for a message: no control characters, runs of spaces folded, bounded length. */
export function printable(s: string, max = 300): string {
  return s.replace(/[^\x20-\x7e]+/g, ' ').replace(/ {2,}/g, ' ').trim().slice(0, max);
}
