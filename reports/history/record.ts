/**
 * What one run leaves in the run history: per scenario its verdict, each check's verdict, the
 * metrics, the waiver in force, and two keys that make runs comparable — the target key (which
 * target it ran on) and the identity key (who was elevated). Built from the same summary the run's
 * reports are written from, so the history never disagrees with summary.json.
 */
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Verdict } from '../../scenarios/verdict.ts';
import type { Summary } from '../writers/summary.ts';

export interface RecordedCheck {
  name: string;
  verdict: string;
  severity: string;
  detail: string;
  controls: string[];
}

export interface RecordedScenario {
  adapter: string;
  scenario: string;
  title: string;
  targetMode: string;
  targetAddress: string;
  /** Which target, comparable across runs: see targetKey(). */
  targetKey: string;
  /** Who was elevated, comparable across runs: see identityKey(). */
  identity: string;
  verdict: Verdict;
  startedAt: string;
  finishedAt: string;
  /** Whether the broker granted at all (a scenario refused before the grant elevated nobody). */
  elevated: boolean;
  ttlSeconds: number | null;
  ttlRequestedSeconds: number | null;
  /** The task's approval window: the policy TTL the session is held against. */
  windowSeconds: number | null;
  revocationLatencyMs: number | null;
  /** Session overrun: how long past its end the credential still worked (0 when never). */
  sessionOutlivedTtlMs: number;
  privilegeWidth: number | null;
  residue: number;
  waiverId: string | null;
  waiverExpires: string | null;
  /**
   * jitc's own run of a break-glass scenario: a test of the emergency path, never an emergency use
   * to count against it (its grants are left out of repeated elevations and emergency use).
   */
  breakGlass: boolean;
  checks: RecordedCheck[];
}

export interface RecordedRun {
  runId: string;
  startedAt: string;
  finishedAt: string;
  /** `run` for jitc run, `merge` for jitc merge (which supersedes the shards it combines). */
  source: 'run' | 'merge';
  exitCode: number;
  doubtful: boolean;
  totals: Record<Verdict, number>;
  shards: string[];
  scenarios: RecordedScenario[];
}

/**
 * The target a result ran on, as a key that stays the same from run to run. A local or container
 * target is a fresh server on a fresh port each run, so its address says nothing: it is keyed by
 * mode and product. An external target is a real endpoint, keyed by mode and address.
 */
export function targetKey(target: ScenarioResult['target'], adapter: string): string {
  if (target.mode === 'external') return `external ${target.address}`;
  return `${target.mode} ${target.facts['product'] ?? adapter}`;
}

/** Grant attributes that name the principal the broker elevated, most specific first. */
const PRINCIPAL_ATTRIBUTES = ['principal', 'requester', 'role', 'user'] as const;

/**
 * The principal a grant elevated when it is stable across runs: a name the grant record carries
 * (requester DN, role, user) that is not one the harness made for this run. Everything the harness
 * creates carries the run id, so a name containing it is per-run and identifies nothing across runs.
 */
export function stablePrincipal(grant: ScenarioResult['issued'], runId: string): string | undefined {
  if (!grant) return undefined;
  for (const key of PRINCIPAL_ATTRIBUTES) {
    const value = grant.attributes[key];
    if (typeof value === 'string' && value.length > 0 && !value.includes(runId)) return value;
  }
  return undefined;
}

/**
 * Who was elevated, comparable across runs: adapter + target key + the stable principal when the
 * grant names one (an existing role or account on an external target), otherwise the scenario —
 * the scripted workflow whose identity the harness creates afresh each run.
 */
export function identityKey(adapter: string, target: string, scenario: string, principal: string | undefined): string {
  return principal ? `${adapter} ${target} principal ${principal}` : `${adapter} ${target} scenario ${scenario}`;
}

export function recordedRun(summary: Summary, results: readonly ScenarioResult[], source: RecordedRun['source']): RecordedRun {
  const byKey = new Map(results.map((r) => [`${r.adapter}/${r.id}`, r]));
  return {
    runId: summary.runId,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    source,
    exitCode: summary.exitCode,
    doubtful: summary.doubtful,
    totals: summary.totals,
    shards: summary.shards ?? [],
    scenarios: summary.scenarios.map((s): RecordedScenario => {
      const result = byKey.get(`${s.adapter}/${s.id}`);
      const target = targetKey(s.target, s.adapter);
      const principal = stablePrincipal(result?.issued ?? null, result?.runId ?? summary.runId);
      return {
        adapter: s.adapter,
        scenario: s.id,
        title: s.title,
        targetMode: s.target.mode,
        targetAddress: s.target.address,
        targetKey: target,
        identity: identityKey(s.adapter, target, s.id, principal),
        verdict: s.verdict,
        startedAt: result?.startedAt ?? summary.startedAt,
        finishedAt: result?.finishedAt ?? summary.finishedAt,
        elevated: Boolean(result?.issued),
        ttlSeconds: s.metrics.ttlSeconds,
        ttlRequestedSeconds: s.metrics.ttlRequestedSeconds,
        windowSeconds: result?.task.windowSeconds ?? null,
        revocationLatencyMs: s.metrics.revocationLatencyMs,
        sessionOutlivedTtlMs: s.metrics.sessionOutlivedTtlMs,
        privilegeWidth: s.metrics.privilegeWidth,
        residue: s.metrics.residue,
        waiverId: s.waiver?.id ?? null,
        waiverExpires: s.waiver?.expires ?? null,
        breakGlass: s.breakGlass === true,
        checks: s.checks.map((c) => ({ name: c.name, verdict: c.verdict, severity: c.severity, detail: c.detail, controls: c.controls })),
      };
    }),
  };
}
