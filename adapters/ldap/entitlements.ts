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

/**
 * Groups that list `dn` as a member, in every scenario base: one indexed search per base, whatever
 * else the directory holds. (Walking down from a group instead reads every member it has, one
 * lookup each: a production group of thousands costs thousands of requests per scenario.)
 */
async function groupsListing(client: LdapClient, dn: string): Promise<string[]> {
  const ad = client.settings.flavour === 'active-directory';
  const found = new Map<string, string>();
  const filter = `(&(objectClass=${escapeFilterValue(client.layout.groupObjectClass)})(member=${escapeFilterValue(dn)}))`;
  for (const base of scenarioBases(client)) {
    try {
      const result = await client.admin.use((c: Client) => c.search(base, { scope: 'sub', filter, attributes: ['1.1'] }, ad ? [new LinkTtlControl()] : undefined));
      for (const entry of result.searchEntries) found.set(entry.dn.toLowerCase(), entry.dn);
    } catch (error) {
      const answer = describeLdapError(error);
      if (answer.kind === 'result' && answer.code === 32) continue;
      throw error;
    }
  }
  return [...found.values()];
}

/**
 * Every member chain from `root` down to `dn`, found by climbing from `dn` through the groups that
 * list it (cycles cut, at most MAX_DEPTH links). Each link after the root carries the TTL its
 * member value states (an Active Directory expiring link, read from the group above it), null for a
 * plain value.
 */
export async function chainsTo(client: LdapClient, root: string, dn: string): Promise<LinkValue[][]> {
  const chains: string[][] = [];
  const parents = new Map<string, Promise<string[]>>();
  const listing = (member: string): Promise<string[]> => {
    const key = member.toLowerCase();
    let hit = parents.get(key);
    if (!hit) {
      hit = groupsListing(client, member);
      parents.set(key, hit);
    }
    return hit;
  };
  // `upward` runs from dn to the group reached so far.
  const climb = async (upward: string[]): Promise<void> => {
    const head = upward[upward.length - 1] as string;
    if (upward.length > 1 && head.toLowerCase() === root.toLowerCase()) {
      chains.push([...upward].reverse());
      return;
    }
    if (upward.length > MAX_DEPTH) return;
    for (const group of await listing(head)) {
      if (upward.some((d) => d.toLowerCase() === group.toLowerCase())) continue;
      await climb([...upward, group]);
    }
  };
  if (dn.toLowerCase() !== root.toLowerCase()) await climb([dn]);
  return Promise.all(chains.map((chain) => withLinkTtls(client, chain)));
}

/** A chain's links with the TTL each member value states; only Active Directory states one, so only there is each group read. */
async function withLinkTtls(client: LdapClient, chain: string[]): Promise<LinkValue[]> {
  if (client.settings.flavour !== 'active-directory') return chain.map((dn) => ({ dn, ttlSeconds: null }));
  const links: LinkValue[] = [{ dn: chain[0] as string, ttlSeconds: null }];
  for (let i = 1; i < chain.length; i++) {
    const member = chain[i] as string;
    const stated = (await membersOf(client, chain[i - 1] as string))?.find((m) => m.dn.toLowerCase() === member.toLowerCase());
    links.push({ dn: member, ttlSeconds: stated?.ttlSeconds ?? null });
  }
  return links;
}

/** Every member chain from `root`, depth-first, cycles cut: for a group the scenario made, whose members are its own. */
async function memberPaths(client: LdapClient, root: string): Promise<string[][]> {
  const paths: string[][] = [];
  const walk = async (chain: string[]): Promise<void> => {
    const head = chain[chain.length - 1] as string;
    const members = await membersOf(client, head);
    if (!members || chain.length > MAX_DEPTH) return;
    for (const member of members) {
      if (member.dn.toLowerCase() === client.layout.emptyMember.toLowerCase()) continue;
      if (chain.some((dn) => dn.toLowerCase() === member.dn.toLowerCase())) continue;
      const next = [...chain, member.dn];
      paths.push(next);
      await walk(next);
    }
  };
  await walk([root]);
  return paths;
}

/**
 * Paths into `grantGroup` that involve something carrying the prefix, and (for an existing
 * requester, which carries no prefix) every path ending at `reaching`, as `path` entitlements.
 * Found from the scenario's own entries up, and from its own groups down: never by reading the
 * grant group's other members, however many it has.
 */
export async function pathEntitlements(client: LdapClient, grantGroup: string, prefix: string, reaching?: string): Promise<string[]> {
  const paths = new Map<string, string[]>();
  const add = (chain: string[]): void => void paths.set(chain.join('\n').toLowerCase(), chain);
  for (const own of await prefixedEntries(client, prefix)) {
    for (const chain of await chainsTo(client, grantGroup, own)) {
      const dns = chain.map((link) => link.dn);
      add(dns);
      // Below one of the scenario's own groups: everything it holds reaches the grant group through it.
      for (const below of await memberPaths(client, own)) add([...dns, ...below.slice(1)]);
    }
  }
  if (reaching !== undefined) for (const chain of await chainsTo(client, grantGroup, reaching)) add(chain.map((link) => link.dn));
  // A value naming one of the scenario's entries that is gone (expired without referential
  // integrity) is found by no entry: read in the grant group itself, one request however many members
  // it has. It would grant again to whatever is made under that name.
  for (const member of (await membersOf(client, grantGroup)) ?? []) {
    if (carriesPrefix(member.dn, prefix)) for (const chain of await chainsTo(client, grantGroup, member.dn)) add(chain.map((link) => link.dn));
  }
  const ours = (chain: string[]): boolean =>
    chain.slice(1).some((dn) => carriesPrefix(dn, prefix)) || (reaching !== undefined && chain[chain.length - 1]?.toLowerCase() === reaching.toLowerCase());
  return [...paths.values()].filter(ours).map((chain) => `path ${chain.join(' <- ')}`);
}

/** Entries carrying the prefix, but for those in `except` (another half's), as `entry` entitlements. */
export async function entryEntitlements(client: LdapClient, prefix: string, except: readonly string[] = []): Promise<string[]> {
  const skip = new Set(except.map((dn) => dn.toLowerCase()));
  return (await prefixedEntries(client, prefix)).filter((dn) => !skip.has(dn.toLowerCase())).map((dn) => `entry ${dn}`);
}
