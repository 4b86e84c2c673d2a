/**
 * What a host in a proposal may be (spawn-scripts/README.md, "Hosts, and loopback"): a lowercase DNS name or a
 * dotted IPv4 address, with an optional port, and nothing else: no scheme, path, user, wildcard or IPv6 literal.
 * The sandbox compares a request URL's `host` with these exactly, so anything looser would be a hole.
 */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const NAME = `${LABEL}(?:\\.${LABEL})*`;
const PLAIN_HOST = new RegExp(`^(${NAME})(?::([0-9]{1,5}))?$`);

/** True when `host` is a plain `host` or `host:port`, as the README says. */
export function isPlainHost(host: string): boolean {
  if (typeof host !== 'string' || host.length > 253 + 6) return false;
  const m = PLAIN_HOST.exec(host);
  if (!m) return false;
  const name = m[1] ?? '';
  if (name.length > 253) return false;
  // All-numeric labels: only a dotted IPv4 address of four octets, each 0..255 (no "1.2.3" or "999.1.1.1").
  if (/^[0-9.]+$/.test(name) && !isIpv4(name)) return false;
  if (m[2] !== undefined) {
    const port = Number(m[2]);
    if (port < 1 || port > 65_535 || m[2] !== String(port)) return false;
  }
  return true;
}

function isIpv4(name: string): boolean {
  const parts = name.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** Loopback hosts may be reached over plain http (spawn-scripts/README.md). */
export function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost';
}
