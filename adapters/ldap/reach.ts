/**
 * What makes a DN reach the privileged read, and until when, as the directory itself states it:
 * every membership path from the DN into the grant group (the group the ACL grants through, nested
 * groups included), read with the point of use's own client (entitlements.ts walks the members).
 *
 * - A path ends when the first dynamic thing on it ends: a dynamic entry (RFC 2589 dynamicObject,
 *   entryTtl / entryExpireTimestamp) — the grant group, a nested group, a dynamic grant group — or
 *   an Active Directory expiring link (`<TTL=n>`). A path with none never ends (expiresAt null).
 * - The privilege ends when the longest-living path ends.
 * - A dynamic account (the DN itself a dynamic entry) bounds everything: when it is gone, no path
 *   leads anywhere.
 * - No path: the directory states nothing about the DN's privilege by membership (an ACL may still
 *   grant it by DN): no facts.
 */
import type { CredentialFacts } from '../contract.ts';
import type { LdapClient } from './client.ts';
import { chainsTo } from './entitlements.ts';
import { type EntryLifetime, lifetimeOf } from './fixtures.ts';
import { describeLdapError } from './probes.ts';

/** One membership path from the grant group down to the DN, and what ends it. */
export interface PathLifetime {
  /** The grant group first, the DN last. */
  chain: string[];
  /** When the path ends; null: nothing on it ends. */
  endsAt: string | null;
  /** What ends it: a dynamic entry's DN, or an expiring link's member value. */
  boundBy: string | null;
  ttlSeconds: number | null;
  createdAt?: string;
}

/** What the directory states about a DN's reach into the grant group. */
export interface Reach {
  dn: string;
  grantGroup: string;
  paths: PathLifetime[];
  /** The DN's own entry, when it is a dynamic object. */
  own: EntryLifetime | null;
  /** Dynamic entries on its paths (the DN excluded): where a refresh would stretch them. */
  dynamicEntries: string[];
  /** Static groups on its paths: where a member value of its own would be a path without end. */
  groups: string[];
}

/** The privilege as facts: the longest-living path's end, bounded by a dynamic account's own. Undefined without a path. */
export function reachFacts(reach: Reach): CredentialFacts | undefined {
  if (reach.paths.length === 0) return undefined;
  const open = reach.paths.find((p) => p.endsAt === null);
  const longest = open ?? reach.paths.reduce((a, b) => (Date.parse(b.endsAt as string) > Date.parse(a.endsAt as string) ? b : a));
  const ownEnd = reach.own?.expiresAt ?? null;
  const ownBounds = ownEnd !== null && (longest.endsAt === null || Date.parse(ownEnd) < Date.parse(longest.endsAt));
  const expiresAt = ownBounds ? ownEnd : longest.endsAt;
  const ttlSeconds = ownBounds ? (reach.own?.ttlSeconds ?? null) : longest.ttlSeconds;
  const issuedAt = ownBounds ? reach.own?.createdAt : longest.createdAt;
  const chain = longest.chain.join(' <- ');
  const pathText =
    longest.endsAt === null
      ? `a static path never ends: ${chain}`
      : `the longest path ends ${longest.endsAt} with ${longest.boundBy} (${longest.ttlSeconds ?? '?'} s): ${chain}`;
  const ownText = reach.own ? `; the account itself is a dynamic entry ending ${ownEnd ?? 'at no stated time'}${ownBounds ? ', which bounds every path' : ''}` : '';
  return {
    expiresAt,
    ttlSeconds: expiresAt === null ? null : ttlSeconds,
    ...(issuedAt ? { issuedAt } : {}),
    attributes: {
      dn: reach.dn,
      grantGroup: reach.grantGroup,
      paths: reach.paths.length,
      staticPaths: reach.paths.filter((p) => p.endsAt === null).length,
      longestPath: chain,
      dynamicAccount: reach.own !== null,
    },
    detail: `${reach.paths.length} membership path(s) from ${reach.dn} into ${reach.grantGroup}; ${pathText}${ownText}`,
  };
}

/** What ends a path: the earliest of these on it. */
interface Bound {
  at: string;
  by: string;
  ttl: number | null;
  createdAt?: string;
}

/** Read every path from the grant group to `dn` and the lifetime of everything on it, with the admin (point's own) client. */
export async function readReach(client: LdapClient, grantGroup: string, dn: string): Promise<Reach> {
  const lifetimes = new Map<string, Promise<EntryLifetime | null>>();
  /** An entry's lifetime; null when it is gone (noSuchObject): the directory reaped it between the walk and this read. */
  const lifetime = (entry: string): Promise<EntryLifetime | null> => {
    const key = entry.toLowerCase();
    let hit = lifetimes.get(key);
    if (!hit) {
      hit = lifetimeOf(client, entry).catch((error: unknown) => {
        const answer = describeLdapError(error);
        if (answer.kind === 'result' && answer.code === 32) return null;
        throw error;
      });
      lifetimes.set(key, hit);
    }
    return hit;
  };
  const chains = await chainsTo(client, grantGroup, dn);
  const paths: PathLifetime[] = [];
  const dynamicEntries = new Set<string>();
  const groups = new Set<string>([grantGroup]);
  const now = Date.now();
  const ownStated = await lifetime(dn);
  for (const chain of ownStated === null ? [] : chains) {
    const bounds: Bound[] = [];
    const dynamicHere: string[] = [];
    const groupsHere: string[] = [];
    let gone = false;
    for (const link of chain.slice(1)) {
      if (link.ttlSeconds !== null) bounds.push({ at: new Date(now + link.ttlSeconds * 1000).toISOString(), by: `the expiring link <TTL=${link.ttlSeconds}>,${link.dn}`, ttl: link.ttlSeconds });
    }
    // Every entry on the path but the DN itself (whose own lifetime is read apart).
    for (const link of chain.slice(0, -1)) {
      const stated = await lifetime(link.dn);
      // A path through an entry that is gone leads nowhere any more.
      if (stated === null) gone = true;
      else if (stated.ttlSeconds !== null && stated.expiresAt !== null) {
        dynamicHere.push(link.dn);
        bounds.push({ at: stated.expiresAt, by: link.dn, ttl: stated.ttlSeconds, createdAt: stated.createdAt });
      } else {
        groupsHere.push(link.dn);
      }
    }
    if (gone) continue;
    for (const entry of dynamicHere) dynamicEntries.add(entry);
    for (const group of groupsHere) groups.add(group);
    const end = bounds.reduce<Bound | null>((first, b) => (first === null || Date.parse(b.at) < Date.parse(first.at) ? b : first), null);
    paths.push({
      chain: chain.map((link) => link.dn),
      endsAt: end?.at ?? null,
      boundBy: end?.by ?? null,
      ttlSeconds: end?.ttl ?? null,
      ...(end?.createdAt ? { createdAt: end.createdAt } : {}),
    });
  }
  const own = ownStated !== null && ownStated.ttlSeconds !== null ? ownStated : null;
  return { dn, grantGroup, paths, own, dynamicEntries: [...dynamicEntries], groups: [...groups] };
}
