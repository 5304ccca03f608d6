/**
 * summary.md: the run for a pull-request comment or a CI job summary. An auditor starts from a
 * control and follows it to every check that evidences it — scenario, check, verdict, detail and
 * the raw evidence file — so each control gets its own table, folded in a <details> block that
 * opens by itself when something in it did not pass. An engineer reads the per-scenario table.
 */
import { formatMs } from '../../scenarios/durations.ts';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import type { Summary } from './summary.ts';

/** For a table cell: pipes would split it, newlines end it, angle brackets would be read as HTML. */
export const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** For text inside HTML tags (the <summary> line), where Markdown does not apply. */
const html = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const ICON: Record<string, string> = { pass: '✅ pass', fail: '❌ fail', inconclusive: '⚠️ inconclusive', waived: '🟡 waived' };

type ScenarioRow = Summary['scenarios'][number];
type CheckRow = ScenarioRow['checks'][number];

interface Evidencing {
  scenario: ScenarioRow;
  check: CheckRow;
}

function controlCounts(checks: Evidencing[]): string {
  const count = (v: string): number => checks.filter((x) => x.check.verdict === v).length;
  const parts = [`${count('pass')} pass`];
  if (count('fail') > 0) parts.push(`${count('fail')} fail`);
  if (count('inconclusive') > 0) parts.push(`${count('inconclusive')} inconclusive`);
  return `${checks.length} check${checks.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

function checkVerdict({ scenario, check }: Evidencing): string {
  const icon = ICON[check.verdict] ?? check.verdict;
  // A failed check stays failed under a waiver; the waiver is shown beside it, never instead.
  return check.verdict === 'fail' && scenario.waiver ? `${icon}, waived (\`${scenario.waiver.id}\`)` : icon;
}

/** A check a scenario's target could not evidence at all: shown under its controls, neither pass nor fail. */
interface Gap {
  scenario: ScenarioRow;
  check: string;
  why: string;
}

function controlSection(id: string, checks: Evidencing[], gaps: Gap[]): string[] {
  const control = loadCatalogue().controls.get(id);
  const title = control ? `${id} — ${control.title}` : id;
  const allPass = checks.every((x) => x.check.verdict === 'pass') && gaps.length === 0;
  const counted = gaps.length > 0 ? `${controlCounts(checks)}, ${gaps.length} not evidenced` : controlCounts(checks);
  const lines = [
    `<details${allPass ? '' : ' open'}><summary><b>${html(title)}</b> · ${counted}</summary>`,
    '',
  ];
  if (control) lines.push(`${cell(control.framework)}: ${cell(control.text)} [Source](${control.url})`, '');
  lines.push('| scenario | check | verdict | detail | evidence |', '|---|---|---|---|---|');
  for (const x of checks) {
    lines.push(`| \`${x.scenario.adapter}/${x.scenario.id}\`${x.scenario.breakGlass ? ' (break-glass)' : ''} | ${x.check.name} | ${checkVerdict(x)} | ${cell(x.check.detail)} | \`${x.scenario.evidence}\` |`);
  }
  for (const g of gaps) lines.push(`| \`${g.scenario.adapter}/${g.scenario.id}\` | ${g.check} | ⬜ not evidenced | ${cell(g.why)} | \`${g.scenario.evidence}\` |`);
  lines.push('', '</details>', '');
  return lines;
}

function scenarioTable(scenarios: readonly ScenarioRow[]): string[] {
  const lines = ['| scenario | verdict | revocation latency | TTL | residue | not passed | evidence |', '|---|---|---|---|---|---|---|'];
  for (const s of scenarios) {
    const notPassed = s.checks.filter((c) => c.verdict !== 'pass').map((c) => cell(`${c.name}: ${c.detail}${c.remediation ? ` — to fix: ${c.remediation}` : ''}`));
    lines.push(
      `| \`${s.adapter}/${s.id}\` | ${ICON[s.verdict] ?? s.verdict}${s.waiver ? ` (${s.waiver.id})` : ''} | ${s.metrics.revocationLatencyMs === null ? '–' : formatMs(s.metrics.revocationLatencyMs)} | ${s.metrics.ttlSeconds === null ? 'none' : `${s.metrics.ttlSeconds} s`} | ${s.metrics.residue} | ${notPassed.join('<br>') || '–'} | \`${s.evidence}\` |`,
    );
  }
  return lines;
}

export function renderMarkdown(summary: Summary): string {
  const t = summary.totals;
  const lines = [
    `## jitc run \`${summary.runId}\``,
    '',
    `**${t.pass} pass · ${t.fail} fail · ${t.inconclusive} inconclusive · ${t.waived} waived** — exit ${summary.exitCode} — ${summary.startedAt} → ${summary.finishedAt}`,
    '',
    '### By control',
    '',
    'Each control lists every check that evidences it; the evidence file (in the run directory) holds the timestamped record behind the verdict.',
    '',
  ];
  const gapsOf = (s: ScenarioRow): NonNullable<ScenarioRow['notEvidenced']> => s.notEvidenced ?? [];
  const controls = [...new Set(summary.scenarios.flatMap((s) => [...s.checks, ...gapsOf(s)].flatMap((c) => c.controls)))].sort();
  for (const id of controls) {
    const checks = summary.scenarios.flatMap((scenario) => scenario.checks.filter((c) => c.controls.includes(id)).map((check) => ({ scenario, check })));
    const gaps = summary.scenarios.flatMap((scenario) => gapsOf(scenario).filter((g) => g.controls.includes(id)).map((g) => ({ scenario, check: g.check, why: g.why })));
    lines.push(...controlSection(id, checks, gaps));
  }
  const routine = summary.scenarios.filter((s) => !s.breakGlass);
  const breakGlass = summary.scenarios.filter((s) => s.breakGlass);
  if (routine.length > 0 || breakGlass.length === 0) lines.push('### By scenario', '', ...scenarioTable(routine));
  if (breakGlass.length > 0) {
    lines.push(
      ...(routine.length > 0 ? [''] : []),
      '### Break-glass',
      '',
      "Emergency paths, apart from routine JIT: each grant here is jitc's own test of the path (tagged as a test in `jitc history`, never counted as emergency use), and every event of its evidence carries `\"breakGlass\": true`.",
      '',
      ...scenarioTable(breakGlass),
    );
  }
  if (summary.leftOut && summary.leftOut.length > 0) {
    lines.push('', '### Not run', '', 'Selected, but not run by this run: neither pass nor fail, and no evidence for their controls.', '');
    for (const l of summary.leftOut) lines.push(`- \`${l.adapter}/${l.id}\`: ${cell(l.why)}`);
  }
  if (summary.waivers.applied.length + summary.waivers.expired.length + summary.waivers.unused.length > 0) {
    lines.push('', '### Waivers', '');
    for (const w of summary.waivers.applied) lines.push(`- \`${w.waiver}\` in force for \`${w.scenario}\``);
    for (const w of summary.waivers.expired) lines.push(`- \`${w.waiver}\` **expired** on ${w.expired}: \`${w.scenario}\` stays fail`);
    for (const w of summary.waivers.unused) lines.push(`- \`${w}\` covered nothing in this run`);
  }
  return `${lines.join('\n')}\n`;
}
