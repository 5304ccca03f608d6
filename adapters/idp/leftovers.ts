/**
 * What a run left on a Keycloak, read from the target itself: every realm whose name contains
 * `jitc-<runId>-` (wider than the sweep's own "starts with"), worded as the sweep words its
 * removals, so a sweep that misses something shows.
 */
import { runPrefix } from '../contract.ts';
import type { IdpClient } from './client.ts';
import { realmNames } from './cleanup.ts';

export async function idpLeftovers(client: IdpClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId);
  return (await realmNames(client)).filter((r) => r.includes(prefix)).map((r) => `realm ${r}`).sort();
}
