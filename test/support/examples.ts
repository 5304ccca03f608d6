/**
 * The scenario files shipped under examples/ (a broker's API that must be running, the user's own
 * roles and groups): loaded as a user would load them, so the checks they declare and the halves
 * they name count like the built-ins'.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadScenarioFile } from '../../scenarios/load.ts';
import type { Scenario } from '../../scenarios/schema.ts';

export const EXAMPLES_DIR = join(PROJECT_ROOT, 'examples');

export async function loadExampleScenarios(): Promise<Scenario[]> {
  if (!existsSync(EXAMPLES_DIR)) return [];
  const files = readdirSync(EXAMPLES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(files.map((f) => loadScenarioFile(join(EXAMPLES_DIR, f))));
}
