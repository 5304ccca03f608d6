/** The engineer's view: a table of scenario × verdict × revocation latency, and one closing line. */
import { formatMs } from '../../scenarios/durations.ts';
import type { Summary } from './summary.ts';

const MARK: Record<string, string> = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE', waived: 'WAIVED' };

export function renderTable(summary: Summary): string {
  const rows = summary.scenarios.map((s) => [
    `${s.adapter}/${s.id}`,
    MARK[s.verdict] ?? s.verdict,
    s.metrics.revocationLatencyMs === null ? '-' : formatMs(s.metrics.revocationLatencyMs),
    s.metrics.ttlSeconds === null ? 'none' : `${s.metrics.ttlSeconds} s`,
    String(s.metrics.residue),
    s.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name} (${c.verdict})`).join(', ') + (s.waiver ? ` [waiver ${s.waiver.id}]` : ''),
  ]);
  const header = ['scenario', 'verdict', 'revocation', 'ttl', 'residue', 'not passed'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function closingLine(summary: Summary): string {
  const t = summary.totals;
  const outcome = summary.exitCode === 0 ? 'CONFORMANT' : summary.exitCode === 1 ? 'NON-CONFORMANT' : summary.doubtful ? 'INCONCLUSIVE (run incomplete)' : 'INCONCLUSIVE';
  return `jitc ${outcome}: ${t.pass} pass, ${t.fail} fail, ${t.inconclusive} inconclusive, ${t.waived} waived (run ${summary.runId}, exit ${summary.exitCode})`;
}
