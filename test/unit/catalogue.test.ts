/**
 * The control catalogue is where checks meet controls: every check the code can emit is declared
 * there, every control a check names exists, and an auditor can follow each control to its text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { LIFECYCLE_CHECKS, ownEntry } from '../../adapters/contract.ts';
import { loadAdapters } from '../../adapters/registry.ts';
import { declaredChecks as declared } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios, loadExampleScenarios } from '../../scenarios/load.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { loadVariants } from '../support/twins.ts';
import { parse } from 'yaml';
import { CATALOGUE_PATH, checkDefinition, loadCatalogue, SEVERITIES } from '../../scenarios/catalogue.ts';

/**
 * Every check the project can produce, from the declarations themselves: the engine's lifecycle
 * checks, privilege-width, and what each scenario's two halves declare for its params — built-in
 * scenarios, the examples, their twins and the assurance mutants, so every param setting that adds a
 * check is seen.
 */
async function declaredChecks(): Promise<Map<string, string[]>> {
  const adapters = await loadAdapters();
  const scenarios: Scenario[] = [...(await loadBuiltinScenarios()), ...(await loadExampleScenarios())];
  for (const adapter of adapters.keys()) for (const kind of ['twins', 'mutants'] as const) scenarios.push(...(await loadVariants(adapter, kind)).map((v) => v.scenario));
  const found = new Map<string, string[]>([...LIFECYCLE_CHECKS, 'privilege-width'].map((id) => [id, ['the engine']]));
  for (const s of scenarios) {
    const source = ownEntry(adapters.get(s.grant.adapter)!.grantSources, s.grant.name)!;
    const point = ownEntry(adapters.get(s.use.adapter)!.pointsOfUse, s.use.name)!;
    for (const id of declared(s, source, point)) found.set(id, [...new Set([...(found.get(id) ?? []), `${s.adapter}/${s.id}`])]);
  }
  return found;
}

describe('the control catalogue', () => {
  const catalogue = loadCatalogue();
  const raw = parse(readFileSync(CATALOGUE_PATH, 'utf8')) as {
    controls: Record<string, { url?: unknown }>;
    checks: Record<string, { controls: string[] }>;
  };

  test('every check a scenario declares is in the catalogue, and every catalogue check is declared somewhere', async () => {
    const declared = await declaredChecks();
    expect([...declared.keys()].filter((id) => !catalogue.checks.has(id)).map((id) => `${id} (${declared.get(id)!.join(', ')})`)).toEqual([]);
    expect([...catalogue.checks.keys()].filter((id) => !declared.has(id))).toEqual([]);
  });

  test('each check carries a remediation: what to change on the target when it fails', () => {
    for (const [id, check] of catalogue.checks) expect(check.remediation.length, id).toBeGreaterThan(20);
  });

  test('every control a check references exists', () => {
    for (const [id, check] of Object.entries(raw.checks)) {
      for (const control of check.controls) expect(Object.keys(raw.controls), `${id} → ${control}`).toContain(control);
    }
  });

  test('each control has a URL an auditor can follow', () => {
    expect(catalogue.controls.size).toBeGreaterThan(0);
    for (const [id, control] of catalogue.controls) {
      expect(control.url, id).toMatch(/^https:\/\/\S+$/);
      expect(control.title, id).not.toBe('');
      expect(control.framework, id).not.toBe('');
    }
  });

  test('each check names at least one control, a severity and what a failure means', () => {
    for (const [id, check] of catalogue.checks) {
      expect(check.controls.length, id).toBeGreaterThan(0);
      expect(SEVERITIES, id).toContain(check.severity);
      expect(check.meaning.length, id).toBeGreaterThan(10);
    }
  });

  test('every control is evidenced by at least one check', () => {
    const evidenced = new Set([...catalogue.checks.values()].flatMap((c) => c.controls));
    expect([...catalogue.controls.keys()].filter((id) => !evidenced.has(id))).toEqual([]);
  });

  test('the design document’s headline controls are there: OWASP NHI-03 and NIST CSF PR.AC-4', () => {
    expect(catalogue.controls.has('OWASP-NHI-03')).toBe(true);
    expect(catalogue.controls.has('NIST-CSF-PR.AC-4')).toBe(true);
  });

  test('a check outside the catalogue is refused by name', () => {
    expect(() => checkDefinition('no-such-check')).toThrow(/check "no-such-check" is not in the control catalogue/);
  });

  test('a check definition carries its id with the catalogue entry', () => {
    expect(checkDefinition('reuse-denied')).toMatchObject({ id: 'reuse-denied', severity: 'critical' });
  });
});
