/**
 * Loading scenario files: YAML in, typed {@link Scenario} out, or one InputError naming the file
 * and the field. The mechanism's own schema validates `params`, so a typo in a TTL is caught here
 * and not half-way through a run.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { mechanismOf } from '../adapters/contract.ts';
import { getAdapter } from '../adapters/registry.ts';
import { checkDefinition } from './catalogue.ts';
import { scenarioFileSchema, type Scenario } from './schema.ts';
import { describeIssue, displayPath, InputError, PROJECT_ROOT, readYaml } from './input.ts';

export const BUILTIN_DIR = join(PROJECT_ROOT, 'scenarios', 'builtin');

/** Validate a raw scenario object (from a file or a twin merge) into a Scenario. */
export async function toScenario(raw: unknown, source: string): Promise<Scenario> {
  const where = displayPath(source);
  const file = scenarioFileSchema.safeParse(raw);
  if (!file.success) throw new InputError(`${where}: ${describeIssue(file.error)}`);
  const adapter = await getAdapter(file.data.adapter).catch((error: Error) => {
    throw new InputError(`${where}: adapter: ${error.message}`);
  });
  const mechanism = mechanismOf(adapter, file.data.mechanism);
  if (!mechanism) {
    throw new InputError(
      `${where}: mechanism: "${file.data.mechanism}" is not a mechanism of adapter ${adapter.name} (known: ${Object.keys(adapter.mechanisms).join(', ')})`,
    );
  }
  const params = mechanism.params.safeParse(file.data.params);
  if (!params.success) throw new InputError(`${where}: ${describeIssue(params.error, 'params')}`);
  for (const need of file.data.task.needs) if (need.trim() === '') throw new InputError(`${where}: task.needs: empty entry`);
  return { ...file.data, params: params.data, source: where };
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  return toScenario(readYaml(file), file);
}

/** Every built-in scenario of the given adapters (all adapters when the list is empty), sorted by id. */
export async function loadBuiltinScenarios(adapters: readonly string[] = []): Promise<Scenario[]> {
  if (!existsSync(BUILTIN_DIR)) return [];
  const folders = readdirSync(BUILTIN_DIR).filter((f) => adapters.length === 0 || adapters.includes(f));
  const scenarios: Scenario[] = [];
  for (const folder of folders.sort()) {
    const dir = join(BUILTIN_DIR, folder);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
      const scenario = await loadScenarioFile(join(dir, name));
      if (scenario.adapter !== folder) {
        throw new InputError(`${scenario.source}: adapter: "${scenario.adapter}" but the file lives under ${folder}/`);
      }
      scenarios.push(scenario);
    }
  }
  const seen = new Set<string>();
  for (const s of scenarios) {
    const key = `${s.adapter}/${s.id}`;
    if (seen.has(key)) throw new InputError(`${s.source}: id: "${s.id}" is used twice`);
    seen.add(key);
  }
  return scenarios;
}

/** Catalogue ids a scenario's checks use must exist; called by the engine before it reports a check. */
export function assertKnownCheck(id: string): void {
  checkDefinition(id);
}
