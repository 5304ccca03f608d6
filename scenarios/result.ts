/** What one scenario run produces: the input of every report writer. Contains no secret values. */
import type { GrantRecord, TargetMode } from '../adapters/contract.ts';
import type { Severity } from './catalogue.ts';
import type { EvidenceEvent, Phase } from './evidence.ts';
import type { Scenario } from './schema.ts';
import type { CheckVerdict, Verdict } from './verdict.ts';

export interface CheckResult {
  name: string;
  title: string;
  verdict: CheckVerdict;
  detail: string;
  severity: Severity;
  controls: string[];
  /** What to change on the target when the check fails: the half's own remedy, or the catalogue's. */
  remediation?: string;
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
  /** Granted scope / needed scope; null when the grant source cannot state the granted scope. */
  privilegeWidth: number | null;
  /** Entitlements left on the target after the scenario, before teardown. */
  residue: number;
  /**
   * The harness's own lag, so a late look is never blamed on the target: the wait for admission
   * before the grant was requested (scenarios/admission.ts), issue → first use, and end → first
   * reuse probe; null where that step did not happen.
   */
  harnessLag: { admissionWaitMs: number | null; issueToFirstUseMs: number | null; endToFirstReuseMs: number | null };
}

export interface WaiverRecord {
  id: string;
  justification: string;
  acceptedBy: string;
  expires: string;
}

/** A grant as reports keep it: handle and extension names, never the closures behind them, never the credential. */
export type GrantSummary = Omit<GrantRecord, 'handles' | 'extensions'> & { handles: string[]; extensions?: string[] };

export interface ScenarioResult {
  id: string;
  title: string;
  proves: string;
  /** The point of use's adapter: the scenario belongs to its suite. */
  adapter: string;
  /** The point of use, of `adapter`. */
  pointOfUse: string;
  /** Where the grant came from: its adapter and grant source. */
  grant: { adapter: string; source: string };
  /** The native pair's name, when the scenario named one (`mechanism:` in its file). */
  pair?: string;
  severity: Severity;
  /**
   * A break-glass scenario: jitc's own test of an emergency path, never an emergency use to count
   * against the path (history tags it as a test). Absent on routine scenarios.
   */
  breakGlass?: true;
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
  /** The grant as its source issued it; null when no grant was issued. */
  issued: GrantSummary | null;
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

/** Metrics before anything was measured: nulls where a measure is unknown, never zeros that look like one. */
export function emptyMetrics(): ScenarioMetrics {
  return {
    ttlSeconds: null,
    ttlRequestedSeconds: null,
    revocationLatencyMs: null,
    sessionOutlivedTtlMs: 0,
    privilegeWidth: null,
    residue: 0,
    harnessLag: { admissionWaitMs: null, issueToFirstUseMs: null, endToFirstReuseMs: null },
  };
}

/**
 * The one shape every result starts from: who the scenario is, where it ran, and nothing
 * observed yet (inconclusive, no checks). The engine fills it; a scenario that never ran keeps it.
 */
export function resultSkeleton(scenario: Scenario, runId: string, target: ScenarioResult['target'], at: string): ScenarioResult {
  return {
    id: scenario.id,
    title: scenario.title,
    proves: scenario.proves,
    adapter: scenario.use.adapter,
    pointOfUse: scenario.use.name,
    grant: { adapter: scenario.grant.adapter, source: scenario.grant.name },
    ...(scenario.pair ? { pair: scenario.pair } : {}),
    severity: scenario.severity,
    ...(scenario.breakGlass ? { breakGlass: true as const } : {}),
    source: scenario.source,
    target,
    runId,
    startedAt: at,
    finishedAt: at,
    verdict: 'inconclusive',
    checks: [],
    controls: [],
    metrics: emptyMetrics(),
    task: { id: `${runId}/${scenario.id}`, approver: scenario.task.approver, windowSeconds: scenario.task.windowSeconds, needs: scenario.task.needs, endMode: scenario.end.mode },
    issued: null,
    residue: [],
    phases: [],
    teardown: { removed: [], errors: [] },
    evidence: [],
    secretFingerprints: [],
  };
}

/** Both halves' adapters: a suite name, a waiver or a gate rule naming either one matches the scenario. */
export function adaptersOf(result: Pick<ScenarioResult, 'adapter' | 'grant'>): string[] {
  return [...new Set([result.adapter, result.grant.adapter])];
}
