/**
 * The investors' request and reply schemas (TypeBox): the same objects validate requests and document them in the
 * OpenAPI document at /v1/openapi.json. The limits a proposal breaks with a code of its own (the script's size, a
 * host's form, the signature, the payout address, the investment) are checked by the family, not here, so that the
 * investor gets that code rather than a generic 400.
 */
import { Type } from '@sinclair/typebox';
import { Sat } from '../http/index.ts';
import { STATES } from './states.ts';

const SatInt = (description: string) => Type.Integer({ minimum: 0, description: `${description} (satoshis)` });

export const ProposalBodySchema = Type.Object(
  {
    provider: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$', description: 'a short lowercase name, the script\'s meta.provider' }),
    script: Type.String({ minLength: 1, description: 'the provider script (JavaScript), spawn-scripts/README.md' }),
    hosts: Type.Array(Type.String({ maxLength: 300 }), { minItems: 1, maxItems: 32, description: 'every host the script may call: plain host or host:port' }),
    transcript: Type.Record(Type.String(), Type.Unknown(), { description: 'storj-transcript/1: the provider\'s answers that evaluation replays' }),
    credentials: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 8192 }), Type.Record(Type.String(), Type.Unknown())], { description: 'opaque provider credentials; sealed at rest and never returned' }),
    ),
    quote: Type.Object({ spawnSat: SatInt('cost of the spawn'), monthlySat: SatInt('cost of a month') }, { additionalProperties: false }),
    investmentSat: Type.Integer({ minimum: 1, description: 'the investment, paid as the deposit (satoshis)' }),
    interestBps: Type.Integer({ minimum: 0, maximum: 100_000, description: 'interest asked, in basis points' }),
    payoutAddress: Type.String({ minLength: 1, maxLength: 100, description: 'where refunds and paybacks go, on the agent\'s network' }),
    variant: Type.Literal('clone'),
    proposerKey: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'the proposer\'s ed25519 public key, hex' }),
    signature: Type.String({ pattern: '^[0-9a-f]{128}$', description: 'hex ed25519 signature over the canonical JSON of every other field' }),
  },
  { additionalProperties: false },
);

export const ProposedReply = Type.Object({
  id: Type.String(),
  depositAddress: Type.String({ description: 'pay the deposit here (BIP84 P2WPKH)' }),
  depositSat: Sat('the deposit'),
  bip21: Type.String(),
  state: Type.Literal('awaiting_deposit'),
});

const Check = Type.Object({ name: Type.String(), passed: Type.Boolean(), detail: Type.String() });
const State = Type.Union(STATES.map((s) => Type.Literal(s)));

const summary = {
  id: Type.String(),
  state: State,
  provider: Type.String(),
  investmentSat: Sat('the investment'),
  depositSat: Sat('the deposit asked'),
  receivedSat: Sat('deposits counted at the required confirmations, less any that left the chain'),
  evaluation: Type.Optional(Type.Object({ passed: Type.Boolean(), checks: Type.Array(Check) })),
  child: Type.Optional(Type.Object({ nodeId: Type.String(), url: Type.String() })),
  payments: Type.Array(Type.Object({ purpose: Type.String(), amountSat: Sat('paid'), txid: Type.String() })),
  refund: Type.Optional(Type.Object({ amountSat: Sat('sent back'), txid: Type.String() })),
  payback: Type.Object({ owedSat: Sat('owed to the investor'), paidSat: Sat('paid to the investor'), txids: Type.Array(Type.String()) }),
};

export const ProposalSummary = Type.Object(summary);
export const ProposalReply = Type.Object({
  ...summary,
  history: Type.Array(Type.Object({ state: State, at: Type.String({ format: 'date-time' }), reason: Type.String() })),
});
export const ProposalList = Type.Object({ proposals: Type.Array(ProposalSummary) });
export const ProposalIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

const Hex64 = (description: string) => Type.String({ pattern: '^[0-9a-f]{64}$', description });

export const RegisterBody = Type.Object(
  {
    ticket: Type.String({ minLength: 1, maxLength: 200, description: 'the one-time spawn ticket from the child\'s user data' }),
    nodeId: Hex64('the child\'s identity: its ed25519 public key, hex'),
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'where the child serves' }),
    codeHash: Hex64('sha256 of the bundle the child runs'),
    accountXpub: Type.String({ minLength: 1, maxLength: 200, description: 'the child\'s account xpub (its invoices derive from it)' }),
    signature: Type.String({ pattern: '^[0-9a-f]{128}$', description: 'hex ed25519 signature by nodeId over the canonical JSON of the other fields' }),
  },
  { additionalProperties: false },
);
export const RegisteredReply = Type.Object({ proposalId: Type.String() });

const Peer = Type.Object({ nodeId: Type.String(), url: Type.String() });
export const FamilyReply = Type.Object({
  self: Type.Object({ nodeId: Type.String(), url: Type.String(), codeHash: Type.Optional(Type.String()), parent: Type.Optional(Peer) }),
  children: Type.Array(
    Type.Object({
      proposalId: Type.String(),
      nodeId: Type.String(),
      url: Type.String(),
      state: State,
      since: Type.String({ format: 'date-time' }),
      codeHash: Type.String(),
      trafficShare: Type.Number({ minimum: 0, maximum: 1, description: 'the share of customers routed to the child' }),
      revenueSat: Sat('the child\'s revenue seen on chain'),
      shareOwedSat: Sat('the parent\'s share owed'),
      sharePaidSat: Sat('the parent\'s share paid'),
    }),
  ),
});
