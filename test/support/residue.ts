/**
 * What a run left on each target, read from the target itself by the run id through each
 * adapter's own listing (`leftovers`): never from jitc's own bookkeeping. The listings are wider
 * than the cleanup sweeps' matching and worded as they word their removals, so a test can hold one
 * against the other.
 */
import type { TargetConnection } from '../../adapters/contract.ts';
import { getAdapter } from '../../adapters/registry.ts';

/** Leftovers of the run on every target given, by adapter name. */
export async function leftoversOf(connections: Record<string, TargetConnection>, runId: string): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const [name, connection] of Object.entries(connections)) {
    const adapter = await getAdapter(name);
    const client = await adapter.connect(connection);
    try {
      found[name] = await adapter.leftovers(client, runId);
    } finally {
      await adapter.disconnect?.(client);
    }
  }
  return found;
}
