/**
 * Before any test: the local targets' software must be installed (idempotent, quick when done),
 * so a fresh clone's `npm test` needs nothing by hand; and the compiled command line must be
 * current, built once here rather than by the first of many test files that start `bin/jitc`
 * together (each would wait on the build inside its own timeout).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadAdapters } from '../../adapters/registry.ts';
import { ensureInstalled } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

export default async function setup(): Promise<void> {
  const adapters = [...(await loadAdapters()).values()];
  await ensureInstalled(adapters, PROJECT_ROOT, (line) => console.log(`[jitc install] ${line}`));
  // `--help` builds dist/ when a source is newer than it, and does nothing else.
  const started = spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['--help'], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`bin/jitc could not build or start the command line: ${started.stderr}`);
}
