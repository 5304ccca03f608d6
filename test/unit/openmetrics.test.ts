/** The --metrics file: OpenMetrics text a Prometheus textfile collector can read. */
import { expect, test } from 'vitest';
import { renderOpenMetrics } from '../../reports/writers/openmetrics.ts';
import type { Summary } from '../../reports/writers/summary.ts';

const summary = {
  runId: 'r1',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:10.000Z',
  totals: { pass: 1, fail: 1, inconclusive: 0, waived: 0 },
  exitCode: 1,
  doubtful: false,
  scenarios: [
    { id: 'a', adapter: 'vault', target: { mode: 'local', address: 'x', facts: {} }, verdict: 'pass', metrics: { ttlSeconds: 3, ttlRequestedSeconds: 3, revocationLatencyMs: 120, sessionOutlivedTtlMs: 0, privilegeWidth: 1, residue: 0 } },
    { id: 'b"q', adapter: 'vault', target: { mode: 'local', address: 'x', facts: {} }, verdict: 'fail', metrics: { ttlSeconds: null, ttlRequestedSeconds: null, revocationLatencyMs: null, sessionOutlivedTtlMs: 5000, privilegeWidth: null, residue: 2 } },
  ],
} as unknown as Summary;

test('every sample belongs to a family declared once, contiguously, and the text ends with # EOF', () => {
  const text = renderOpenMetrics(summary);
  expect(text.endsWith('# EOF\n')).toBe(true);
  const lines = text.trim().split('\n').slice(0, -1);
  const seen: string[] = [];
  let current = '';
  for (const line of lines) {
    if (line.startsWith('# TYPE ')) {
      current = line.split(' ')[2]!;
      expect(seen).not.toContain(current);
      seen.push(current);
    } else if (!line.startsWith('# HELP ')) {
      expect(line.split(/[{ ]/)[0]).toBe(current);
      expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? -?[\d.e+-]+$/);
    }
  }
});

test('verdicts are one-hot per scenario, latencies in seconds, unknown figures left out, labels escaped', () => {
  const text = renderOpenMetrics(summary);
  expect(text).toContain('jitc_scenario_verdict{adapter="vault",scenario="a",target="local",verdict="pass"} 1');
  expect(text).toContain('jitc_scenario_verdict{adapter="vault",scenario="a",target="local",verdict="fail"} 0');
  expect(text).toContain('jitc_revocation_latency_seconds{adapter="vault",scenario="a",target="local"} 0.12');
  expect(text).not.toContain('jitc_revocation_latency_seconds{adapter="vault",scenario="b');
  expect(text).toContain('jitc_session_outlived_ttl_seconds{adapter="vault",scenario="b\\"q",target="local"} 5');
  expect(text).toContain('jitc_residue_items{adapter="vault",scenario="b\\"q",target="local"} 2');
});
