/** The verdict rules every target is judged by, and how a run's verdicts become its exit code. */
import { describe, expect, test } from 'vitest';
import type { ProbeOutcome, ProbeResult } from '../../adapters/contract.ts';
import { buildSummary } from '../../reports/writers/summary.ts';
import { closingLine, renderTable } from '../../reports/writers/terminal.ts';
import {
  anyPathAllowed,
  type Verdict,
  exitCodeFor,
  verdictWhenDenialExpected,
  verdictWhenUseExpected,
  worstOf,
} from '../../scenarios/verdict.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';

const WORST_FIRST: Verdict[] = ['fail', 'inconclusive', 'waived', 'pass'];

describe('a scenario is the worst of its checks', () => {
  test('fail beats inconclusive, inconclusive beats waived, waived beats pass', () => {
    expect(worstOf(['pass', 'fail'])).toBe('fail');
    expect(worstOf(['inconclusive', 'fail', 'pass'])).toBe('fail');
    expect(worstOf(['pass', 'inconclusive'])).toBe('inconclusive');
    expect(worstOf(['waived', 'inconclusive'])).toBe('inconclusive');
    expect(worstOf(['pass', 'waived'])).toBe('waived');
    expect(worstOf(['pass', 'pass'])).toBe('pass');
  });

  test('the order of the checks does not matter', () => {
    for (const [i, a] of WORST_FIRST.entries()) {
      for (const [j, b] of WORST_FIRST.entries()) {
        const expected = WORST_FIRST[Math.min(i, j)];
        expect(worstOf([a, b]), `${a} vs ${b}`).toBe(expected);
        expect(worstOf([b, a]), `${b} vs ${a}`).toBe(expected);
      }
    }
  });

  test('one fail among many passes is a fail', () => {
    expect(worstOf([...Array<Verdict>(20).fill('pass'), 'fail', ...Array<Verdict>(20).fill('pass')])).toBe('fail');
  });
});

describe('a probe is tri-state and unknown never counts as denied', () => {
  const cases: [ProbeOutcome, string][] = [
    ['denied', 'pass'],
    ['allowed', 'fail'],
    ['unknown', 'inconclusive'],
  ];
  test.each(cases)('a probe that must be denied and answers %s is %s', (outcome, verdict) => {
    expect(verdictWhenDenialExpected(outcome)).toBe(verdict);
  });

  test('an unknown probe never passes, whatever is expected of it', () => {
    expect(verdictWhenDenialExpected('unknown')).not.toBe('pass');
    expect(verdictWhenUseExpected('unknown')).not.toBe('pass');
  });

  test('the use probe must be allowed, else nothing was tested and the check is inconclusive', () => {
    expect(verdictWhenUseExpected('allowed')).toBe('pass');
    expect(verdictWhenUseExpected('denied')).toBe('inconclusive');
    expect(verdictWhenUseExpected('unknown')).toBe('inconclusive');
  });
});

describe('the exit code follows the worst scenario', () => {
  test('all pass is exit 0', () => {
    expect(exitCodeFor(['pass', 'pass'])).toBe(0);
  });

  test('a waived scenario does not break the build: exit 0', () => {
    expect(exitCodeFor(['pass', 'waived'])).toBe(0);
  });

  test('any fail is exit 1, even next to inconclusive', () => {
    expect(exitCodeFor(['pass', 'fail'])).toBe(1);
    expect(exitCodeFor(['inconclusive', 'fail', 'waived'])).toBe(1);
  });

  test('inconclusive without a fail is exit 2', () => {
    expect(exitCodeFor(['pass', 'inconclusive', 'waived'])).toBe(2);
  });

  test('summary.json counts every verdict and carries the exit code', () => {
    const results = [
      fakeResult({ id: 'a', checks: [checkResult('reuse-denied', 'pass')] }),
      fakeResult({ id: 'b', checks: [checkResult('reuse-denied', 'fail')] }),
      fakeResult({ id: 'c', checks: [checkResult('lifecycle-completed', 'inconclusive')] }),
      fakeResult({ id: 'd', checks: [checkResult('no-residue', 'fail')], verdict: 'waived' }),
    ];
    const summary = buildSummary('r1', '2026-01-01T00:00:00.000Z', results, { applied: [], expired: [], unused: [] });
    expect(summary.totals).toEqual({ pass: 1, fail: 1, inconclusive: 1, waived: 1 });
    expect(summary.exitCode).toBe(1);
    expect(summary.scenarios.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(summary.scenarios[1]?.checks[0]).toMatchObject({ name: 'reuse-denied', verdict: 'fail' });
    expect(summary.scenarios[0]?.evidence).toBe('evidence/vault.a.json');
    expect(closingLine(summary)).toMatch(/^jitc NON-CONFORMANT: 1 pass, 1 fail, 1 inconclusive, 1 waived \(run r1, exit 1\)$/);
  });

  test('the terminal table names every check that did not pass', () => {
    const summary = buildSummary(
      'r1',
      '2026-01-01T00:00:00.000Z',
      [fakeResult({ checks: [checkResult('ttl-bounded', 'fail'), checkResult('reuse-denied', 'pass'), checkResult('audit-trail', 'inconclusive')] })],
      { applied: [], expired: [], unused: [] },
    );
    const table = renderTable(summary);
    expect(table).toContain('vault/token-ttl-expiry');
    expect(table).toContain('FAIL');
    expect(table).toContain('ttl-bounded (fail), audit-trail (inconclusive)');
    expect(table).not.toContain('reuse-denied');
  });
});

describe('standing privilege over several paths (the requester itself, self-service through the grant path)', () => {
  const at = new Date().toISOString();
  const r = (outcome: ProbeResult['outcome']): ProbeResult => ({ outcome, at, detail: outcome });

  test('allowed if either path is allowed', () => {
    expect(anyPathAllowed([r('denied'), r('allowed')]).outcome).toBe('allowed');
    expect(anyPathAllowed([r('unknown'), r('allowed')]).outcome).toBe('allowed');
  });

  test('denied only if every path is denied; doubt on one path is doubt', () => {
    expect(anyPathAllowed([r('denied'), r('denied')]).outcome).toBe('denied');
    expect(anyPathAllowed([r('denied'), r('unknown')]).outcome).toBe('unknown');
  });

  test('the detail names what decided it: every denial, or only the paths that allowed', () => {
    expect(anyPathAllowed([{ ...r('denied'), detail: 'own key: 403' }, { ...r('allowed'), detail: 'assumed the role' }]).detail).toBe('assumed the role');
    expect(anyPathAllowed([{ ...r('denied'), detail: 'a' }, { ...r('denied'), detail: 'b' }]).detail).toBe('a; b');
  });
});
