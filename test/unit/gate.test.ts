/** The gate policy: which failures fail a pipeline, and how a rule is written. */
import { describe, expect, test } from 'vitest';
import { applyGate, describeRule, parseGateRule } from '../../reports/gate.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { CheckVerdict, Verdict } from '../../scenarios/verdict.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';
import { InputError } from '../../scenarios/input.ts';

function result(id: string, verdict: Verdict, failed: string[], inconclusive: string[] = [], grantAdapter = 'vault'): ScenarioResult {
  const check = (name: string, v: CheckVerdict) => {
    const d = checkDefinition(name);
    return { name, title: d.title, verdict: v, detail: '', severity: d.severity, controls: d.controls };
  };
  return {
    id,
    adapter: 'vault',
    grant: { adapter: grantAdapter, source: 'token' },
    verdict,
    checks: [...failed.map((n) => check(n, 'fail')), ...inconclusive.map((n) => check(n, 'inconclusive'))],
  } as unknown as ScenarioResult;
}

describe('gate rules', () => {
  test('a rule combines conditions, and reads back as written', () => {
    const rule = parseGateRule('control=OWASP-NHI-03|NIST-CSF-PR.AC-4, severity>=high, adapter=vault');
    expect(rule).toEqual({ controls: ['OWASP-NHI-03', 'NIST-CSF-PR.AC-4'], minSeverity: 'high', adapters: ['vault'] });
    expect(describeRule(rule)).toBe('control=OWASP-NHI-03|NIST-CSF-PR.AC-4,severity>=high,adapter=vault');
  });

  test.each([
    ['severity>=urgent', /severity "urgent" is not one of/],
    ['severity=high', /severity takes >=/],
    ['control=NOPE-1', /unknown control "NOPE-1"/],
    ['check=made-up', /unknown check "made-up"/],
    ['colour=red', /"colour=red" is not a condition/],
    [' , ', /empty rule/],
  ])('"%s" is refused with a reason', (text, reason) => {
    expect(() => parseGateRule(text)).toThrow(InputError);
    expect(() => parseGateRule(text)).toThrow(reason);
  });
});

describe('applying the gate', () => {
  const standing = result('zsp', 'fail', ['zero-standing-privilege']);
  const width = result('width', 'fail', ['privilege-width']);

  test('without rules every failure gates: exit 1', () => {
    expect(applyGate([standing, width], [])).toEqual({ exitCode: 1, gating: ['vault/zsp:zero-standing-privilege', 'vault/width:privilege-width'], tolerated: [] });
  });

  test('failures the rules do not match are tolerated: exit 0', () => {
    const outcome = applyGate([width], [parseGateRule('severity>=high')]);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.tolerated).toEqual(['vault/width:privilege-width']);
  });

  test('any matching rule gates', () => {
    expect(applyGate([standing, width], [parseGateRule('check=ttl-bounded'), parseGateRule('control=OWASP-NHI-05,severity>=medium')]).exitCode).toBe(1);
  });

  test('adapter= matches either half: the point of use\'s adapter or the grant source\'s', () => {
    const brokered = result('brokered', 'fail', ['reuse-denied'], [], 'ldap');
    expect(applyGate([brokered], [parseGateRule('adapter=ldap')]).gating).toEqual(['vault/brokered:reuse-denied']);
    expect(applyGate([brokered], [parseGateRule('adapter=vault')]).gating).toEqual(['vault/brokered:reuse-denied']);
    expect(applyGate([brokered], [parseGateRule('adapter=aws')]).tolerated).toEqual(['vault/brokered:reuse-denied']);
  });

  test('an inconclusive result gates whatever the rules say: doubt never passes', () => {
    const doubtful = result('doubt', 'inconclusive', [], ['reuse-denied']);
    expect(applyGate([width, doubtful], [parseGateRule('severity>=critical')]).exitCode).toBe(2);
    expect(applyGate([doubtful], []).exitCode).toBe(2);
  });

  test('a waived scenario does not gate', () => {
    expect(applyGate([result('w', 'waived', ['reuse-denied'])], []).exitCode).toBe(0);
  });
});
