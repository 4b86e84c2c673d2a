/**
 * When the agent reproduces, and which proposal it spawns. Both are pure functions of numbers the family gathers
 * (./spawn.ts): the agent's own reserve (its money, not the investors' deposits) and the demand on its disk for
 * readiness; for the ranking, each evaluated proposal's cost, interest, evaluation and its proposer's record.
 */
import type { ProposalState } from './states.ts';

export interface ReadinessInput {
  /** Regtest only (config reproduceForce): ready whatever the numbers. */
  force: boolean;
  /** The agent's own confirmed money, deposits held for investors left out. */
  reserveSat: bigint;
  hostingCostSatPerMonth: bigint;
  /** The reserve must cover this many months of hosting cost (config reproduceReserveMonths). */
  reserveMonths: number;
  /** How full the disk is, in basis points (the host's latest prices). */
  utilisationBps: bigint;
  /** Config reproduceMinUtilisationBps. */
  minUtilisationBps: bigint;
}

export interface Readiness {
  ready: boolean;
  reason: string;
}

/** Ready when the reserve covers its months of hosting (the runway) and the disk is as full as asked (demand). */
export function readiness(i: ReadinessInput): Readiness {
  const runway = i.hostingCostSatPerMonth > 0n ? `${i.reserveSat / i.hostingCostSatPerMonth} month(s) of runway` : 'no hosting cost';
  if (i.force) return { ready: true, reason: `forced (reproduceForce); ${runway}, utilisation ${i.utilisationBps} bps` };
  const needed = i.hostingCostSatPerMonth * BigInt(i.reserveMonths);
  const problems: string[] = [];
  if (i.reserveSat < needed) problems.push(`the reserve of ${i.reserveSat} sat is below ${i.reserveMonths} month(s) of hosting (${needed} sat)`);
  if (i.utilisationBps < i.minUtilisationBps) problems.push(`utilisation of ${i.utilisationBps} bps is below ${i.minUtilisationBps} bps`);
  if (problems.length > 0) return { ready: false, reason: problems.join('; ') };
  return { ready: true, reason: `${runway}, utilisation ${i.utilisationBps} bps` };
}

export interface Candidate {
  id: string;
  monthlySat: bigint;
  interestBps: bigint;
  /** Checks of its evaluation, and how many passed (an evaluated proposal passed them all). */
  checks: number;
  checksPassed: number;
  /** The end states of the proposer's earlier proposals that reached a spawn. */
  record: { terminated: number; succeeded: number };
  fundedAt: bigint;
}

/** States that count for a proposer: a child that lived (proxied and beyond) or one that was terminated. */
export const SUCCEEDED: readonly ProposalState[] = ['proxied', 'redirected', 'adult'];

/**
 * The cost the ranking compares, lower first: what a month costs with the interest asked on top, raised by half
 * for each terminated child of the proposer's and lowered by a tenth for each that lived (at most by half), and
 * raised for each check of the evaluation that did not pass.
 */
export function rankCost(c: Candidate): bigint {
  const withInterest = (c.monthlySat * (10_000n + c.interestBps)) / 10_000n;
  const penalty = 100n + 50n * BigInt(c.record.terminated) + 25n * BigInt(Math.max(0, c.checks - c.checksPassed));
  const credit = 100n + 10n * BigInt(Math.min(5, c.record.succeeded));
  // Plus one so that free proposals (billing 'credentials') still tell a good record from a bad one.
  return ((withInterest + 1n) * penalty * 1_000n) / credit;
}

/** The candidates best first: lowest rankCost, then the earliest funded, then by id. */
export function rank(candidates: readonly Candidate[]): Candidate[] {
  return [...candidates].sort((a, b) => {
    const ca = rankCost(a);
    const cb = rankCost(b);
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (a.fundedAt !== b.fundedAt) return a.fundedAt < b.fundedAt ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}
