/**
 * Verdict rules. A check is pass, fail or inconclusive; a scenario is the worst of its checks.
 * `waived` exists only at scenario level, through an explicit waiver, and never hides a fail:
 * the failed check stays in the result next to the waiver.
 */
import type { ProbeOutcome } from '../adapters/contract.ts';

export type CheckVerdict = 'pass' | 'fail' | 'inconclusive';
export type Verdict = CheckVerdict | 'waived';

/** Worse verdicts rank higher: a proven finding beats doubt, doubt beats a pass. */
const RANK: Record<Verdict, number> = { pass: 0, waived: 1, inconclusive: 2, fail: 3 };

export function worstOf(verdicts: readonly Verdict[]): Verdict {
  let worst: Verdict = 'pass';
  for (const v of verdicts) if (RANK[v] > RANK[worst]) worst = v;
  return worst;
}

/**
 * A probe that must be denied (baseline, reuse): only a recognised denial passes.
 * `unknown` is doubt, never a denial.
 */
export function verdictWhenDenialExpected(outcome: ProbeOutcome): CheckVerdict {
  if (outcome === 'denied') return 'pass';
  if (outcome === 'allowed') return 'fail';
  return 'inconclusive';
}

/** The use probe must be allowed; anything else means nothing was tested. */
export function verdictWhenUseExpected(outcome: ProbeOutcome): CheckVerdict {
  return outcome === 'allowed' ? 'pass' : 'inconclusive';
}

/** CLI exit code from scenario verdicts (README, "What a run produces"): 1 any fail, 2 any inconclusive, else 0. */
export function exitCodeFor(verdicts: readonly Verdict[]): 0 | 1 | 2 {
  if (verdicts.includes('fail')) return 1;
  if (verdicts.includes('inconclusive')) return 2;
  return 0;
}
