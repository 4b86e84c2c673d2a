/** The ledger's units and entry kinds, shared by its door (index.ts) and its repository. */

export const GIB = 1024n ** 3n;
export const DAY_MS = 86_400_000n;

export type EntryKind = 'payment' | 'reversal' | 'storage' | 'egress';

/**
 * Entries of an account that is not a file: a deposit credits, its reversal (a reorg or a double spend) undoes
 * it, a refund and its network fee debit.
 */
export type AccountEntryKind = 'deposit' | 'reversal' | 'refund' | 'fee';
