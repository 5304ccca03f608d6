/**
 * Before any test: the local targets' software must be installed (idempotent, quick when done),
 * so a fresh clone's `npm test` needs nothing by hand.
 */
import { loadAdapters } from '../../adapters/registry.ts';
import { ensureInstalled } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

export default async function setup(): Promise<void> {
  const adapters = [...(await loadAdapters()).values()];
  await ensureInstalled(adapters, PROJECT_ROOT, (line) => console.log(`[jitc install] ${line}`));
}
