/**
 * What a run left in a directory, read from the directory itself: entries whose DN carries
 * `jitc-<runId>-`, and member values pointing at such a name, in every base the scenarios write to.
 * Deliberately wider than the cleanup sweep's own matching, and worded as the sweep words its
 * removals, so a sweep that misses something shows.
 */
import { type LdapClient, values } from './client.ts';
import { scenarioBases } from './entitlements.ts';
import { runPrefix } from '../contract.ts';

export async function ldapLeftovers(client: LdapClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId).toLowerCase();
  const found = new Set<string>();
  for (const base of scenarioBases(client)) {
    const result = await client.admin.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['member'] });
    for (const entry of result.searchEntries) {
      if (entry.dn.toLowerCase().includes(prefix)) found.add(`entry ${entry.dn}`);
      for (const member of values(entry, 'member')) if (member.toLowerCase().includes(prefix)) found.add(`member ${member} of ${entry.dn}`);
    }
  }
  return [...found].sort();
}
