/** `jitc history` for the terminal: trends per scenario, per run, flaky scenarios, repeated elevations, break-glass tests. */
import { formatMs } from '../../scenarios/durations.ts';
import { REPEATED_ELEVATION_RUNS, type HistoryTrends, type Percentiles } from './trends.ts';

const LETTER: Record<string, string> = { pass: 'P', fail: 'F', inconclusive: 'I', waived: 'W' };

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const ms = (v: number | null): string => (v === null ? '-' : formatMs(v));
const pair = (p: Percentiles): string => (p.samples === 0 ? '-' : `${ms(p.p50)} / ${ms(p.p95)}`);
const num = (v: number | null): string => (v === null ? '-' : String(Math.round(v * 100) / 100));
const sequence = (verdicts: { verdict: string }[]): string => verdicts.map((v) => LETTER[v.verdict] ?? '?').join('');

export function renderTrends(trends: HistoryTrends, file: string): string {
  if (trends.runsConsidered === 0) return `jitc history: no runs recorded in ${file}\n`;
  const out = [
    `jitc history: ${trends.runsConsidered} of ${trends.totalRuns} runs, ${trends.from} → ${trends.to} (${file})`,
    `all scenarios: revocation latency p50/p95 ${pair(trends.overall.revocationLatencyMs)}, session overrun p50/p95 ${pair(trends.overall.sessionOutlivedTtlMs)}`,
    '',
    'Scenarios (verdicts oldest → newest: P pass, F fail, I inconclusive, W waived)',
    ...table(
      ['scenario', 'target', 'runs', 'verdicts', 'revocation p50/p95', 'overrun p50/p95', 'width p95', 'residue p95', 'not passed (latest)'],
      trends.scenarios.map((s) => [
        `${s.adapter}/${s.scenario}${s.breakGlass ? ' (break-glass test)' : ''}`,
        s.targetKey,
        String(s.verdicts.length),
        sequence(s.verdicts),
        pair(s.revocationLatencyMs),
        pair(s.sessionOutlivedTtlMs),
        num(s.privilegeWidth.p95),
        num(s.residue.p95),
        s.latestNotPassed.join(', '),
      ]),
    ),
    '',
    'Runs (oldest first)',
    ...table(
      ['run', 'started', 'exit', 'pass', 'fail', 'inconcl.', 'waived', 'revocation p50/p95', 'overrun max', 'residue', 'width max', 'waivers in force'],
      trends.runs.map((r) => [
        r.runId,
        r.startedAt,
        String(r.exitCode),
        String(r.totals.pass),
        String(r.totals.fail),
        String(r.totals.inconclusive),
        String(r.totals.waived),
        pair(r.revocationLatencyMs),
        ms(r.sessionOutlivedTtlMs.max),
        String(r.residueTotal),
        num(r.privilegeWidthMax),
        r.waiversInForce.join(', '),
      ]),
    ),
    '',
    'Flaky: verdict changed between runs on the same target',
    ...(trends.flaky.length === 0
      ? ['  none']
      : trends.flaky.map((f) => `  ${f.adapter}/${f.scenario} on ${f.targetKey}: ${sequence(f.verdicts)} (${f.changes} change${f.changes === 1 ? '' : 's'} in ${f.verdicts.length} runs)`)),
    '',
    `Repeated elevations: the same identity elevated in ${REPEATED_ELEVATION_RUNS} or more runs (a workflow that keeps needing privilege may need redesign)`,
    ...(trends.repeatedElevations.length === 0
      ? ['  none']
      : trends.repeatedElevations.map((e) => `  ${e.identity}: elevated in ${e.elevations} of ${e.runsConsidered} runs, ${e.firstAt} → ${e.lastAt}${e.scenarios.length > 1 ? ` (scenarios ${e.scenarios.join(', ')})` : ''}`)),
    ...(trends.breakGlassTests.length === 0
      ? []
      : [
          '',
          "Break-glass: jitc's own tests of emergency paths, never counted as emergency use or as repeated elevations",
          ...trends.breakGlassTests.map((b) => `  ${b.adapter}/${b.scenario} on ${b.targetKey}: tested in ${b.runs} run${b.runs === 1 ? '' : 's'}, ${b.emergencyGrants} with a test grant`),
          '  Repeated emergency use by others: not in jitc\'s results; it comes from the target\'s own audit trail (README, "Break-glass")',
        ]),
  ];
  return `${out.join('\n')}\n`;
}
