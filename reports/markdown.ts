/**
 * summary.md: the run for a pull-request comment or a CI job summary — per control (which checks
 * evidence it and how they came out) and per scenario, short enough to read in a pipeline page.
 */
import { formatMs } from '../scenarios/durations.ts';
import { loadCatalogue } from './catalogue.ts';
import type { Summary } from './summary.ts';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const ICON: Record<string, string> = { pass: '✅ pass', fail: '❌ fail', inconclusive: '⚠️ inconclusive', waived: '🟡 waived' };

export function renderMarkdown(summary: Summary): string {
  const catalogue = loadCatalogue();
  const t = summary.totals;
  const lines = [
    `## jitc run \`${summary.runId}\``,
    '',
    `**${t.pass} pass · ${t.fail} fail · ${t.inconclusive} inconclusive · ${t.waived} waived** — exit ${summary.exitCode} — ${summary.startedAt} → ${summary.finishedAt}`,
    '',
    '### By control',
    '',
    '| control | checks | pass | fail | inconclusive | evidence |',
    '|---|---|---|---|---|---|',
  ];
  const controls = [...new Set(summary.scenarios.flatMap((s) => s.controls))].sort();
  for (const id of controls) {
    const control = catalogue.controls.get(id);
    const checks = summary.scenarios.flatMap((s) => s.checks.filter((c) => c.controls.includes(id)).map((c) => ({ s, c })));
    const count = (v: string): number => checks.filter((x) => x.c.verdict === v).length;
    const failing = checks.filter((x) => x.c.verdict !== 'pass').map((x) => `\`${x.s.adapter}/${x.s.id}\` ${x.c.name}`);
    lines.push(
      `| [${id}](${control?.url ?? ''}) ${cell(control?.title ?? '')} | ${checks.length} | ${count('pass')} | ${count('fail')} | ${count('inconclusive')} | ${failing.length > 0 ? failing.join('<br>') : 'all checks pass'} |`,
    );
  }
  lines.push('', '### By scenario', '', '| scenario | verdict | revocation latency | TTL | residue | not passed |', '|---|---|---|---|---|---|');
  for (const s of summary.scenarios) {
    const notPassed = s.checks.filter((c) => c.verdict !== 'pass').map((c) => cell(`${c.name}: ${c.detail}`));
    lines.push(
      `| \`${s.adapter}/${s.id}\` | ${ICON[s.verdict] ?? s.verdict}${s.waiver ? ` (${s.waiver.id})` : ''} | ${s.metrics.revocationLatencyMs === null ? '–' : formatMs(s.metrics.revocationLatencyMs)} | ${s.metrics.ttlSeconds === null ? 'none' : `${s.metrics.ttlSeconds} s`} | ${s.metrics.residue} | ${notPassed.join('<br>') || '–'} |`,
    );
  }
  if (summary.waivers.applied.length + summary.waivers.expired.length + summary.waivers.unused.length > 0) {
    lines.push('', '### Waivers', '');
    for (const w of summary.waivers.applied) lines.push(`- \`${w.waiver}\` in force for \`${w.scenario}\``);
    for (const w of summary.waivers.expired) lines.push(`- \`${w.waiver}\` **expired** on ${w.expired}: \`${w.scenario}\` stays fail`);
    for (const w of summary.waivers.unused) lines.push(`- \`${w}\` covered nothing in this run`);
  }
  return `${lines.join('\n')}\n`;
}
