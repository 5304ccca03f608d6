/**
 * The matrix's own rules, without a target: the mutant files are well formed and each is a setup
 * its scenario's twin does not already cover; a result is judged caught, missed, passed, a known
 * gap or unexpected exactly as the matrix states; and the document counts what it shows.
 */
import { describe, expect, test } from 'vitest';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import type { CheckResult, ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import type { CheckVerdict } from '../../scenarios/verdict.ts';
import { fakeResult } from '../support/fake-adapter.ts';
import { loadVariants } from '../support/twins.ts';
import { matrixHolds, renderAssurance, totals } from './matrix-doc.ts';
import { ADAPTERS, type AdapterRun, judgeRow, loadSetups, type MatrixSetup } from './matrix-run.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';

describe.each(ADAPTERS)('the %s mutants', (adapter) => {
  test('load, name only checks the catalogue knows, and are at least five', async () => {
    const checks = loadCatalogue().checks;
    const mutants = await loadVariants(adapter, 'mutants');
    expect(mutants.length).toBeGreaterThanOrEqual(5);
    for (const m of mutants) {
      expect(m.scenario.id).toBe(m.name);
      for (const name of m.failedChecks) expect(checks.has(name), `${m.name} expects ${name}`).toBe(true);
    }
  });

  test('each breaks its scenario differently from that scenario’s twin, and from every other mutant', async () => {
    const twins = await loadVariants(adapter, 'twins');
    const mutants = await loadVariants(adapter, 'mutants');
    const setupOf = (v: { of: string; scenario: Scenario }): string => `${v.of} ${JSON.stringify([v.scenario.grant.params, v.scenario.use.params])}`;
    const twinSetups = new Set(twins.map(setupOf));
    for (const m of mutants) expect(twinSetups.has(setupOf(m)), `${m.name} repeats the twin of ${m.of}`).toBe(false);
    expect(new Set(mutants.map(setupOf)).size).toBe(mutants.length);
  });
});

function check(name: string, verdict: CheckVerdict): CheckResult {
  return { name, title: name, verdict, detail: '', severity: 'high', controls: [] };
}

/** A finished aws result with these checks, as the engine would produce it against moto. */
function result(id: string, checks: CheckResult[]): ScenarioResult {
  const target = { mode: 'local' as const, address: 'http://127.0.0.1:1', facts: { product: 'moto', version: '5.2.5', mode: 'local' } };
  return fakeResult({ id, title: id, adapter: 'aws', pointOfUse: 's3-object', grant: { adapter: 'aws', source: 'assume-role' }, pair: 'assume-role', target, checks, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:02.500Z' });
}

async function setup(kind: 'conformant' | 'mutant', id: string): Promise<MatrixSetup> {
  const all = await loadSetups('aws', [kind]);
  const found = all.find((s) => s.scenario.id === id);
  if (!found) throw new Error(`no ${kind} setup ${id}`);
  return found;
}

describe('judging a result against its setup', () => {
  test('a mutant failing every check it names is caught, whatever else fails beside them', async () => {
    const s = await setup('mutant', 'key-deactivated-not-deleted');
    const row = judgeRow(s, result(s.scenario.id, [check('reuse-denied', 'fail'), check('credential-invalidated', 'fail'), check('no-residue', 'fail')]));
    expect(row.outcome).toBe('caught');
    expect(row.durationMs).toBe(2500);
  });

  test('a mutant that fails, but not on a check it names, is missed, and the row says which', async () => {
    const s = await setup('mutant', 'key-deactivated-not-deleted');
    const row = judgeRow(s, result(s.scenario.id, [check('credential-invalidated', 'fail'), check('no-residue', 'pass')]));
    expect(row.outcome).toBe('missed');
    expect(row.note).toContain('not failed: no-residue');
  });

  test('a mutant reported inconclusive is missed: doubt is not a catch', async () => {
    const s = await setup('mutant', 'wildcard-actions');
    expect(judgeRow(s, result(s.scenario.id, [check('privilege-width', 'inconclusive')])).outcome).toBe('missed');
  });

  test("a conformant setup failing only its documented local gap's checks is a known gap; any other failure is unexpected", async () => {
    const s = await setup('conformant', 'sts-revoke-active-sessions');
    expect(s.knownGap?.checks).toEqual(['revocation-targeted']);
    expect(judgeRow(s, result(s.scenario.id, [check('revocation-targeted', 'fail')])).outcome).toBe('known-gap');
    expect(judgeRow(s, result(s.scenario.id, [check('revocation-targeted', 'fail'), check('reuse-denied', 'fail')])).outcome).toBe('unexpected');
    expect(judgeRow(s, result(s.scenario.id, [check('revocation-targeted', 'pass')])).outcome).toBe('pass');
    const plain = await setup('conformant', 'privilege-width');
    expect(plain.knownGap).toBeUndefined();
    expect(judgeRow(plain, result(plain.scenario.id, [check('ttl-bounded', 'inconclusive')])).outcome).toBe('unexpected');
  });
});

describe('the document', () => {
  test('counts mutants caught and conformant setups failing beyond their gaps, and says whether the matrix holds', async () => {
    const mutant = await setup('mutant', 'wildcard-actions');
    const gap = await setup('conformant', 'sts-assume-role-expiry');
    const run: AdapterRun = {
      adapter: 'aws',
      runId: 'tunit',
      facts: { product: 'moto', version: '5.2.5', mode: 'local moto_server' },
      rows: [
        judgeRow(mutant, result(mutant.scenario.id, [check('privilege-width', 'fail')])),
        judgeRow(gap, result(gap.scenario.id, [check('reuse-denied', 'fail'), check('credential-invalidated', 'fail')])),
      ],
      results: [],
      secrets: new SecretRegistry(),
      leftovers: { removed: [], failed: [] },
      keptByBrokers: { removed: [], failed: [] },
      wallMs: 12_000,
    };
    const t = totals([run]);
    expect(t).toMatchObject({ mutants: 1, mutantsCaught: 1, conformant: 1, knownGaps: 1, conformantUnexpected: 0 });
    expect(matrixHolds(t, [run])).toBe(true);
    const doc = renderAssurance([run], { generatedAt: new Date('2026-01-02T03:04:05Z'), command: 'npm run assurance', wallMs: 12_000 });
    expect(doc).toContain('Generated 2026-01-02T03:04:05Z by `npm run assurance`');
    expect(doc).toContain('| mutants (broken, beyond the twins) | 1 | 1 caught | 100 % caught |');
    expect(doc).toContain('| aws | moto | 5.2.5 |');
    expect(doc).toMatch(/`sts-assume-role-expiry` .*\| known gap of the local target \[\^1\] \|/);
    expect(doc).toContain('The matrix holds');

    const missed = { ...run, rows: [judgeRow(mutant, result(mutant.scenario.id, [check('privilege-width', 'pass')]))], leftovers: { removed: ['iam-user:x'], failed: [] } };
    expect(matrixHolds(totals([missed]), [missed])).toBe(false);
    const missedDoc = renderAssurance([missed], { generatedAt: new Date(), command: 'npm run assurance', wallMs: 1 });
    expect(missedDoc).toContain('| mutants (broken, beyond the twins) | 1 | 0 caught | 0 % caught |');
    expect(missedDoc).toContain('**MISSED**: verdict pass; not failed: privilege-width');
    expect(missedDoc).toContain('The matrix does NOT hold');
  });
});
