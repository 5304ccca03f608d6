/**
 * `jitc cleanup` for Keycloak: everything a run creates lives in realms named with its prefix
 * (`jitc-<runId>-<scenario>`), so the sweep deletes those realms, and with them every client,
 * user, session and scope in them. Realms of other names are never touched.
 */
import { runPrefix, type CleanupReport } from '../contract.ts';
import { type IdpClient } from './client.ts';
import { deleteRealm } from './fixtures.ts';

interface RealmName {
  realm: string;
}

/** Every realm's name; the admin API lists them with their settings, of which only the name is read. */
export async function realmNames(client: IdpClient): Promise<string[]> {
  return (await client.admin.call<RealmName[]>('GET', '?briefRepresentation=true')).map((r) => r.realm);
}

/** A run's realms: named `jitc-<runId>-…`; any run's: `jitc-<id>-<scenario>`. */
export function isRunRealm(realm: string, runId: string | undefined): boolean {
  return runId ? realm.startsWith(runPrefix(runId)) : /^jitc-[^-]+-./.test(realm);
}

export async function cleanupIdp(client: IdpClient, runId: string | undefined): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], failed: [] };
  for (const realm of (await realmNames(client)).filter((r) => isRunRealm(r, runId))) {
    try {
      report.removed.push(...(await deleteRealm(client, realm)));
    } catch (error) {
      report.failed.push(`realm ${realm}: ${(error as Error).message}`);
    }
  }
  return report;
}
