/** summary.json (README, "What a run produces"): the machine-readable verdict of a run. */
import { checkDefinition } from '../../scenarios/catalogue.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { exitCodeFor, type Verdict } from '../../scenarios/verdict.ts';
import type { WaiverReport } from '../waivers.ts';

export interface Summary {
  runId: string;
  startedAt: string;
  finishedAt: string;
  totals: Record<Verdict, number>;
  exitCode: 0 | 1 | 2;
  /** The run as a whole could not be trusted (interrupted, a suite crashed): exit 2 at least. */
  doubtful: boolean;
  /** Run ids of the shards a merged report combines. */
  shards?: string[];
  /** One shard of a sharded run (`jitc run --shard i/n`): which part, and the whole plan it is part of. */
  shard?: ShardRecord;
  /**
   * The sealed runs a merged report combines, each as it was sealed (run id, chain head, records,
   * shard), so an auditor can trace the merge back to each source's own seal.
   */
  merged?: MergedSource[];
  scenarios: {
    id: string;
    /** The point of use's adapter (the suite the scenario belongs to). */
    adapter: string;
    /** Where the grant came from: adapter and grant source (the same adapter for a native pair). */
    grant: ScenarioResult['grant'];
    title: string;
    /** A break-glass scenario: jitc's own test of an emergency path (result.ts). */
    breakGlass?: true;
    target: ScenarioResult['target'];
    verdict: Verdict;
    /** Each check; a failed one carries what to change on the target. */
    checks: { name: string; verdict: string; detail: string; severity: string; controls: string[]; remediation?: string }[];
    controls: string[];
    /**
     * Checks its adapter declared not evidenced on this target (no readable trail): a gap per
     * control an auditor sees, counted neither pass nor fail.
     */
    notEvidenced?: NotEvidenced[];
    metrics: ScenarioResult['metrics'];
    waiver?: ScenarioResult['waiver'];
    teardown: ScenarioResult['teardown'];
    evidence: string;
  }[];
  waivers: WaiverReport;
  /**
   * Scenarios the selection held that this run did not run, each with why (a break-glass path not
   * opted into, a grant source on an external target nobody named): not run is neither pass nor
   * fail, and an auditor must see it beside what was.
   */
  leftOut?: LeftOut[];
  /** The gate policy in force and what it made of the failures (all failures gate without rules). */
  gate: { rules: string[]; gating: string[]; tolerated: string[] };
}

export interface LeftOut {
  adapter: string;
  id: string;
  why: string;
}

export interface NotEvidenced {
  check: string;
  controls: string[];
  why: string;
}

/**
 * What a half said it cannot evidence on its target: an evidence event whose data names the check
 * as `notEvidenced` (adapters/vault/audit-trail.ts), the event's words saying why. Every writer
 * shows these from the result itself, so a merged run, recomputed from its shards' evidence, keeps
 * each shard's gaps.
 */
export function notEvidencedOf(result: ScenarioResult): NotEvidenced[] {
  return result.evidence.flatMap((e) => {
    const check = e.data?.notEvidenced;
    return typeof check === 'string' ? [{ check, controls: checkDefinition(check).controls, why: e.event }] : [];
  });
}

export interface ShardRecord {
  index: number;
  count: number;
  /** The full plan, before sharding: every planned scenario as adapter/id, sorted. */
  planned: string[];
  /** sha256 over the planned list (one id a line): shards of one sharded run share it. */
  plan: string;
}

export interface MergedSource {
  runId: string;
  chainHead: string;
  records: number;
  sealedAt: string;
  /** "i/n" when the source is a shard. */
  shard?: string;
}

export function buildSummary(runId: string, startedAt: string, results: ScenarioResult[], waivers: WaiverReport): Summary {
  const totals: Record<Verdict, number> = { pass: 0, fail: 0, inconclusive: 0, waived: 0 };
  for (const r of results) totals[r.verdict] += 1;
  const sorted = [...results].sort((a, b) => `${a.adapter}/${a.id}`.localeCompare(`${b.adapter}/${b.id}`));
  return {
    runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    totals,
    exitCode: exitCodeFor(results.map((r) => r.verdict)),
    doubtful: false,
    scenarios: sorted.map((r) => ({
      id: r.id,
      adapter: r.adapter,
      grant: r.grant,
      title: r.title,
      ...(r.breakGlass ? { breakGlass: true as const } : {}),
      target: r.target,
      verdict: r.verdict,
      checks: r.checks.map(({ name, verdict, detail, severity, controls, remediation }) => ({
        name,
        verdict,
        detail,
        severity,
        controls,
        ...(verdict !== 'pass' && remediation ? { remediation } : {}),
      })),
      controls: r.controls,
      ...(notEvidencedOf(r).length > 0 ? { notEvidenced: notEvidencedOf(r) } : {}),
      metrics: r.metrics,
      ...(r.waiver ? { waiver: r.waiver } : {}),
      teardown: r.teardown,
      evidence: `evidence/${r.adapter}.${r.id}.json`,
    })),
    waivers,
    gate: { rules: [], gating: [], tolerated: [] },
  };
}
