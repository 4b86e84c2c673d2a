/**
 * What `storj propose` sends: the terms read from the investor's files, without running the script, and the
 * signed body of `POST /v1/proposals`. The script runs only in the agent's sandbox; here it is bytes to send.
 * The transcript's format is spawn-scripts/README.md's (`storj-transcript/1`); the signature is wallet/signed.ts's.
 */
import { AgentError } from '../../errors/index.ts';
import { satToJson } from '../../money/index.ts';
import type { ProposerKey } from '../../../wallet/index.ts';
import { isRecord } from './api.ts';

const TRANSCRIPT_FORMAT = 'storj-transcript/1';

/**
 * A plain `host` or `host:port` as spawn-scripts/README.md allows it: a lowercase DNS name or dotted IPv4
 * address, no scheme, path, user, wildcard or IPv6 literal. The agent checks the same; this only fails earlier.
 */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::([0-9]{1,5}))?$`);

/** True for a plain host[:port] with a port from 1 to 65535. */
export function isPlainHost(h: string): boolean {
  const m = HOST.exec(h);
  if (!m || h.length > 253 + 6) return false;
  const port = m[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535 && !port.startsWith('0'));
}

/** The provider's quote, as the proposal carries it. */
interface ProviderQuote {
  spawnSat: bigint;
  monthlySat: bigint;
}

/** What a transcript says about its proposal. */
export interface TranscriptTerms {
  provider: string;
  /** The hosts of every recorded request (`new URL(url).host`), in order of first use. */
  hosts: string[];
  /** The result of the transcript's first `quote` call. */
  quote: ProviderQuote;
  /** The transcript itself, as parsed: it is sent as JSON. */
  transcript: Record<string, unknown>;
}

const bad = (what: string, message: string) => new AgentError('BAD_REQUEST', `${what}: ${message}`);

function wholeSat(v: unknown, what: string, field: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what, `the quote's ${field} is not a whole number of satoshis`);
  return BigInt(v);
}

/**
 * Reads provider, hosts and quote from a transcript's text (`what` names the file in messages).
 * @throws AgentError BAD_REQUEST for text that is not a `storj-transcript/1` with a provider, a quote call whose
 * result has spawnSat and monthlySat, and requests whose URLs are http(s) to plain hosts
 */
export function readTranscript(text: string, what: string): TranscriptTerms {
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch {
    throw bad(what, 'not JSON');
  }
  if (!isRecord(t)) throw bad(what, 'not a JSON object');
  if (t.format !== TRANSCRIPT_FORMAT) throw bad(what, `"format" is not "${TRANSCRIPT_FORMAT}"`);
  const provider = t.provider;
  if (typeof provider !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(provider)) throw bad(what, '"provider" is missing or not a short lowercase name');
  if (!Array.isArray(t.calls)) throw bad(what, '"calls" is not an array');
  const hosts: string[] = [];
  let quote: ProviderQuote | undefined;
  for (const [i, call] of t.calls.entries()) {
    if (!isRecord(call)) throw bad(what, `call ${i} is not an object`);
    if (call.call === 'quote' && quote === undefined) {
      if (!isRecord(call.result)) throw bad(what, 'the quote call has no result');
      quote = { spawnSat: wholeSat(call.result.spawnSat, what, 'spawnSat'), monthlySat: wholeSat(call.result.monthlySat, what, 'monthlySat') };
    }
    if (!Array.isArray(call.exchanges)) throw bad(what, `call ${i} has no "exchanges" array`);
    for (const ex of call.exchanges as unknown[]) {
      const url = isRecord(ex) && isRecord(ex.request) ? ex.request.url : undefined;
      let host: string;
      try {
        const u = new URL(typeof url === 'string' ? url : '');
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
        host = u.host;
      } catch {
        throw bad(what, `call ${i} has a request without an http(s) URL`);
      }
      if (!isPlainHost(host)) throw bad(what, `call ${i} requests ${host}, which is not a plain host[:port]`);
      if (!hosts.includes(host)) hosts.push(host);
    }
  }
  if (!quote) throw bad(what, 'there is no quote call, so there is no quote to propose');
  return { provider, hosts, quote, transcript: t };
}

/**
 * `--hosts h1,h2`: the hosts as given, each a plain host[:port].
 * @throws AgentError BAD_REQUEST for an empty list or a host that is not plain
 */
export function parseHosts(raw: string): string[] {
  const hosts = raw.split(',').map((h) => h.trim());
  if (hosts.length === 0 || hosts.some((h) => h === '')) throw new AgentError('BAD_REQUEST', '--hosts must be a comma-separated list of host[:port], e.g. api.example.com,127.0.0.1:8430');
  for (const h of hosts) if (!isPlainHost(h)) throw new AgentError('BAD_REQUEST', `--hosts: ${JSON.stringify(h)} is not a plain lowercase host[:port] (no scheme, path or wildcard)`);
  return [...new Set(hosts)];
}

/**
 * `--interest BPS`: the interest asked, in basis points (1/100 of a percent), a whole number from 0 to 100000
 * (1000%), the bound the agent's API accepts.
 * @throws AgentError BAD_REQUEST otherwise
 */
export function parseBps(raw: string): number {
  const s = raw.trim();
  const n = /^(0|[1-9][0-9]{0,5})$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n <= 100_000)) throw new AgentError('BAD_REQUEST', '--interest must be a whole number of basis points from 0 to 100000 (500 is 5%)');
  return n;
}

/**
 * The credentials in a file: its text, less one final line break (what an editor or `echo` adds). They are
 * opaque, so nothing else is changed.
 * @throws AgentError BAD_REQUEST for an empty file
 */
export function credentialsFromText(text: string): string {
  const c = text.replace(/\r?\n$/, '');
  if (c === '') throw new AgentError('BAD_REQUEST', '--credentials: the file is empty');
  return c;
}

/** Everything a proposal says, before it is signed. */
export interface ProposalInput {
  provider: string;
  script: string;
  hosts: string[];
  transcript: Record<string, unknown>;
  credentials?: string;
  quote: ProviderQuote;
  investmentSat: bigint;
  interestBps: number;
  payoutAddress: string;
}

/** The fields of `POST /v1/proposals` but the signature, as JSON (satoshis as JSON integers). */
function proposalFields(i: ProposalInput, proposerKey: string): Record<string, unknown> {
  return {
    provider: i.provider,
    script: i.script,
    hosts: i.hosts,
    transcript: i.transcript,
    ...(i.credentials !== undefined ? { credentials: i.credentials } : {}),
    quote: { spawnSat: satToJson(i.quote.spawnSat), monthlySat: satToJson(i.quote.monthlySat) },
    investmentSat: satToJson(i.investmentSat),
    interestBps: i.interestBps,
    payoutAddress: i.payoutAddress,
    variant: 'clone',
    proposerKey,
  };
}

/** The body of `POST /v1/proposals`: the fields, signed by `key` over their canonical JSON. */
export function signedProposal(i: ProposalInput, key: ProposerKey): Record<string, unknown> {
  return key.sign(proposalFields(i, key.publicKeyHex));
}
