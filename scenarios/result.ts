/** What one scenario run produces: the input of every report writer. Contains no secret values. */
import type { GrantRecord, TargetMode } from '../adapters/contract.ts';
import type { Severity } from './catalogue.ts';
import type { EvidenceEvent, Phase } from './evidence.ts';
import type { CheckVerdict, Verdict } from './verdict.ts';

export interface CheckResult {
  name: string;
  title: string;
  verdict: CheckVerdict;
  detail: string;
  severity: Severity;
  controls: string[];
}

export interface PhaseTiming {
  phase: Phase;
  startedAt: string;
  finishedAt: string;
  status: 'done' | 'failed' | 'skipped';
  note?: string;
}

export interface ScenarioMetrics {
  /** TTL the target granted, seconds; null when the grant does not expire. */
  ttlSeconds: number | null;
  ttlRequestedSeconds: number | null;
  /** From the end request to the start of the final, confirmed run of denials; null when not shown. */
  revocationLatencyMs: number | null;
  /** How long past the end the credential was still seen working (0 when never). */
  sessionOutlivedTtlMs: number;
  /** Granted scope / needed scope; null when the mechanism cannot state the granted scope. */
  privilegeWidth: number | null;
  /** Entitlements left on the target after the scenario, before teardown. */
  residue: number;
  /**
   * The harness's own lag, so a late look is never blamed on the target: issue → first use, and
   * end → first reuse probe; null where that step did not happen.
   */
  harnessLag: { issueToFirstUseMs: number | null; endToFirstReuseMs: number | null };
}

export interface WaiverRecord {
  id: string;
  justification: string;
  acceptedBy: string;
  expires: string;
}

/** A grant as reports keep it: handle and extension names, never the closures behind them. */
export type GrantSummary = Omit<GrantRecord, 'handles' | 'extensions'> & { handles: string[]; extensions?: string[] };

export interface ScenarioResult {
  id: string;
  title: string;
  proves: string;
  adapter: string;
  mechanism: string;
  severity: Severity;
  source: string;
  target: { mode: TargetMode; address: string; facts: Record<string, string> };
  runId: string;
  startedAt: string;
  finishedAt: string;
  verdict: Verdict;
  checks: CheckResult[];
  controls: string[];
  metrics: ScenarioMetrics;
  task: { id: string; approver: string; windowSeconds: number; needs: string[]; endMode: string };
  grant: GrantSummary | null;
  residue: string[];
  phases: PhaseTiming[];
  teardown: { removed: string[]; errors: string[] };
  evidence: EvidenceEvent[];
  /**
   * Fingerprints of every secret value the scenario knew (issued tokens, keys, passwords, the
   * target's admin credential): lets anyone scan the outputs for leaks without holding the secrets.
   */
  secretFingerprints: string[];
  waiver?: WaiverRecord;
}
