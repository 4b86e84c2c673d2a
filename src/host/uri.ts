/** The two formats the host speaks besides JSON: BIP21 payment URIs and HTTP byte ranges. */
import { AgentError } from '../errors/index.ts';
import { formatBtc } from '../money/index.ts';

/** `bitcoin:<address>?amount=<btc>&label=...` (BIP21). */
export function bip21(address: string, amountSat: bigint | undefined, label?: string): string {
  const q = new URLSearchParams();
  if (amountSat !== undefined && amountSat > 0n) q.set('amount', formatBtc(amountSat));
  if (label) q.set('label', label);
  const qs = q.toString();
  return `bitcoin:${address}${qs ? `?${qs}` : ''}`;
}

/** A parsed `Range: bytes=a-b` header against a file of `size` bytes (single ranges only, per RFC 9110 14.2). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    // A syntactically invalid Range header is ignored (RFC 9110 14.2): the whole file is sent.
    return undefined;
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new AgentError('RANGE_NOT_SATISFIABLE', `range ${header} is empty`, { size });
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= size || start > end) {
    throw new AgentError('RANGE_NOT_SATISFIABLE', `range ${header} is outside the file's ${size} bytes`, { size });
  }
  return { start, end };
}
