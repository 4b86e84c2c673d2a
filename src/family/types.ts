/** What the family is built from (src/agent passes these in), and the shapes its parts share. */
import type { Db } from '../db/index.ts';
import type { Network } from '../config/index.ts';
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
  /** Ids of new proposals (16 random bytes); injected by tests. */
  random?: (bytes: number) => Uint8Array;
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
