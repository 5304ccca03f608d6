/**
 * Loading scenario files: YAML in, typed {@link Scenario} out, or one InputError naming the file
 * and the field. The mechanism's own schema validates `params`, so a typo in a TTL is caught here
 * and not half-way through a run.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { z } from 'zod';
import { InputError, mechanismOf } from '../adapters/contract.ts';
import { getAdapter } from '../adapters/registry.ts';
import { checkDefinition } from '../reports/catalogue.ts';
import { scenarioFileSchema, type Scenario } from './schema.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILTIN_DIR = join(PROJECT_ROOT, 'scenarios', 'builtin');

/** "params.ttlSeconds: expected number" — the first issue, with its path under `prefix`, in one line. */
export function describeIssue(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
  // An unknown key is named in the path itself: "params.ttlSecond: unknown key (a typo?)".
  if (issue.code === 'unrecognized_keys') return `${[...path, issue.keys[0]].join('.')}: unknown key "${issue.keys[0]}" (a typo?)`;
  return `${path.length > 0 ? path.join('.') : '(top level)'}: ${issue.message}`;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`${displayPath(file)}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new InputError(`${displayPath(file)}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
}

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
