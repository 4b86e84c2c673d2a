// The provider script interface, as types. A provider script is a plain ES module that QuickJS evaluates with no
// imports and no host APIs; it type-checks against these declarations through JSDoc (`// @ts-check` and
// `@type {import('./provider.js').Meta}`), run by `tsc -p tsconfig.scripts.json`. spawn-scripts/README.md says
// what each call must do; the agent validates every value a script returns against the same shapes at run time,
// so these types are a help to the author, never a guarantee the agent relies on.

/** Satoshis as a JSON number: a non-negative safe integer (at most 2^53 - 1), never a fraction. */
export type Sat = number;

/** How the agent pays this provider. */
export type Billing =
  /** Each server (and each renewal) has its own on-chain invoice, returned by `create` and `renew`. */
  | 'invoice'
  /** A prepaid account at the provider, funded on chain through `fund`; servers draw it down. */
  | 'account'
  /** An account the investor funds and lends through an API token: the agent pays the provider nothing on chain. */
  | 'credentials';

/**
 * How the host process attaches the investor's credentials to every request the script makes. The script never
 * sees them. `bearer` sends `Authorization: Bearer <credentials>`; `header` sends `<name>: <credentials>` verbatim
 * (for providers whose scheme is not plain bearer); `none` sends nothing.
 */
export type Auth = { type: 'none' } | { type: 'bearer' } | { type: 'header'; name: string };

export interface Meta {
  /** A short lowercase name for the provider, the same as the transcript's `provider`: e.g. `hetzner`. */
  provider: string;
  /** Every host the script may call, each a plain `host` or `host:port`: no scheme, path, user or wildcard. */
  hosts: string[];
  auth: Auth;
  billing: Billing;
  /** How the child receives its boot instructions: `cloud-init` user data is the only kind the agent writes. */
  bootstrap: 'cloud-init';
  /** Whether the script exports `destroy`. */
  canDestroy: boolean;
  /** The shortest term, in days, the provider sells; the agent pays at least this much at spawn. */
  minTermDays: number;
}

/** A price in the provider's own currency, as the provider states it (a decimal string, never a float). */
export interface FiatPrice {
  /** ISO 4217 code, e.g. `EUR`. The amounts below have at most 8 decimals. */
  currency: string;
  /** The cost of the first term (`termDays`), e.g. `"4.5100"`. */
  spawn: string;
  /** The cost of a month (30 days). */
  monthly: string;
}

export interface QuoteArgs {
  /** The provider's own plan or size name, chosen by the investor. */
  plan: string;
  /** How many days the agent means to keep the server at first. */
  days: number;
}
export interface Quote {
  /** On-chain satoshis the agent pays to start the server for `termDays`: 0 for `credentials` billing. */
  spawnSat: Sat;
  /** On-chain satoshis a further 30 days cost: 0 for `credentials` billing. */
  monthlySat: Sat;
  /** The days `spawnSat` buys: at least `days` and at least `meta.minTermDays`. */
  termDays: number;
  /** The provider's own price, when it is not charged in bitcoin (required for `credentials` billing). */
  fiat?: FiatPrice;
}

/** One on-chain payment the script asks for. The agent pays each `id` at most once, and only within the quote. */
export interface PaymentRequest {
  /** The provider's id for this invoice or transaction: stable, so a repeated request is recognised. */
  id: string;
  /** A bitcoin address on the agent's network. */
  address: string;
  amountSat: Sat;
}
export interface Payments {
  pay: PaymentRequest[];
}

export interface FundArgs {
  amountSat: Sat;
}
export interface CreateArgs {
  /** The cloud-init user data the agent wrote for the child (a one-time ticket, never a key). */
  userData: string;
  plan: string;
  days: number;
}
export interface Created {
  /** The provider's id for the server, handed back to `status`, `renew` and `destroy`. */
  serverId: string;
  pay?: PaymentRequest[];
}
export interface ServerRef {
  serverId: string;
}
export type ServerState = 'pending' | 'running' | 'stopped' | 'gone';
export interface Status {
  state: ServerState;
  /** Where the server answers, once known: e.g. `http://203.0.113.7`. */
  url?: string;
  /** When the paid time ends, in milliseconds since the epoch, if the provider says. */
  expiresAt?: number;
}
export interface RenewArgs {
  serverId: string;
  days: number;
}

/** A request as the script makes it: a body that is not a string is sent as JSON. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}
/** The provider's answer. Redirects are not followed: a 3xx arrives here as it is. */
export interface HttpResponse {
  status: number;
  /** Header names in lowercase. */
  headers: Record<string, string>;
  body: string;
}

/** The only capabilities a script has. */
export interface Ctx {
  /** Calls a declared host; throws if the host is not declared, the answer is too big or too slow. */
  http(request: HttpRequest): Promise<HttpResponse>;
  sleep(ms: number): Promise<void>;
  /** The agent's clock, in milliseconds since the epoch (simulated during evaluation). */
  now(): number;
  /** Output for the proposal's evaluation; capped, and never holds the credentials. */
  log(...values: unknown[]): void;
}

// Each call's type, for a script's JSDoc: `@type {import('./provider.js').QuoteFn}` above `export async function quote`.
export type QuoteFn = (args: QuoteArgs, ctx: Ctx) => Promise<Quote>;
export type FundFn = (args: FundArgs, ctx: Ctx) => Promise<Payments>;
export type CreateFn = (args: CreateArgs, ctx: Ctx) => Promise<Created>;
export type StatusFn = (args: ServerRef, ctx: Ctx) => Promise<Status>;
export type RenewFn = (args: RenewArgs, ctx: Ctx) => Promise<Payments>;
export type DestroyFn = (args: ServerRef, ctx: Ctx) => Promise<Record<string, never>>;

/** What a provider script module exports. */
export interface ProviderScript {
  meta: Meta;
  quote: QuoteFn;
  /** Required when `meta.billing` is `account`; absent otherwise. */
  fund?: FundFn;
  create: CreateFn;
  status: StatusFn;
  renew: RenewFn;
  /** Present exactly when `meta.canDestroy` is true. */
  destroy?: DestroyFn;
}
