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
