/**
 * What `jitc list` shows, made from the declarations: each built-in scenario as a self-describing
 * record, and each check with the scenarios, examples and halves that speak of it. Making them loads
 * every adapter and parses every scenario file, which is why cli/list-index.ts keeps the result.
 *
 * File paths are kept from the project root, not from the working directory: the records outlive the
 * start that made them, and the command prints them from wherever it runs.
 */
import { relative, resolve } from 'node:path';
import { LIFECYCLE_CHECKS, ownEntry } from '../adapters/contract.ts';
import { loadAdapters, suitedAdapters } from '../adapters/registry.ts';
import { CATALOGUE_PATH, loadCatalogue } from '../scenarios/catalogue.ts';
import { declaredChecks } from '../scenarios/engine.ts';
import { PROJECT_ROOT } from '../scenarios/input.ts';
import { BUILTIN_DIR, EXAMPLES_DIR, loadBuiltinScenarios, loadExampleScenarios } from '../scenarios/load.ts';
import type { Scenario } from '../scenarios/schema.ts';
import type { CheckRecord } from './checks-doc.ts';

export interface ScenarioRecord {
  id: string;
  adapter: string;
  title: string;
  proves: string;
  grant: { adapter: string; source: string };
  pointOfUse: string;
  pair?: string;
  severity: string;
  group: 'break-glass' | 'routine';
  ends: string;
  windowSeconds: number;
  checks: string[];
  controls: string[];
  /** From the project root. */
  file: string;
}

export interface ListRecords {
  /** The files and folders the records are made from, from the project root: what a kept copy is checked against. */
  inputs: string[];
  adapters: { name: string; title: string; suited: boolean }[];
  scenarios: ScenarioRecord[];
  /** Their `examples` from the project root. */
  checks: CheckRecord[];
}

const fromRoot = (file: string): string => relative(PROJECT_ROOT, resolve(file));

export async function listRecords(): Promise<ListRecords> {
  const adapters = await loadAdapters();
  const scenarios = await loadBuiltinScenarios();
  const catalogue = loadCatalogue();
  const produced = (s: Scenario): string[] => declaredChecks(s, ownEntry(adapters.get(s.grant.adapter)!.grantSources, s.grant.name)!, ownEntry(adapters.get(s.use.adapter)!.pointsOfUse, s.use.name)!);
  const suited = suitedAdapters(adapters.values());

  // Loading each scenario resolved both halves, so they exist.
  const scenarioRecords = scenarios.map((s): ScenarioRecord => {
    const checks = produced(s);
    return {
      id: s.id,
      adapter: s.adapter,
      title: s.title,
      proves: s.proves.replace(/\s+/g, ' ').trim(),
      grant: { adapter: s.grant.adapter, source: s.grant.name },
      pointOfUse: s.use.name,
      ...(s.pair ? { pair: s.pair } : {}),
      severity: s.severity,
      // The group an emergency path belongs to, so a reader sees it apart from routine JIT.
      group: s.breakGlass ? 'break-glass' : 'routine',
      ends: s.end.mode,
      windowSeconds: s.task.windowSeconds,
      checks,
      controls: [...new Set(checks.flatMap((c) => catalogue.checks.get(c)?.controls ?? []))].sort(),
      file: fromRoot(s.source),
    };
  });

  const checks = new Map<string, CheckRecord>(
    [...catalogue.checks.values()].map((c) => [
      c.id,
      { id: c.id, title: c.title, severity: c.severity, meaning: c.meaning.replace(/\s+/g, ' ').trim(), controls: c.controls, remediation: c.remediation, lifecycle: (LIFECYCLE_CHECKS as readonly string[]).includes(c.id), scenarios: [], examples: [], targetRemediation: {} },
    ]),
  );
  for (const s of scenarios) for (const id of produced(s)) checks.get(id)?.scenarios.push(`${s.adapter}/${s.id}`);
  for (const s of await loadExampleScenarios()) {
    for (const id of produced(s)) {
      const record = checks.get(id);
      if (record && !record.examples.includes(fromRoot(s.source))) record.examples.push(fromRoot(s.source));
    }
  }
  for (const adapter of adapters.values()) {
    const halves = [...Object.entries(adapter.grantSources), ...Object.entries(adapter.pointsOfUse)];
    for (const [name, half] of halves) {
      for (const [id, text] of Object.entries(half.remediation ?? {})) {
        const record = checks.get(id);
        if (record) record.targetRemediation[`${adapter.name}/${name}`] = text;
      }
    }
  }

  return {
    inputs: [BUILTIN_DIR, EXAMPLES_DIR, CATALOGUE_PATH].map(fromRoot),
    adapters: [...adapters.values()].map((a) => ({ name: a.name, title: a.title, suited: suited.has(a.name) })),
    scenarios: scenarioRecords,
    checks: [...checks.values()],
  };
}
