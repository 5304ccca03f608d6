/**
 * The adapter registry: every folder under adapters/ with an index.ts that default-exports an
 * Adapter. Discovered at run time, so a new adapter is a new folder and nothing else.
 */
import { existsSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Adapter } from './contract.ts';
import { InputError } from '../scenarios/input.ts';

const ADAPTERS_DIR = fileURLToPath(new URL('.', import.meta.url));
// Source or compiled (dist/adapters/*/index.js): each adapter's entry is in the registry's own language.
const INDEX = `index${extname(fileURLToPath(import.meta.url))}`;

let loaded: Promise<Map<string, Adapter>> | undefined;

/** The adapters' names (their folders), known without loading them: input is checked against them synchronously. */
export function adapterNames(): string[] {
  return readdirSync(ADAPTERS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(ADAPTERS_DIR, entry.name, INDEX)))
    .map((entry) => entry.name)
    .sort();
}

async function discover(): Promise<Map<string, Adapter>> {
  const adapters = new Map<string, Adapter>();
  for (const folder of adapterNames()) {
    const module = (await import(pathToFileURL(join(ADAPTERS_DIR, folder, INDEX)).href)) as { default: Adapter };
    if (module.default.name !== folder) {
      throw new Error(`adapters/${folder}/index.ts exports adapter "${module.default.name}"; it must be named after its folder`);
    }
    adapters.set(folder, module.default);
  }
  return adapters;
}

export function loadAdapters(): Promise<Map<string, Adapter>> {
  loaded ??= discover();
  return loaded;
}

export async function getAdapter(name: string): Promise<Adapter> {
  const adapters = await loadAdapters();
  const adapter = adapters.get(name);
  if (!adapter) throw new InputError(`unknown adapter "${name}" (known: ${[...adapters.keys()].join(', ')})`);
  return adapter;
}

/**
 * Whether a suite name selects the scenario. A suite runs the scenarios of its point of use, so
 * `vault` is the Vault suite, not every scenario whose grant OpenBao issues (those of `postgres`
 * and `ssh` need their own targets as well). An adapter that only grants (a broker) has no suite
 * of its own: its name selects the scenarios it grants. `suited`: the adapters with a suite.
 */
export function inSuites(scenario: { adapter: string; grant: { adapter: string } }, suites: readonly string[], suited: ReadonlySet<string>): boolean {
  return suites.includes(scenario.adapter) || (!suited.has(scenario.grant.adapter) && suites.includes(scenario.grant.adapter));
}

/** The adapters with a suite of their own: those with a point of use. */
export function suitedAdapters(adapters: Iterable<{ name: string; pointsOfUse: Record<string, unknown> }>): Set<string> {
  return new Set([...adapters].filter((a) => Object.keys(a.pointsOfUse).length > 0).map((a) => a.name));
}
