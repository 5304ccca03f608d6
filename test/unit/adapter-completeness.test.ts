/**
 * Adding an adapter is provable: this test walks the registry and names whatever an adapter lacks
 * — a suite for its points of use, built-in scenarios, a broken twin for each, an integration test,
 * halves no scenario uses, a pair naming a half it does not have, a long-wait scenario that is not
 * there — and finds folders and suites that belong to no adapter, which a run would otherwise skip
 * without a word.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ownEntry } from '../../adapters/contract.ts';
import { loadAdapters } from '../../adapters/registry.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { BUILTIN_DIR, loadBuiltinScenarios, loadExampleScenarios } from '../../scenarios/load.ts';
import { loadVariants } from '../support/twins.ts';

const at = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);
const yamlIds = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)) : []);

async function missingPieces(): Promise<string[]> {
  const adapters = await loadAdapters();
  const builtin = await loadBuiltinScenarios();
  const examples = await loadExampleScenarios();
  const missing: string[] = [];
  for (const [name, adapter] of adapters) {
    const points = Object.keys(adapter.pointsOfUse);
    const sources = Object.keys(adapter.grantSources);
    if (points.length + sources.length === 0) missing.push(`${name}: offers neither a grant source nor a point of use`);
    for (const [pair, { source, pointOfUse }] of Object.entries(adapter.pairs)) {
      if (!ownEntry(adapter.grantSources, source)) missing.push(`${name}: pair ${pair} names grant source ${source}, which it does not have`);
      if (!ownEntry(adapter.pointsOfUse, pointOfUse)) missing.push(`${name}: pair ${pair} names point of use ${pointOfUse}, which it does not have`);
    }
    for (const source of sources) {
      const used = builtin.some((s) => s.grant.adapter === name && s.grant.name === source) || examples.some((e) => e.grant.adapter === name && e.grant.name === source);
      if (!used) missing.push(`${name}: grant source ${source} is used by no built-in scenario and no example under examples/`);
    }
    if (points.length === 0) continue;
    // A point of use is what a suite runs: its adapter needs everything a suite needs.
    const suite = at('suites', `${name}.suite.ts`);
    if (!existsSync(suite)) missing.push(`${name}: no suites/${name}.suite.ts`);
    else if (!readFileSync(suite, 'utf8').includes(`defineSuite('${name}')`)) missing.push(`${name}: suites/${name}.suite.ts does not call defineSuite('${name}')`);
    const own = builtin.filter((s) => s.adapter === name);
    if (own.length === 0) missing.push(`${name}: no built-in scenario in scenarios/builtin/${name}/`);
    for (const point of points) {
      if (!own.some((s) => s.use.name === point)) missing.push(`${name}: point of use ${point} is used by no built-in scenario`);
    }
    const twins = new Set((await loadVariants(name, 'twins')).map((t) => t.of));
    for (const s of own) if (!twins.has(s.id)) missing.push(`${name}: built-in scenario ${s.id} has no broken twin in test/twins/${name}/`);
    if (!existsSync(at('test', 'integration', `${name}.test.ts`))) missing.push(`${name}: no test/integration/${name}.test.ts`);
    const longWait = adapter.longWait;
    const long = longWait && own.find((s) => s.id === longWait.scenario);
    if (!longWait) missing.push(`${name}: has a point of use but names no longWait scenario`);
    else if (!long) missing.push(`${name}: longWait names ${longWait.scenario}, which is not one of its built-in scenarios`);
    else if (!(longWait.ttlParam in (long.grant.params as Record<string, unknown>))) missing.push(`${name}: longWait's ${longWait.ttlParam} is not a param of ${long.id}'s grant source`);
    else if (long.end.mode !== 'expire') missing.push(`${name}: longWait scenario ${long.id} does not wait for an expiry`);
  }
  // Folders and suites that belong to no adapter would be skipped by a run without a word.
  for (const folder of readdirSync(BUILTIN_DIR)) if (!adapters.has(folder)) missing.push(`scenarios/builtin/${folder}/ belongs to no adapter`);
  for (const file of readdirSync(at('suites')).filter((f) => f.endsWith('.suite.ts'))) {
    const name = file.slice(0, -'.suite.ts'.length);
    if (!adapters.has(name)) missing.push(`suites/${file} belongs to no adapter`);
  }
  for (const kind of ['twins', 'mutants']) {
    for (const folder of readdirSync(at('test', kind))) if (!adapters.has(folder)) missing.push(`test/${kind}/${folder}/ belongs to no adapter`);
  }
  return missing;
}

describe('every adapter in the registry is complete', () => {
  test('nothing an adapter needs is missing, and nothing belongs to no adapter', async () => {
    expect(await missingPieces()).toEqual([]);
  });

  test('a twin names a built-in scenario of its own adapter', async () => {
    for (const name of (await loadAdapters()).keys()) {
      const ids = new Set(yamlIds(join(BUILTIN_DIR, name)));
      for (const twin of await loadVariants(name, 'twins')) expect(ids.has(twin.of), `${name}: twin of ${twin.of}`).toBe(true);
    }
  });
});
