/**
 * Trends over recorded runs: what a run records from its summary, which target and identity its
 * results belong to, p50/p95, flaky scenarios (verdict changed between runs on the same target)
 * and repeated elevations (the same identity elevated run after run).
 */
import { describe, expect, test } from 'vitest';
import { identityKey, recordedRun, stablePrincipal, targetKey, type RecordedRun } from '../../reports/history/record.ts';
import { buildSummary } from '../../reports/writers/summary.ts';
import { computeTrends, percentile, percentiles, REPEATED_ELEVATION_RUNS } from '../../reports/history/trends.ts';
import { renderTrends } from '../../reports/history/trends-text.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Verdict } from '../../scenarios/verdict.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';

const grant = (attributes: Record<string, string> = {}): NonNullable<ScenarioResult['issued']> => ({
  credentialId: 'accessor abc',
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T00:00:30.000Z',
  ttlRequestedSeconds: 30,
  ttlGrantedSeconds: 30,
  scopeGranted: ['read secret/data/jitc/x'],
  attributes,
  handles: ['JIT token'],
});

interface Point {
  id?: string;
  verdict?: Verdict;
  latency?: number | null;
  overrun?: number;
  address?: string;
  mode?: 'local' | 'external';
  grant?: ScenarioResult['issued'];
}

/** One run, recorded as `jitc run` records it: from the summary of its results. */
function runOf(runId: string, minute: number, points: Point[]): RecordedRun {
  const startedAt = new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
  const results = points.map((p) => {
    const verdict = p.verdict ?? 'pass';
    return fakeResult({
      id: p.id ?? 'token-revoke-at-task-end',
      runId,
      startedAt,
      target: { mode: p.mode ?? 'local', address: p.address ?? `http://127.0.0.1:${40000 + minute}`, facts: { product: 'OpenBao' } },
      checks: [checkResult('reuse-denied', verdict === 'waived' ? 'fail' : verdict)],
      ...(verdict === 'waived' ? { verdict, waiver: { id: 'w1', justification: 'known gap', acceptedBy: 'sec', expires: '2027-01-01' } } : {}),
      metrics: { ttlSeconds: 30, ttlRequestedSeconds: 30, revocationLatencyMs: p.latency === undefined ? 20 : p.latency, sessionOutlivedTtlMs: p.overrun ?? 0, privilegeWidth: 1, residue: 0, harnessLag: { admissionWaitMs: 0, issueToFirstUseMs: 3, endToFirstReuseMs: 1 } },
      issued: p.grant === undefined ? grant() : p.grant,
    });
  });
  return recordedRun(buildSummary(runId, startedAt, results, { applied: [], expired: [], unused: [] }), results, 'run');
}

describe('percentiles', () => {
  test('are nearest-rank: always a measured value', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([30, 10, 20], 50)).toBe(20);
    expect(percentile([30, 10, 20], 95)).toBe(30);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
  });

  test('leave out results without a value (never denied) and say how many they used', () => {
    expect(percentiles([null, 5, null, 9])).toEqual({ p50: 5, p95: 9, samples: 2 });
  });
});

describe('what a run records', () => {
  test('verdict, every check, metrics, approval window and waiver come from the run summary', () => {
    const run = runOf('r1', 0, [{ verdict: 'waived', latency: null, overrun: 4000 }]);
    const s = run.scenarios[0]!;
    expect(s).toMatchObject({ verdict: 'waived', waiverId: 'w1', waiverExpires: '2027-01-01', revocationLatencyMs: null, sessionOutlivedTtlMs: 4000, windowSeconds: 3, elevated: true, targetKey: 'local OpenBao' });
    expect(s.checks).toEqual([expect.objectContaining({ name: 'reuse-denied', verdict: 'fail' })]);
    expect(run.totals.waived).toBe(1);
  });

  test('a local target is keyed by mode and product, since its port is new every run; an external one by its address', () => {
    expect(targetKey({ mode: 'local', address: 'http://127.0.0.1:41234', facts: { product: 'OpenBao' } }, 'vault')).toBe('local OpenBao');
    expect(targetKey({ mode: 'container', address: 'http://127.0.0.1:5', facts: {} }, 'ldap')).toBe('container ldap');
    expect(targetKey({ mode: 'external', address: 'https://vault.example.internal:8200', facts: { product: 'Vault' } }, 'vault')).toBe('external https://vault.example.internal:8200');
  });

  test('the identity is the stable principal the grant names, else the scenario; names the harness made for the run are not stable', () => {
    expect(stablePrincipal(grant({ role: 'arn:aws:iam::123456789012:role/deployer' }), 'r1')).toBe('arn:aws:iam::123456789012:role/deployer');
    expect(stablePrincipal(grant({ requester: 'uid=jitc-r1-requester,ou=people,dc=example' }), 'r1')).toBeUndefined();
    expect(stablePrincipal(grant({ delivery: 'wrapped' }), 'r1')).toBeUndefined();
    expect(stablePrincipal(null, 'r1')).toBeUndefined();
    expect(identityKey('aws', 'external aws', 'sts-assume-role-expiry', 'arn:aws:iam::123456789012:role/deployer')).toBe('aws external aws principal arn:aws:iam::123456789012:role/deployer');
    expect(identityKey('vault', 'local OpenBao', 'token-revoke-at-task-end', undefined)).toBe('vault local OpenBao scenario token-revoke-at-task-end');
  });
});

describe('trends over runs', () => {
  test('per scenario: the verdict sequence oldest first, and p50/p95 of revocation latency and overrun', () => {
    const runs = [runOf('r1', 1, [{ latency: 10 }]), runOf('r2', 2, [{ latency: 30, overrun: 500 }]), runOf('r3', 3, [{ latency: 20 }])];
    const trends = computeTrends(runs, 5);
    expect(trends).toMatchObject({ runsConsidered: 3, totalRuns: 5, from: runs[0]!.startedAt, to: runs[2]!.startedAt });
    const [s] = trends.scenarios;
    expect(trends.scenarios).toHaveLength(1);
    expect(s!.verdicts.map((v) => v.runId)).toEqual(['r1', 'r2', 'r3']);
    expect(s!.revocationLatencyMs).toEqual({ p50: 20, p95: 30, samples: 3 });
    expect(s!.sessionOutlivedTtlMs).toEqual({ p50: 0, p95: 500, samples: 3 });
    expect(trends.runs.map((r) => r.sessionOutlivedTtlMs.max)).toEqual([0, 500, 0]);
  });

  test('a scenario whose verdict changes between runs on the same target is flaky', () => {
    const trends = computeTrends([runOf('r1', 1, [{}]), runOf('r2', 2, [{ verdict: 'fail' }]), runOf('r3', 3, [{}]), runOf('r4', 4, [{}])]);
    expect(trends.flaky).toHaveLength(1);
    expect(trends.flaky[0]).toMatchObject({ scenario: 'token-revoke-at-task-end', targetKey: 'local OpenBao', changes: 2 });
    expect(trends.flaky[0]!.verdicts.map((v) => v.verdict)).toEqual(['pass', 'fail', 'pass', 'pass']);
    expect(renderTrends(trends, 'h.sqlite')).toContain('vault/token-revoke-at-task-end on local OpenBao: PFPP (2 changes in 4 runs)');
  });

  test('different verdicts on different targets are two steady series, not flakiness', () => {
    const staging = { mode: 'external' as const, address: 'https://staging:8200' };
    const prod = { mode: 'external' as const, address: 'https://prod:8200' };
    const trends = computeTrends([runOf('r1', 1, [{ ...staging, verdict: 'fail' }]), runOf('r2', 2, [{ ...prod }]), runOf('r3', 3, [{ ...staging, verdict: 'fail' }]), runOf('r4', 4, [{ ...prod }])]);
    expect(trends.scenarios.map((s) => `${s.targetKey} ${s.verdicts.map((v) => v.verdict).join(',')}`)).toEqual(['external https://prod:8200 pass,pass', 'external https://staging:8200 fail,fail']);
    expect(trends.flaky).toEqual([]);
  });

  test(`the same identity elevated in ${REPEATED_ELEVATION_RUNS} or more runs is a repeated elevation; a scenario refused before the grant elevated nobody`, () => {
    const deployer = grant({ role: 'arn:aws:iam::123456789012:role/deployer' });
    const runs = [
      runOf('r1', 1, [{ id: 'a', grant: deployer }, { id: 'once' }, { id: 'refused', grant: null }]),
      runOf('r2', 2, [{ id: 'b', grant: deployer }, { id: 'refused', grant: null }]),
      runOf('r3', 3, [{ id: 'a', grant: deployer }, { id: 'refused', grant: null }]),
    ];
    const repeated = computeTrends(runs).repeatedElevations;
    expect(repeated).toHaveLength(1);
    expect(repeated[0]).toMatchObject({
      identity: 'vault local OpenBao principal arn:aws:iam::123456789012:role/deployer',
      elevations: 3,
      runsConsidered: 3,
      scenarios: ['a', 'b'],
      firstAt: runs[0]!.startedAt,
      lastAt: runs[2]!.startedAt,
    });
    expect(computeTrends(runs.slice(0, 2)).repeatedElevations).toEqual([]);
  });

  test('an empty history renders as one line', () => {
    expect(renderTrends(computeTrends([]), 'h.sqlite')).toBe('jitc history: no runs recorded in h.sqlite\n');
  });
});

describe('break-glass in the history', () => {
  /** A run whose results are jitc's own break-glass tests, recorded as `jitc run` records them. */
  function breakGlassRun(runId: string, minute: number): RecordedRun {
    const startedAt = new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
    const results = [fakeResult({ id: 'break-glass-token', runId, startedAt, breakGlass: true, checks: [checkResult('break-glass-isolated', 'pass')], issued: grant({ role: 'emergency' }) })];
    return recordedRun(buildSummary(runId, startedAt, results, { applied: [], expired: [], unused: [] }), results, 'run');
  }

  test("jitc's own break-glass runs are recorded as tests and never counted as repeated elevations", () => {
    const runs = [breakGlassRun('r1', 1), breakGlassRun('r2', 2), breakGlassRun('r3', 3)];
    expect(runs[0]!.scenarios[0]!.breakGlass).toBe(true);
    const trends = computeTrends(runs);
    expect(trends.repeatedElevations).toEqual([]);
    expect(trends.breakGlassTests).toEqual([{ adapter: 'vault', scenario: 'break-glass-token', targetKey: 'local vault', runs: 3, emergencyGrants: 3 }]);
    const text = renderTrends(trends, 'h.sqlite');
    expect(text).toContain('vault/break-glass-token (break-glass test)');
    expect(text).toContain('never counted as emergency use');
  });

  test('routine results are not break-glass tests', () => {
    const trends = computeTrends([runOf('r1', 1, [{}])]);
    expect(trends.scenarios[0]!.breakGlass).toBe(false);
    expect(trends.breakGlassTests).toEqual([]);
    expect(renderTrends(trends, 'h.sqlite')).not.toContain('Break-glass');
  });
});
