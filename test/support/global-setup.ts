/**
 * Before any test: the local targets' software must be installed (idempotent, quick when done),
 * so a fresh clone's `npm test` needs nothing by hand; and the compiled command line must be
 * current, built once here rather than by the first of many test files that start `bin/jitc`
 * together (each would wait on the build inside its own timeout). It also serves the targets the
 * session's files share (test/support/session-targets.ts) and stops them at the end.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadAdapters } from '../../adapters/registry.ts';
import { ensureInstalled } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { serveSessionTargets } from './session-targets.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const adapters = [...(await loadAdapters()).values()];
  await ensureInstalled(adapters, PROJECT_ROOT, (line) => console.log(`[jitc install] ${line}`));
  // `--help` builds dist/ when a source is newer than it, and does nothing else.
  const started = spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['--help'], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`bin/jitc could not build or start the command line: ${started.stderr}`);
  const shared = await serveSessionTargets((line) => console.log(`[jitc session] ${line}`));
  project.provide('sessionTargets', shared.url);
  return () => shared.stop();
}
