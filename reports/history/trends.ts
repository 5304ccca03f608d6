/**
 * Trends over recorded runs: per scenario and target the verdict sequence and p50/p95 of the
 * metrics, per run its metrics, the flaky scenarios, and the identities elevated again and again.
 * Pure functions of the loaded history, so `jitc history` and its tests see the same numbers.
 */
import type { Verdict } from '../../scenarios/verdict.ts';
import type { RecordedRun, RecordedScenario } from './record.ts';

/** An identity elevated in at least this many runs of the window is reported as repeated. */
export const REPEATED_ELEVATION_RUNS = 3;

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  /** How many values they were taken over (nulls — never denied, no TTL — are left out). */
  samples: number;
}

/** Nearest-rank percentile: always a value that was measured, never an interpolation. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

export function percentiles(values: readonly (number | null)[]): Percentiles {
  const measured = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return { p50: percentile(measured, 50), p95: percentile(measured, 95), samples: measured.length };
}

export interface ScenarioTrend {
  adapter: string;
  scenario: string;
  targetKey: string;
  /** jitc's own tests of a break-glass path (record.ts): shown as tests, never as emergency use. */
  breakGlass: boolean;
  /** One entry per run the scenario ran in on this target, oldest first. */
  verdicts: { runId: string; startedAt: string; verdict: Verdict; waiver: string | null }[];
  /** How often the verdict differs from the run before. */
  changes: number;
  revocationLatencyMs: Percentiles;
  sessionOutlivedTtlMs: Percentiles;
  privilegeWidth: Percentiles;
  residue: Percentiles;
  /** Checks that did not pass in the latest run, by name. */
  latestNotPassed: string[];
}

export interface RunMetrics {
  runId: string;
  startedAt: string;
  source: RecordedRun['source'];
  exitCode: number;
  totals: RecordedRun['totals'];
  targets: string[];
  /** Across the run's scenarios. */
  revocationLatencyMs: Percentiles;
  sessionOutlivedTtlMs: Percentiles & { max: number };
  privilegeWidthMax: number | null;
  residueTotal: number;
  waiversInForce: string[];
}

export interface RepeatedElevation {
  identity: string;
  adapter: string;
  targetKey: string;
  /** Runs in which the broker granted to this identity. */
  elevations: number;
  runsConsidered: number;
  firstAt: string;
  lastAt: string;
  scenarios: string[];
}

export interface HistoryTrends {
  runsConsidered: number;
  totalRuns: number;
  from: string | null;
  to: string | null;
  /** Across every scenario result of the window. */
  overall: { revocationLatencyMs: Percentiles; sessionOutlivedTtlMs: Percentiles };
  runs: RunMetrics[];
  scenarios: ScenarioTrend[];
  /** Scenario × target whose verdict changed between runs, most changes first. */
  flaky: ScenarioTrend[];
  repeatedElevations: RepeatedElevation[];
  /**
   * Break-glass paths: jitc's own tests of them, by scenario and target, apart from any emergency
   * use. Emergency grants jitc did not make are not in its results (README, "Break-glass"), so no
   * repeated emergency use is ever derived from jitc's own runs.
   */
  breakGlassTests: { adapter: string; scenario: string; targetKey: string; runs: number; emergencyGrants: number }[];
}

function runMetrics(run: RecordedRun): RunMetrics {
  const s = run.scenarios;
  const overrun = percentiles(s.map((x) => x.sessionOutlivedTtlMs));
  const widths = s.map((x) => x.privilegeWidth).filter((w): w is number => w !== null);
  return {
    runId: run.runId,
    startedAt: run.startedAt,
    source: run.source,
    exitCode: run.exitCode,
    totals: run.totals,
    targets: [...new Set(s.map((x) => x.targetKey))].sort(),
    revocationLatencyMs: percentiles(s.map((x) => x.revocationLatencyMs)),
    sessionOutlivedTtlMs: { ...overrun, max: Math.max(0, ...s.map((x) => x.sessionOutlivedTtlMs)) },
    privilegeWidthMax: widths.length > 0 ? Math.max(...widths) : null,
    residueTotal: s.reduce((sum, x) => sum + x.residue, 0),
    waiversInForce: [...new Set(s.flatMap((x) => (x.waiverId ? [x.waiverId] : [])))].sort(),
  };
}

/** Scenario results of the window grouped by scenario and target, each group oldest first. */
function bySeries(runs: readonly RecordedRun[]): Map<string, { run: RecordedRun; result: RecordedScenario }[]> {
  const series = new Map<string, { run: RecordedRun; result: RecordedScenario }[]>();
  for (const run of runs) {
    for (const result of run.scenarios) {
      const key = `${result.adapter}/${result.scenario}\u0000${result.targetKey}`;
      const list = series.get(key) ?? [];
      list.push({ run, result });
      series.set(key, list);
    }
  }
  return series;
}

function scenarioTrend(points: { run: RecordedRun; result: RecordedScenario }[]): ScenarioTrend {
  const first = points[0]!.result;
  const latest = points.at(-1)!.result;
  const verdicts = points.map(({ run, result }) => ({ runId: run.runId, startedAt: run.startedAt, verdict: result.verdict, waiver: result.waiverId }));
  let changes = 0;
  for (let i = 1; i < verdicts.length; i++) if (verdicts[i]!.verdict !== verdicts[i - 1]!.verdict) changes += 1;
  const results = points.map((p) => p.result);
  return {
    adapter: first.adapter,
    scenario: first.scenario,
    targetKey: first.targetKey,
    breakGlass: latest.breakGlass,
    verdicts,
    changes,
    revocationLatencyMs: percentiles(results.map((r) => r.revocationLatencyMs)),
    sessionOutlivedTtlMs: percentiles(results.map((r) => r.sessionOutlivedTtlMs)),
    privilegeWidth: percentiles(results.map((r) => r.privilegeWidth)),
    residue: percentiles(results.map((r) => r.residue)),
    latestNotPassed: latest.checks.filter((c) => c.verdict !== 'pass').map((c) => c.name),
  };
}

function repeatedElevations(runs: readonly RecordedRun[]): RepeatedElevation[] {
  const byIdentity = new Map<string, { result: RecordedScenario; run: RecordedRun }[]>();
  for (const run of runs) {
    for (const result of run.scenarios) {
      // jitc's own break-glass tests are not elevations of anyone's workflow: never counted.
      if (!result.elevated || result.breakGlass) continue;
      const list = byIdentity.get(result.identity) ?? [];
      list.push({ result, run });
      byIdentity.set(result.identity, list);
    }
  }
  const repeated: RepeatedElevation[] = [];
  for (const [identity, grants] of byIdentity) {
    const runIds = new Set(grants.map((g) => g.run.runId));
    if (runIds.size < REPEATED_ELEVATION_RUNS) continue;
    const times = grants.map((g) => g.result.startedAt).sort();
    repeated.push({
      identity,
      adapter: grants[0]!.result.adapter,
      targetKey: grants[0]!.result.targetKey,
      elevations: runIds.size,
      runsConsidered: runs.length,
      firstAt: times[0]!,
      lastAt: times.at(-1)!,
      scenarios: [...new Set(grants.map((g) => g.result.scenario))].sort(),
    });
  }
  return repeated.sort((a, b) => b.elevations - a.elevations || a.identity.localeCompare(b.identity));
}

/** How many of the window's runs of a scenario on its target made a grant. */
function elevatedRuns(runs: readonly RecordedRun[], trend: ScenarioTrend): number {
  return runs.filter((run) => run.scenarios.some((r) => r.adapter === trend.adapter && r.scenario === trend.scenario && r.targetKey === trend.targetKey && r.elevated)).length;
}

/** Trends of the given runs (oldest first), out of `totalRuns` recorded. */
export function computeTrends(runs: readonly RecordedRun[], totalRuns = runs.length): HistoryTrends {
  const scenarios = [...bySeries(runs).values()].map(scenarioTrend).sort((a, b) => `${a.adapter}/${a.scenario} ${a.targetKey}`.localeCompare(`${b.adapter}/${b.scenario} ${b.targetKey}`));
  const all = runs.flatMap((r) => r.scenarios);
  return {
    runsConsidered: runs.length,
    totalRuns,
    from: runs[0]?.startedAt ?? null,
    to: runs.at(-1)?.startedAt ?? null,
    overall: { revocationLatencyMs: percentiles(all.map((s) => s.revocationLatencyMs)), sessionOutlivedTtlMs: percentiles(all.map((s) => s.sessionOutlivedTtlMs)) },
    runs: runs.map(runMetrics),
    scenarios,
    flaky: scenarios.filter((s) => s.changes > 0).sort((a, b) => b.changes - a.changes),
    repeatedElevations: repeatedElevations(runs),
    breakGlassTests: scenarios.filter((s) => s.breakGlass).map((s) => ({ adapter: s.adapter, scenario: s.scenario, targetKey: s.targetKey, runs: s.verdicts.length, emergencyGrants: elevatedRuns(runs, s) })),
  };
}
