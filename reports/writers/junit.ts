/**
 * junit.xml for CI: one testsuite per adapter, one testcase per scenario. fail is a <failure>,
 * inconclusive an <error> (the run could not decide), waived a <skipped> carrying its waiver;
 * the checks, controls and metrics go in properties and system-out for whoever reads the log.
 * A check the target cannot evidence is a `notEvidenced` property and a system-out line: a gap
 * to read, never a failure or a skip that would change what CI counts.
 */
import type { ScenarioResult } from '../../scenarios/result.ts';
import { notEvidencedOf } from './summary.ts';

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 forbids most control characters, even escaped.
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '');
}

function seconds(r: ScenarioResult): string {
  return ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(3);
}

function testcase(r: ScenarioResult): string {
  const failed = r.checks.filter((c) => c.verdict !== 'pass');
  const message = failed.map((c) => `${c.name}: ${c.detail}`).join('; ');
  const gaps = notEvidencedOf(r);
  const props = [
    ['verdict', r.verdict],
    ['controls', r.controls.join(' ')],
    ['severity', r.severity],
    ['target', `${r.target.mode} ${r.target.address}`],
    ['ttlSeconds', String(r.metrics.ttlSeconds)],
    ['revocationLatencyMs', String(r.metrics.revocationLatencyMs)],
    ['sessionOutlivedTtlMs', String(r.metrics.sessionOutlivedTtlMs)],
    ['privilegeWidth', String(r.metrics.privilegeWidth)],
    ['residue', String(r.metrics.residue)],
    ...gaps.map((g) => ['notEvidenced', `${g.check} (${g.controls.join(' ')}): ${g.why}`]),
  ];
  const lines = [
    `    <testcase classname="jitc.${xml(r.adapter)}" name="${xml(r.id)}" time="${seconds(r)}">`,
    '      <properties>',
    ...props.map(([k, v]) => `        <property name="${xml(k!)}" value="${xml(v!)}"/>`),
    '      </properties>',
  ];
  if (r.verdict === 'fail') lines.push(`      <failure type="non-conformant" message="${xml(message)}"/>`);
  if (r.verdict === 'inconclusive') lines.push(`      <error type="inconclusive" message="${xml(message)}"/>`);
  if (r.verdict === 'waived' && r.waiver) {
    lines.push(
      `      <skipped message="${xml(`waived by ${r.waiver.id} (accepted by ${r.waiver.acceptedBy}, until ${r.waiver.expires}): ${r.waiver.justification}; failed: ${message}`)}"/>`,
    );
  }
  const out = [...r.checks.map((c) => `${c.verdict.padEnd(12)} ${c.name}: ${c.detail}`), ...gaps.map((g) => `${'not evidenced'.padEnd(12)} ${g.check}: ${g.why}`)];
  lines.push(`      <system-out>${xml(out.join('\n'))}</system-out>`);
  lines.push('    </testcase>');
  return lines.join('\n');
}

export function renderJunit(results: ScenarioResult[], runId: string): string {
  const byAdapter = new Map<string, ScenarioResult[]>();
  for (const r of [...results].sort((a, b) => a.id.localeCompare(b.id))) byAdapter.set(r.adapter, [...(byAdapter.get(r.adapter) ?? []), r]);
  const count = (rs: ScenarioResult[], v: string): number => rs.filter((r) => r.verdict === v).length;
  const suites = [...byAdapter.entries()].map(([adapter, rs]) => {
    const time = rs.reduce((t, r) => t + Number(seconds(r)), 0).toFixed(3);
    return [
      `  <testsuite name="jitc ${xml(adapter)}" tests="${rs.length}" failures="${count(rs, 'fail')}" errors="${count(rs, 'inconclusive')}" skipped="${count(rs, 'waived')}" time="${time}">`,
      ...rs.map(testcase),
      '  </testsuite>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="jitc run ${xml(runId)}" tests="${results.length}" failures="${count(results, 'fail')}" errors="${count(results, 'inconclusive')}" skipped="${count(results, 'waived')}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
