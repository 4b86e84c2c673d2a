/**
 * The evaluation job: funded proposals go to `evaluating`, the evaluator judges each, and the result is
 * recorded with the move to `evaluated` (every check passed) or `rejected` (the failing checks are the reason).
 * A proposal found already `evaluating` was interrupted (a kill -9 mid-evaluation) and is evaluated again: an
 * evaluation changes nothing outside the proposal's own row, so running it twice is harmless. A proposal whose
 * deposit left the chain meanwhile is no longer `evaluating`, and its result is dropped.
 */
import type { Evaluation, EvaluationInput, Evaluator } from './evaluation.ts';
import type { FamilyRepository, ProposalRow } from './repository.ts';

export async function evaluateFunded(deps: { repo: FamilyRepository; now: () => Date; evaluate: Evaluator }): Promise<string> {
  const { repo } = deps;
  for (const p of repo.inStates(['funded'])) repo.move(p.id, 'funded', 'evaluating', ms(deps.now()), 'evaluation started');
  let passed = 0;
  let rejected = 0;
  const failures: string[] = [];
  for (const p of repo.inStates(['evaluating'])) {
    let result: Evaluation;
    try {
      result = await deps.evaluate(input(p));
    } catch (e) {
      // The evaluator itself failed (not the script: a script's failure is a failed check). The proposal stays
      // `evaluating` and is tried again on the next run.
      failures.push(`${p.id.slice(0, 8)}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const at = ms(deps.now());
    const moved = repo.transaction(() => {
      const ok = repo.move(p.id, 'evaluating', result.passed ? 'evaluated' : 'rejected', at, reasonOf(result));
      if (ok) repo.setEvaluation(p.id, JSON.stringify(result));
      return ok;
    });
    if (moved && result.passed) passed++;
    else if (moved) rejected++;
  }
  const detail = `${passed} evaluated, ${rejected} rejected`;
  if (failures.length > 0) throw new Error(`${detail}; the evaluator failed for ${failures.length}: ${failures.join('; ').slice(0, 500)}`);
  return detail;
}

/** The proposal as an evaluator sees it: no credentials. */
function input(p: ProposalRow): EvaluationInput {
  return {
    id: p.id,
    provider: p.provider,
    script: p.script,
    hosts: JSON.parse(p.hosts) as string[],
    transcript: JSON.parse(p.transcript) as unknown,
    quote: { spawnSat: p.spawn_sat, monthlySat: p.monthly_sat },
  };
}

function reasonOf(e: Evaluation): string {
  if (e.passed) return `passed ${e.checks.length} check(s)`;
  const failed = e.checks.filter((c) => !c.passed);
  return `failed ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`.slice(0, 2000);
}

function ms(d: Date): bigint {
  return BigInt(d.getTime());
}
