/**
 * Residue, read from the directory itself and scoped to one scenario's prefix (scenarios run
 * concurrently on one server, so nothing outside the prefix is counted). Each half lists its own:
 * - the point of use, what reaches its resource: `path <grant group> <- … <- <dn>`, every chain of
 *   `member` values from the grant group that passes through something carrying the prefix — a
 *   direct membership, a nested group, a dynamic grant group. This is where an alternate admin
 *   path (a second, nested group) shows up;
 * - a grant source, what it issued: `entry <dn>`, every entry whose name carries the prefix
 *   (accounts, groups, dynamic grants), the requester's own entry excepted (the point of use's).
 * On Active Directory the group is read with the LINK_TTL control, so time-bound links are seen
 * (and recognised as the same member) while they last.
 */
import type { Client } from 'ldapts';
import { carriesPrefix, escapeFilterValue, type LdapClient, values } from './client.ts';
import { LinkTtlControl, type LinkValue, parseLinkValue } from './link-ttl.ts';
import { describeLdapError } from './probes.ts';

/** Bases holding scenario entries (the unaudited subtree is its own database, so it is searched apart). */
export function scenarioBases(client: LdapClient): string[] {
  const { baseDn, unauditedDn } = client.layout;
  // Searched apart even when it sits under the base DN: without glue, a subtree search of the base
  // does not descend into another database. Duplicates (a glued tree) are merged by the callers.
  return unauditedDn ? [baseDn, unauditedDn] : [baseDn];
}

/** Entries whose first RDN value starts with `prefix`, in every scenario base. */
export async function prefixedEntries(client: LdapClient, prefix: string): Promise<string[]> {
  const found = new Set<string>();
  for (const base of scenarioBases(client)) {
    try {
      const result = await client.admin.search(base, { scope: 'sub', filter: `(cn=${escapeFilterValue(prefix)}*)`, attributes: ['1.1'] });
      for (const entry of result.searchEntries) if (carriesPrefix(entry.dn, prefix)) found.add(entry.dn);
    } catch (error) {
      // A base that does not exist holds nothing; anything else must not read as "no residue".
      const answer = describeLdapError(error);
      if (answer.kind === 'result' && answer.code === 32) continue;
      throw error;
    }
  }
  return [...found].sort();
}

const MAX_DEPTH = 8;

/** `member` values of a group (with the TTL an expiring link states), or null when `dn` is not a group (or not there). */
async function membersOf(client: LdapClient, dn: string): Promise<LinkValue[] | null> {
  const ad = client.settings.flavour === 'active-directory';
  try {
    const result = await client.admin.use((c: Client) =>
      c.search(dn, { scope: 'base', filter: `(objectClass=${escapeFilterValue(client.layout.groupObjectClass)})`, attributes: ['member'] }, ad ? [new LinkTtlControl()] : undefined),
    );
    const entry = result.searchEntries[0];
    if (!entry) return null;
    return values(entry, 'member').map(parseLinkValue);
  } catch (error) {
    const answer = describeLdapError(error);
    if (answer.kind === 'result' && (answer.code === 32 || answer.code === 34)) return null;
    throw error;
  }
}

/** Every member chain from `root`, depth-first, cycles cut. */
export async function memberPaths(client: LdapClient, root: string): Promise<string[][]> {
  return (await memberLinkPaths(client, root)).map((chain) => chain.map((link) => link.dn));
}

/**
 * Every member chain from `root` as its links: each element after the root carries the TTL its
 * member value states (an Active Directory expiring link), null for a plain value.
 */
export async function memberLinkPaths(client: LdapClient, root: string): Promise<LinkValue[][]> {
  const paths: LinkValue[][] = [];
  const cache = new Map<string, Promise<LinkValue[] | null>>();
  const lookup = (dn: string): Promise<LinkValue[] | null> => {
    const key = dn.toLowerCase();
    let hit = cache.get(key);
    if (!hit) {
      hit = membersOf(client, dn);
      cache.set(key, hit);
    }
    return hit;
  };
  const walk = async (chain: LinkValue[]): Promise<void> => {
    const head = chain[chain.length - 1] as LinkValue;
    const members = await lookup(head.dn);
    if (!members || chain.length > MAX_DEPTH) return;
    for (const member of members) {
      if (member.dn.toLowerCase() === client.layout.emptyMember.toLowerCase()) continue;
      if (chain.some((link) => link.dn.toLowerCase() === member.dn.toLowerCase())) continue;
      const next = [...chain, member];
      paths.push(next);
      await walk(next);
    }
  };
  await walk([{ dn: root, ttlSeconds: null }]);
  return paths;
}

/**
 * Paths into `grantGroup` that involve something carrying the prefix, and (for an existing
 * requester, which carries no prefix) every path ending at `reaching`, as `path` entitlements.
 */
export async function pathEntitlements(client: LdapClient, grantGroup: string, prefix: string, reaching?: string): Promise<string[]> {
  const paths = await memberPaths(client, grantGroup);
  const ours = (chain: string[]): boolean =>
    chain.slice(1).some((dn) => carriesPrefix(dn, prefix)) || (reaching !== undefined && chain[chain.length - 1]?.toLowerCase() === reaching.toLowerCase());
  return paths.filter(ours).map((chain) => `path ${chain.join(' <- ')}`);
}

/** Entries carrying the prefix, but for those in `except` (another half's), as `entry` entitlements. */
export async function entryEntitlements(client: LdapClient, prefix: string, except: readonly string[] = []): Promise<string[]> {
  const skip = new Set(except.map((dn) => dn.toLowerCase()));
  return (await prefixedEntries(client, prefix)).filter((dn) => !skip.has(dn.toLowerCase())).map((dn) => `entry ${dn}`);
}
