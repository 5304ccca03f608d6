/**
 * Waivers: an explicit, visible acceptance of a known gap. Only a valid waiver covering every
 * failed check of the scenario turns fail into waived; expired and unused waivers are reported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { applyWaiver, applyWaivers, isExpired, loadWaivers, type Waiver } from '../../reports/waivers.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';
import { InputError } from '../../scenarios/input.ts';

const NOW = new Date('2026-06-15T12:00:00.000Z');

function waiver(overrides: Partial<Waiver> = {}): Waiver {
  return {
    id: 'W-1',
    adapter: 'vault',
    scenario: 'token-ttl-expiry',
    target: 'any',
    justification: 'the dev server reaps expired tokens late; tracked in SEC-42',
    acceptedBy: 'security-lead',
    expires: '2026-12-31',
    ...overrides,
  };
}

/** A scenario that failed no-residue and passed everything else. */
function failedResidue(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return fakeResult({
    checks: [checkResult('reuse-denied', 'pass'), checkResult('no-residue', 'fail', 'manual cleanup needed: token abc')],
    ...overrides,
  });
}

describe('applying a waiver to one scenario', () => {
  test('a valid waiver covering every failed check turns fail into waived, and the failed check stays visible', () => {
    const result = failedResidue();
    const outcome = applyWaiver(result, [waiver({ checks: ['no-residue'] })], NOW);

    expect(outcome.applied?.id).toBe('W-1');
    expect(result.verdict).toBe('waived');
    expect(result.waiver).toEqual({
      id: 'W-1',
      justification: 'the dev server reaps expired tokens late; tracked in SEC-42',
      acceptedBy: 'security-lead',
      expires: '2026-12-31',
    });
    expect(result.checks.find((c) => c.name === 'no-residue')?.verdict).toBe('fail');
  });

  test('a waiver that names no checks covers any failed check of its scenario', () => {
    const result = failedResidue();
    expect(applyWaiver(result, [waiver()], NOW).applied?.id).toBe('W-1');
    expect(result.verdict).toBe('waived');
  });

  test('a waiver covering only some of the failed checks does not apply', () => {
    const result = fakeResult({ checks: [checkResult('no-residue', 'fail'), checkResult('reuse-denied', 'fail')] });
    const outcome = applyWaiver(result, [waiver({ checks: ['no-residue'] })], NOW);
    expect(outcome).toEqual({});
    expect(result.verdict).toBe('fail');
    expect(result.waiver).toBeUndefined();
  });

  test('a waiver for another scenario or another adapter does not apply', () => {
    for (const other of [waiver({ scenario: 'child-token-cascade' }), waiver({ adapter: 'ldap' })]) {
      const result = failedResidue();
      applyWaiver(result, [other], NOW);
      expect(result.verdict).toBe('fail');
    }
  });

  test('a waiver may name either half: the adapter the grant came from covers the scenario too', () => {
    const result = failedResidue();
    result.grant = { adapter: 'ldap', source: 'group-membership' };
    expect(applyWaiver(result, [waiver({ adapter: 'ldap' })], NOW).applied?.id).toBe('W-1');
    expect(result.verdict).toBe('waived');
  });

  test('the target mode must match: a waiver for external targets does not cover a local run', () => {
    const local = failedResidue();
    applyWaiver(local, [waiver({ target: 'external' })], NOW);
    expect(local.verdict).toBe('fail');

    const external = failedResidue({ target: { mode: 'external', address: 'https://vault.example', facts: {} } });
    applyWaiver(external, [waiver({ target: 'external' })], NOW);
    expect(external.verdict).toBe('waived');
  });

  test('a waiver for any target covers every mode', () => {
    for (const mode of ['local', 'container', 'external'] as const) {
      const result = failedResidue({ target: { mode, address: 'x', facts: {} } });
      applyWaiver(result, [waiver({ target: 'any' })], NOW);
      expect(result.verdict, mode).toBe('waived');
    }
  });

  test('a waiver never turns inconclusive into waived', () => {
    const result = fakeResult({ checks: [checkResult('lifecycle-completed', 'inconclusive')] });
    expect(applyWaiver(result, [waiver({ checks: ['lifecycle-completed'] }), waiver({ id: 'W-2' })], NOW)).toEqual({});
    expect(result.verdict).toBe('inconclusive');
    expect(result.waiver).toBeUndefined();
  });

  // BUG: applyWaiver sets `result.verdict = 'waived'` outright. A scenario that failed one check
  // and could not decide another is `fail` (the worst); waiving the fail must leave it
  // `inconclusive`, but it becomes `waived` and the run exits 0 on a check nobody decided.
  test('a waiver never hides an inconclusive check next to the failed one it covers', () => {
    const result = fakeResult({
      checks: [checkResult('no-residue', 'fail'), checkResult('reuse-denied', 'inconclusive')],
    });
    expect(result.verdict).toBe('fail');
    applyWaiver(result, [waiver({ checks: ['no-residue'] })], NOW);
    expect(result.verdict).toBe('inconclusive');
  });

  test('a passing scenario is left as it is', () => {
    const result = fakeResult({ checks: [checkResult('reuse-denied', 'pass')] });
    expect(applyWaiver(result, [waiver()], NOW)).toEqual({});
    expect(result.verdict).toBe('pass');
  });

  test('an expired waiver is reported and the scenario stays fail', () => {
    const result = failedResidue();
    const outcome = applyWaiver(result, [waiver({ expires: '2026-06-14' })], NOW);
    expect(outcome.expired?.id).toBe('W-1');
    expect(outcome.applied).toBeUndefined();
    expect(result.verdict).toBe('fail');
    expect(result.waiver).toBeUndefined();
  });

  test('a valid waiver wins over an expired one for the same scenario', () => {
    const result = failedResidue();
    const outcome = applyWaiver(result, [waiver({ id: 'OLD', expires: '2025-01-01' }), waiver({ id: 'NEW' })], NOW);
    expect(outcome).toEqual({ applied: expect.objectContaining({ id: 'NEW' }) });
    expect(result.waiver?.id).toBe('NEW');
  });
});

describe('expiry', () => {
  test('a waiver is in force through the whole of its expiry day, UTC', () => {
    const w = waiver({ expires: '2026-06-15' });
    expect(isExpired(w, new Date('2026-06-15T00:00:00.000Z'))).toBe(false);
    expect(isExpired(w, new Date('2026-06-15T23:59:59.999Z'))).toBe(false);
    expect(isExpired(w, new Date('2026-06-16T00:00:00.000Z'))).toBe(true);
  });
});

describe('applying waivers over a run', () => {
  test('reports which waivers applied, which had expired and which covered nothing', () => {
    const results = [
      failedResidue({ id: 'token-ttl-expiry' }),
      failedResidue({ id: 'child-token-cascade' }),
      fakeResult({ id: 'renewal-capped' }),
    ];
    const waivers = [
      waiver({ id: 'APPLIES' }),
      waiver({ id: 'EXPIRED', scenario: 'child-token-cascade', expires: '2026-01-31' }),
      waiver({ id: 'STALE', scenario: 'renewal-capped' }),
      waiver({ id: 'OTHER-SUITE', adapter: 'aws', scenario: 'assume-role-expiry' }),
    ];
    const report = applyWaivers(results, waivers, NOW);

    expect(report.applied).toEqual([{ waiver: 'APPLIES', scenario: 'vault/token-ttl-expiry' }]);
    expect(report.expired).toEqual([{ waiver: 'EXPIRED', scenario: 'vault/child-token-cascade', expired: '2026-01-31' }]);
    expect(report.unused).toEqual(['STALE']);
    expect(results.map((r) => r.verdict)).toEqual(['waived', 'fail', 'pass']);
  });

  test('unused waivers are reported only for the adapters this run covered', () => {
    const report = applyWaivers([fakeResult()], [waiver({ id: 'VAULT-STALE', scenario: 'gone' }), waiver({ id: 'LDAP', adapter: 'ldap' })], NOW);
    expect(report.unused).toEqual(['VAULT-STALE']);
  });

  test('a waiver a worker already applied is counted as applied, not applied twice', () => {
    const result = failedResidue();
    applyWaiver(result, [waiver()], NOW);
    const report = applyWaivers([result], [waiver()], NOW);
    expect(report).toEqual({ applied: [{ waiver: 'W-1', scenario: 'vault/token-ttl-expiry' }], expired: [], unused: [] });
    expect(result.verdict).toBe('waived');
  });

  test('no waivers, no report', () => {
    expect(applyWaivers([failedResidue()], [], NOW)).toEqual({ applied: [], expired: [], unused: [] });
  });
});

describe('waiver files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-unit-waivers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const file = (text: string): string => {
    const path = join(dir, `waivers-${++n}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  const entry = (extra = '', drop: string[] = []): string => {
    const fields: Record<string, string> = {
      id: 'W-1',
      adapter: 'vault',
      scenario: 'token-ttl-expiry',
      justification: '"the dev server reaps expired tokens late"',
      acceptedBy: 'security-lead',
      expires: '2026-12-31',
    };
    for (const key of drop) delete fields[key];
    const lines = Object.entries(fields).map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v}`);
    return `${lines.join('\n')}\n${extra}`;
  };

  function refusal(path: string): string {
    let caught: unknown;
    try {
      loadWaivers(path);
    } catch (error) {
      caught = error;
    }
    expect(caught, `${path} must be refused`).toBeInstanceOf(InputError);
    const message = (caught as InputError).message;
    expect(message.startsWith(`${path}: `), message).toBe(true);
    return message;
  }

  test('a waiver file loads, an unquoted date included, and the target defaults to any', () => {
    const waivers = loadWaivers(file(`waivers:\n${entry('    checks: [no-residue]\n')}`));
    expect(waivers).toEqual([
      {
        id: 'W-1',
        adapter: 'vault',
        scenario: 'token-ttl-expiry',
        checks: ['no-residue'],
        target: 'any',
        justification: 'the dev server reaps expired tokens late',
        acceptedBy: 'security-lead',
        expires: '2026-12-31',
      },
    ]);
  });

  test('a waiver without a justification names the file and the field', () => {
    expect(refusal(file(`waivers:\n${entry('', ['justification'])}`))).toMatch(/: waivers\.0\.justification: /);
  });

  test('a justification too short to say why is refused', () => {
    expect(refusal(file(`waivers:\n${entry().replace('"the dev server reaps expired tokens late"', 'ok')}`))).toContain(
      'waivers.0.justification: say why the gap is accepted',
    );
  });

  test('an expiry that is not YYYY-MM-DD names the field', () => {
    expect(refusal(file(`waivers:\n${entry().replace('2026-12-31', '31/12/2026')}`))).toContain('waivers.0.expires: expected a date as YYYY-MM-DD');
  });

  test('an unknown target mode names the field', () => {
    expect(refusal(file(`waivers:\n${entry('    target: staging\n')}`))).toMatch(/: waivers\.0\.target: /);
  });

  test('an unknown key in a waiver is refused, not ignored', () => {
    expect(refusal(file(`waivers:\n${entry('    approvedBy: someone\n')}`))).toMatch(/: waivers\.0\.approvedBy: unknown key "approvedBy"/);
  });

  test('a waiver id used twice is refused', () => {
    expect(refusal(file(`waivers:\n${entry()}${entry()}`))).toContain('waivers.1.id: "W-1" is used twice');
  });

  test('an empty list of checks is refused: omit it to cover every failed check', () => {
    expect(refusal(file(`waivers:\n${entry('    checks: []\n')}`))).toMatch(/: waivers\.0\.checks: /);
  });

  test('a file without a waivers list is refused', () => {
    expect(refusal(file('exceptions: []\n'))).toMatch(/: waivers: /);
  });

  test('a missing waiver file is refused as input', () => {
    expect(refusal(join(dir, 'nope.yaml'))).toContain('cannot read');
  });
});
