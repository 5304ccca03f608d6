/**
 * --metrics FILE: the run as OpenMetrics text for Prometheus (node-exporter's textfile collector
 * picks up a *.prom file). Written to a temporary file and renamed, so a scrape never reads half.
 * An existing file is replaced only when it is jitc's own output (see isJitcOpenMetrics): a
 * metrics file of another exporter in the same textfile directory is never overwritten.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Summary } from './summary.ts';

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderOpenMetrics(summary: Summary): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${help}`);
  };
  family('jitc_run_timestamp_seconds', 'gauge', 'When the run finished.');
  lines.push(`jitc_run_timestamp_seconds ${Date.parse(summary.finishedAt) / 1000}`);
  family('jitc_run_scenarios', 'gauge', 'Scenarios of the run by verdict.');
  for (const [verdict, n] of Object.entries(summary.totals)) lines.push(`jitc_run_scenarios{verdict="${verdict}"} ${n}`);
  family('jitc_scenario_verdict', 'gauge', 'One per scenario and verdict; 1 for the verdict it got.');
  family('jitc_revocation_latency_seconds', 'gauge', 'From the end of the grant to the first recognised denial.');
  family('jitc_session_outlived_ttl_seconds', 'gauge', 'How long past its end the credential was still seen working.');
  family('jitc_residue_items', 'gauge', 'Entitlements left on the target after the scenario.');
  family('jitc_privilege_width_ratio', 'gauge', 'Granted scope over needed scope.');
  for (const s of summary.scenarios) {
    const base = `adapter="${label(s.adapter)}",scenario="${label(s.id)}",target="${label(s.target.mode)}"`;
    for (const verdict of ['pass', 'fail', 'inconclusive', 'waived']) lines.push(`jitc_scenario_verdict{${base},verdict="${verdict}"} ${s.verdict === verdict ? 1 : 0}`);
    if (s.metrics.revocationLatencyMs !== null) lines.push(`jitc_revocation_latency_seconds{${base}} ${s.metrics.revocationLatencyMs / 1000}`);
    lines.push(`jitc_session_outlived_ttl_seconds{${base}} ${s.metrics.sessionOutlivedTtlMs / 1000}`);
    lines.push(`jitc_residue_items{${base}} ${s.metrics.residue}`);
    if (s.metrics.privilegeWidth !== null) lines.push(`jitc_privilege_width_ratio{${base}} ${s.metrics.privilegeWidth}`);
  }
  // Families must be contiguous: regroup the samples under their TYPE/HELP lines.
  return `${regroup(lines).join('\n')}\n# EOF\n`;
}

function regroup(lines: string[]): string[] {
  const order: string[] = [];
  const byFamily = new Map<string, string[]>();
  for (const line of lines) {
    const name = line.startsWith('#') ? line.split(' ')[2]! : line.split(/[{ ]/)[0]!;
    if (!byFamily.has(name)) {
      byFamily.set(name, []);
      order.push(name);
    }
    byFamily.get(name)!.push(line);
  }
  return order.flatMap((name) => byFamily.get(name)!);
}

/** The first family jitc writes: a file that starts with it and ends with `# EOF` is jitc's own. */
const FIRST_LINE = '# TYPE jitc_run_timestamp_seconds gauge\n';

/** Whether `text` is what renderOpenMetrics writes (its first line, only jitc_ families, `# EOF` last). */
export function isJitcOpenMetrics(text: string): boolean {
  if (!text.startsWith(FIRST_LINE) || !text.endsWith('\n# EOF\n')) return false;
  return text
    .slice(0, -'# EOF\n'.length)
    .split('\n')
    .filter(Boolean)
    .every((line) => /^(# (TYPE|HELP) jitc_\w+ |jitc_\w+[{ ])/.test(line));
}

export function writeOpenMetrics(file: string, summary: Summary): void {
  // Exclusive create: a temporary name that happens to exist is never written through.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, renderOpenMetrics(summary));
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
