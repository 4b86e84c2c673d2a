/** What the family is built from (src/agent passes these in), and the shapes its parts share. */
import type { Db } from '../db/index.ts';
import type { Network } from '../config/index.ts';
import type { Transport } from '../sandbox/index.ts';
import type { Evaluator } from './evaluation.ts';

export interface FamilyDeps {
  db: Db;
  now: () => Date;
  network: Network;
  /** Largest provider script accepted, in UTF-8 bytes. */
  scriptMaxBytes: number;
  /** How long a funded proposal may wait to be selected before it is refunded. */
  selectTimeoutSeconds: number;
  /** A fresh address of the wallet's for a proposal's deposit (Treasury.newAddress('proposal')). */
  newAddress: () => string;
  /** wallet/'s sealer (Wallet.sealCredentials / openCredentials): the family keeps only what it seals. */
  seal: (plaintext: string) => string;
  open: (sealed: string) => string;
  /** Judges a funded proposal (./evaluation.ts has the static one). */
  evaluate: Evaluator;
  /** Pays a deposit back from its own coins (Treasury.payBack). */
  payBack: (opts: {
    from: string;
    to: string;
    creditSat: bigint;
    exclude?: ReadonlySet<string>;
    beforeBroadcast: (tx: { txid: string; hex: string; inputs: string[]; amountSat: bigint; feeSat: bigint }) => void;
  }) => Promise<{ txid: string; amountSat: bigint; feeSat: bigint }>;
  /** Broadcasts a recorded transaction again (Treasury.rebroadcast). */
  rebroadcast: (txid: string, hex: string) => Promise<'known' | 'sent'>;
  /** Ids of new proposals and spawn tickets; injected by tests. */
  random?: (bytes: number) => Uint8Array;
  /** This agent as GET /v1/family shows it: its identity, its public URL, and its bundle's sha256 once there is one. */
  nodeId?: string;
  publicUrl?: () => string;
  codeHash?: () => string | undefined;
  /** Reproduction (./spawn.ts); without it no proposal is selected, and the family only takes and refunds proposals. */
  spawn?: SpawnDeps;
}

/** The child as it registered, which the battery tests. */
interface ChildUnderTest {
  url: string;
  nodeId: string;
  codeHash: string;
  accountXpub: string;
}

interface BatteryResult {
  passed: boolean;
  checks: Array<{ name: string; passed: boolean; detail: string }>;
}

/** What reproduction needs from the rest of the agent. */
export interface SpawnDeps {
  /** The child's cloud-init user data (./user-data.ts renders the real one). */
  userData: (spec: SpawnSpec) => string;
  /**
   * The test battery over a registered child (./battery.ts; the agent adds the parent's side of its input: code hash,
   * network, prices, bounds and how to pay). Without one, children wait in `testing`.
   */
  battery?: (child: ChildUnderTest, signal: AbortSignal) => Promise<BatteryResult>;
  /** The chain the child watches (the agent's Esplora URL, or the embedded devnet's). */
  esploraUrl: string;
  registerTimeoutSeconds: number;
  /** The numbers readiness weighs, but the deposits held (the family subtracts those itself). */
  readinessInput: () => Promise<{ force: boolean; walletSat: bigint; hostingCostSatPerMonth: bigint; reserveMonths: number; utilisationBps: bigint; minUtilisationBps: bigint }>;
  /** Pays a provider from a proposal's deposit (Treasury.payFromDeposit). */
  payFromDeposit: (opts: {
    from: string;
    to: string;
    amountSat: bigint;
    exclude?: ReadonlySet<string>;
    beforeBroadcast: (tx: { txid: string; hex: string; inputs: string[]; feeSat: bigint }) => void;
  }) => Promise<{ txid: string; feeSat: bigint; changeSat: bigint }>;
  /** Where scripts' requests go: the real network (the sandbox's netTransport). */
  transport: Transport;
}

/** A proposal's ledger account. */
export const accountOf = (proposalId: string): string => `proposal:${proposalId}`;

/**
 * What a child's user data carries (rendered by ./user-data.ts, read by the child at first boot): where its parent
 * answers, the one-time ticket it registers with, the code it must run, and the chain it watches. Never a key.
 */
export interface SpawnSpec {
  parentUrl: string;
  parentNodeId: string;
  /** One-time spawn ticket (32 random bytes, base64url); the parent keeps only its sha256. */
  ticket: string;
  /** sha256 (hex) of the parent's bundle, GET {parentUrl}/v1/bundle. */
  codeHash: string;
  network: Network;
  esploraUrl: string;
}

/** What the agent's composition root hands the family for reproduction (StartOptions.family). */
export interface ReproductionParts {
  userData?: SpawnDeps['userData'];
  battery?: SpawnDeps['battery'];
  /** sha256 of the agent's own bundle (the bundle module), once there is one. */
  codeHash?: () => string | undefined;
}
