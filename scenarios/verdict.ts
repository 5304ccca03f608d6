/**
 * Verdict rules. A check is pass, fail or inconclusive; a scenario is the worst of its checks.
 * `waived` exists only at scenario level, through an explicit waiver, and never hides a fail:
 * the failed check stays in the result next to the waiver.
 */
import type { ProbeOutcome, ProbeResult } from '../adapters/contract.ts';

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

/**
 * Several paths to the same privilege (the requester's own access, self-service through the grant
 * path): allowed if any path is, denied only if every path is; doubt on one path is doubt.
 */
export function anyPathAllowed(probes: readonly ProbeResult[]): ProbeResult {
  if (probes.length === 1) return probes[0]!;
  const outcome = probes.some((p) => p.outcome === 'allowed') ? 'allowed' : probes.length > 0 && probes.every((p) => p.outcome === 'denied') ? 'denied' : 'unknown';
  const shown = outcome === 'denied' ? probes : probes.filter((p) => p.outcome === outcome);
  return { outcome, at: probes.map((p) => p.at).sort().at(-1) ?? new Date().toISOString(), detail: shown.map((p) => p.detail).join('; ') };
}
