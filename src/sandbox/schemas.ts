/**
 * The shapes of what a provider script hands back, checked before the agent sees any of it: `meta`, and each
 * call's result. They follow the provider script interface that the scripts in spawn-scripts/ are written to.
 * Satoshis cross the boundary as JSON safe integers and leave this file as bigint.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

/**
 * A plain host or host:port: lowercase DNS labels or a dotted IPv4 address, no scheme, path, userinfo,
 * wildcard or IPv6 literal. URL.host gives the same form (lowercase, default port left out), so a request's
 * host is compared with these by string equality.
 */
const HOST_PATTERN = '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::(?:[1-9][0-9]{0,4}))?$';
const HOST_RE = new RegExp(HOST_PATTERN);

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * Whether `host` is a plain host[:port]: HOST_PATTERN, a port up to 65535, at most 253 characters of name, and
 * a name whose last label is a number only as a dotted-quad IPv4 address. URL's parser reads `1.2.3` as
 * 1.2.0.3 and refuses `256.1.1.1`, so such a name could never match a request's host.
 */
export function isPlainHost(host: string): boolean {
  if (!HOST_RE.test(host)) return false;
  const [name = '', port] = host.split(':');
  if (name.length > 253 || (port !== undefined && Number(port) > 65535)) return false;
  const labels = name.split('.');
  if (!/^[0-9]+$/.test(labels.at(-1) ?? '')) return true;
  return labels.length === 4 && labels.every((l) => IPV4_OCTET.test(l) && Number(l) <= 255);
}

const MAX_SAT = Number.MAX_SAFE_INTEGER;
const Sat = Type.Integer({ minimum: 0, maximum: MAX_SAT });
const Days = Type.Integer({ minimum: 1, maximum: 3660 });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** RFC 9110 section 5.1: a header name is a token. */
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$";

const MetaSchema = Type.Object(
  {
    provider: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }),
    hosts: Type.Array(Type.String({ maxLength: 260 }), { minItems: 1, maxItems: 16 }),
    auth: Type.Union([
      Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('bearer') }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('header'), name: Type.String({ pattern: HEADER_NAME }) }, { additionalProperties: false }),
    ]),
    billing: Type.Union([Type.Literal('invoice'), Type.Literal('account'), Type.Literal('credentials')]),
    bootstrap: Type.Literal('cloud-init'),
    canDestroy: Type.Boolean(),
    minTermDays: Days,
  },
  { additionalProperties: false },
);

const PaymentRequest = Type.Object(
  { id: Text(200), address: Text(120), amountSat: Type.Integer({ minimum: 1, maximum: MAX_SAT }) },
  { additionalProperties: false },
);
const PayList = Type.Array(PaymentRequest, { maxItems: 20 });
const Payments = Type.Object({ pay: PayList }, { additionalProperties: false });

const QuoteSchema = Type.Object(
  {
    spawnSat: Sat,
    monthlySat: Sat,
    termDays: Days,
    fiat: Type.Optional(
      Type.Object(
        { currency: Type.String({ pattern: '^[A-Z]{3}$' }), spawn: Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,8})?$' }), monthly: Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,8})?$' }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
const CreatedSchema = Type.Object({ serverId: Text(200), pay: Type.Optional(PayList) }, { additionalProperties: false });
const StatusSchema = Type.Object(
  {
    state: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('stopped'), Type.Literal('gone')]),
    url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
    expiresAt: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SAT })),
  },
  { additionalProperties: false },
);
const DestroyedSchema = Type.Object({}, { additionalProperties: false });

/** The names a script may export as calls; `fund` and `destroy` are optional. */
export const CALLS = ['quote', 'fund', 'create', 'status', 'renew', 'destroy'] as const;
export type CallName = (typeof CALLS)[number];
export const REQUIRED_CALLS: readonly CallName[] = ['quote', 'create', 'status', 'renew'];

export type ScriptMeta = Static<typeof MetaSchema>;

/** A payment request as the agent holds it. */
export interface Payment {
  id: string;
  address: string;
  amountSat: bigint;
}

/** A quote as the agent holds it. @public (for src/family; see ./index.ts) */
export interface QuoteResult {
  spawnSat: bigint;
  monthlySat: bigint;
  termDays: number;
  fiat?: { currency: string; spawn: string; monthly: string };
}

/** Each call's arguments as the agent passes them, and its result as the agent gets it. */
export interface CallArgs {
  quote: { plan: string; days: number };
  fund: { amountSat: bigint };
  create: { userData: string; plan: string; days: number };
  status: { serverId: string };
  renew: { serverId: string; days: number };
  destroy: { serverId: string };
}
export interface CallResults {
  quote: QuoteResult;
  fund: { pay: Payment[] };
  create: { serverId: string; pay?: Payment[] };
  status: Static<typeof StatusSchema>;
  renew: { pay: Payment[] };
  destroy: Record<string, never>;
}

const RESULT_SCHEMAS: { readonly [C in CallName]: TSchema } = {
  quote: QuoteSchema,
  fund: Payments,
  create: CreatedSchema,
  status: StatusSchema,
  renew: Payments,
  destroy: DestroyedSchema,
};

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checker(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** `value` checked against `schema`: null when it fits, else the first misfit as "path: message". */
export function misfit(schema: TSchema, value: unknown): string | null {
  const c = checker(schema);
  if (c.Check(value)) return null;
  const first = c.Errors(value).First();
  return first ? `${first.path || '(the value)'}: ${first.message}` : 'does not match';
}

function payments(list: Static<typeof PayList>): Payment[] {
  return list.map((p) => ({ id: p.id, address: p.address, amountSat: BigInt(p.amountSat) }));
}

/** A call's result (parsed JSON) checked and converted: satoshis become bigint. */
export function parseResult<C extends CallName>(call: C, value: unknown): { ok: true; value: CallResults[C] } | { ok: false; reason: string } {
  const bad = misfit(RESULT_SCHEMAS[call], value);
  if (bad !== null) return { ok: false, reason: `${call} returned a malformed value: ${bad}` };
  let out: CallResults[CallName];
  switch (call) {
    case 'quote': {
      const q = value as Static<typeof QuoteSchema>;
      out = { spawnSat: BigInt(q.spawnSat), monthlySat: BigInt(q.monthlySat), termDays: q.termDays, ...(q.fiat ? { fiat: { ...q.fiat } } : {}) };
      break;
    }
    case 'fund':
    case 'renew':
      out = { pay: payments((value as Static<typeof Payments>).pay) };
      break;
    case 'create': {
      const c = value as Static<typeof CreatedSchema>;
      out = { serverId: c.serverId, ...(c.pay ? { pay: payments(c.pay) } : {}) };
      break;
    }
    case 'status':
      out = { ...(value as Static<typeof StatusSchema>) };
      break;
    default:
      out = {};
  }
  return { ok: true, value: out as CallResults[C] };
}

/** The script's meta (parsed JSON) checked, hosts included. */
export function parseMeta(value: unknown): { ok: true; meta: ScriptMeta } | { ok: false; reason: string } {
  const bad = misfit(MetaSchema, value);
  if (bad !== null) return { ok: false, reason: `meta is malformed: ${bad}` };
  const meta = value as ScriptMeta;
  const host = meta.hosts.find((h) => !isPlainHost(h));
  if (host !== undefined) return { ok: false, reason: `meta.hosts: ${JSON.stringify(host.slice(0, 80))} is not a plain host[:port]` };
  return { ok: true, meta };
}

const Text1k = Text(1024);
const ServerRef = Type.Object({ serverId: Text(200) }, { additionalProperties: false });
const ARGS_SCHEMAS: { readonly [C in CallName]: TSchema } = {
  quote: Type.Object({ plan: Text1k, days: Days }, { additionalProperties: false }),
  fund: Type.Object({ amountSat: Type.Integer({ minimum: 1, maximum: MAX_SAT }) }, { additionalProperties: false }),
  create: Type.Object({ userData: Type.String({ maxLength: 64 * 1024 }), plan: Text1k, days: Days }, { additionalProperties: false }),
  status: ServerRef,
  renew: Type.Object({ serverId: Text(200), days: Days }, { additionalProperties: false }),
  destroy: ServerRef,
};

/** Why a call's arguments (JSON, as a transcript holds them) do not fit it, or null when they do. */
export function argsJsonMisfit(call: CallName, args: unknown): string | null {
  return misfit(ARGS_SCHEMAS[call], args);
}

/** Args as JSON for the script: bigint satoshis become safe-integer numbers. @throws RangeError for an amount above 2^53 - 1 */
export function argsToJson(call: CallName, args: CallArgs[CallName]): Record<string, unknown> {
  if (call !== 'fund') return { ...args };
  const { amountSat } = args as CallArgs['fund'];
  if (amountSat < 0n || amountSat > BigInt(MAX_SAT)) throw new RangeError('fund amountSat must be a non-negative safe integer');
  return { amountSat: Number(amountSat) };
}
