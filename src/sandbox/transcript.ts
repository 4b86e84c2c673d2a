/**
 * Transcripts (format `storj-transcript/1`, docs/sandbox.md): an investor's recording of a provider's
 * answers, call by call. A replay answers a script's requests from one call's exchanges, in order. A request
 * matches when its method and URL are the recorded ones, and its body too when the recording gives one (a
 * JSON body is compared as JSON: key order and spacing do not matter). Anything else is a mismatch: the
 * script gets an error, and the call fails with a reason naming the expected and the actual request, whatever
 * the script does with that error. Headers are not compared: the agent adds the credentials, and a
 * transcript never holds any.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ScriptRequest, ScriptResponse } from './protocol.ts';
import { CALLS, misfit, type CallName } from './schemas.ts';
import { TransportError, type SendOptions, type Transport } from './transport.ts';

const TRANSCRIPT_FORMAT = 'storj-transcript/1';

const Exchange = Type.Object({
  request: Type.Object({
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')]),
    url: Type.String({ minLength: 1, maxLength: 8192 }),
    body: Type.Optional(Type.Unknown()),
  }),
  response: Type.Object({
    status: Type.Integer({ minimum: 100, maximum: 599 }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.Unknown()),
  }),
});

const TranscriptSchema = Type.Object({
  format: Type.Literal(TRANSCRIPT_FORMAT),
  provider: Type.String({ minLength: 1, maxLength: 64 }),
  calls: Type.Array(
    Type.Object({
      call: Type.Union(CALLS.map((c) => Type.Literal(c))),
      args: Type.Record(Type.String(), Type.Unknown()),
      exchanges: Type.Array(Exchange, { maxItems: 200 }),
      result: Type.Optional(Type.Unknown()),
    }),
    { minItems: 1, maxItems: 100 },
  ),
});

export type Transcript = Static<typeof TranscriptSchema>;
type Recorded = Static<typeof Exchange>;

/** A transcript (parsed JSON) checked, or why it is refused. */
export function parseTranscript(value: unknown): { ok: true; transcript: Transcript } | { ok: false; reason: string } {
  const bad = misfit(TranscriptSchema, value);
  return bad === null ? { ok: true, transcript: value as Transcript } : { ok: false, reason: `the transcript is malformed: ${bad}` };
}

/** JSON with object keys sorted, so that two equal values print the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value) ?? 'null';
}

/**
 * Whether two JSON values are equal, whatever the order of their keys; a bigint equals the same integer as a
 * number, so a call's result (satoshis as bigint) compares with a transcript's expected `result`.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function bodyMatches(recorded: unknown, actual: string | null): boolean {
  if (recorded === undefined || recorded === null) return true;
  if (actual === null) return false;
  if (typeof recorded === 'string') return recorded === actual;
  try {
    return sameJson(recorded, JSON.parse(actual));
  } catch {
    return false;
  }
}

function describe(method: string, url: string): string {
  return `${method} ${url}`;
}

/** The replay of one call's exchanges, in order. */
export class ReplayTransport implements Transport {
  private next = 0;
  private mismatch: string | null = null;

  constructor(private readonly exchanges: readonly Recorded[]) {}

  send(request: ScriptRequest, { maxBytes }: SendOptions): Promise<ScriptResponse> {
    const i = this.next;
    const expected = this.exchanges[i];
    let why: string | null = null;
    if (!expected) why = `request ${i + 1} was ${describe(request.method, request.url)}, but the transcript has only ${this.exchanges.length}`;
    else if (expected.request.method !== request.method || expected.request.url !== request.url) {
      why = `request ${i + 1}: expected ${describe(expected.request.method, expected.request.url)}, got ${describe(request.method, request.url)}`;
    } else if (!bodyMatches(expected.request.body, request.body)) {
      why = `request ${i + 1} (${describe(request.method, request.url)}): the body differs from the transcript's`;
    }
    if (why !== null || !expected) {
      this.mismatch ??= why;
      return Promise.reject(new TransportError(`replay mismatch: ${why}`));
    }
    this.next++;
    const { response } = expected;
    const body = typeof response.body === 'string' ? response.body : response.body === undefined ? '' : JSON.stringify(response.body);
    if (Buffer.byteLength(body) > maxBytes) {
      return Promise.reject(new TransportError(`${describe(request.method, request.url)}: the answer is larger than ${maxBytes} bytes and was cut off`));
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers ?? {})) headers[name.toLowerCase()] = value;
    return Promise.resolve({ status: response.status, headers, body });
  }

  verdict(callOk: boolean): string | null {
    if (this.mismatch !== null) return this.mismatch;
    if (callOk && this.next < this.exchanges.length) {
      const left = this.exchanges[this.next];
      return `the call ended with ${this.exchanges.length - this.next} recorded request(s) unsent, the first ${left ? describe(left.request.method, left.request.url) : ''}`;
    }
    return null;
  }
}

/** Entry `i` of a transcript, ready to run: the call, its args, its replay and what it must return (if given). */
export function replayOf(transcript: Transcript, i: number): { call: CallName; args: Record<string, unknown>; transport: ReplayTransport; expected: unknown } {
  const entry = transcript.calls[i];
  if (!entry) throw new RangeError(`the transcript has no call ${i}`);
  return { call: entry.call, args: entry.args, transport: new ReplayTransport(entry.exchanges), expected: entry.result };
}
