/**
 * `group-membership`: the broker puts the requester into the group the point of use's ACL grants
 * through (the `ldap.grant-group` term) for the task, directly or through a second, nested group
 * (an alternate admin path), and takes it out at task end. The credential it hands on is the
 * requester's own bind: the grant is the membership, not a new identity.
 *
 * How a membership is made time-bound, natively:
 * - OpenLDAP and other RFC 2589 directories: the requester is placed in a *dynamic* grant group
 *   (groupOfNames + dynamicObject, entryTtl), which is made a member of the target group. The
 *   directory deletes it at its TTL and refint drops the nesting: the membership ends even if
 *   the broker never comes back.
 * - Active Directory: the member value is written in TTL-DN form `<TTL=n,DN>` (expiring links,
 *   see link-ttl.ts) and read back with the LINK_TTL control.
 * `static` (broken) adds a plain member value that only a revoke ever removes.
 *
 * The requester's own bind outlives the grant, so what it may try is to keep the membership:
 * refresh its dynamic grant group, or write itself into the grant group (extension.ts).
 *
 * With `group:` the membership lands in an existing group of the user's instead of the point of
 * use's grant group (one the ACL reaches, a group nested in it): the membership is created as
 * above and removed at the end, and the group is otherwise never changed — its classes and members
 * are read before and after (existing.ts). Member values of an identity that carries no scenario
 * prefix (an existing requester) are removed again at teardown if they are still there.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { credentialOf, type Grant, type GrantSource } from '../../contract.ts';
import { addMember, carriesPrefix, type LdapClient, removeMember, values } from '../client.ts';
import { groupSettings } from '../existing-entry.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { describeLdapError } from '../probes.ts';
import { entryEntitlements } from '../entitlements.ts';
import { bindExtensions } from '../extension.ts';
import {
  addGroup,
  brokerParams,
  type EntryLifetime,
  groupsBase,
  type Identity,
  type LdapGrantContext,
  named,
  removeScenario,
  requesterEntries,
  setTtl,
  termOf,
} from '../fixtures.ts';
import { LinkTtlControl, parseLinkValue, ttlDn } from '../link-ttl.ts';
import { GRANT_GROUP_TERM } from '../terms.ts';

const pathName = z.enum(['direct', 'nested']);
type PathName = z.infer<typeof pathName>;

const params = brokerParams.extend({
  /** An existing group the membership lands in, instead of the point of use's grant group; never otherwise changed. */
  group: z.string().min(3).optional(),
  /** Lifetime of each membership as the directory enforces it (native only). */
  ttlSeconds: seconds,
  /** `native`: time-bound by the directory (dynamic grant group, or AD link TTL); `static` (broken): a plain member value. */
  membership: z.enum(['native', 'static']).default('native'),
  /** `direct`: into the grant group; `nested`: into a scenario group that is itself a member of the grant group. */
  paths: z.array(pathName).min(1).default(['direct']),
  /** Paths the broker removes at task end; every granted path when absent, none when empty (broken). */
  revoke: z.array(pathName).optional(),
});
type Params = z.infer<typeof params>;
type Ctx = LdapGrantContext<Params>;

type Via = 'dynamic-group' | 'link-ttl' | 'static';

interface PathGrant {
  path: PathName;
  /** The group the membership lands in. */
  target: string;
  via: Via;
  /** The dynamic grant group holding the requester (dynamic-group only). */
  grantGroup?: string;
  lifetime: EntryLifetime;
}

/** The requester the membership is granted to: the point of use's own identity, as its bind. */
function requester(ctx: Ctx): Identity {
  const who = ctx.resource.requester;
  const bind = who && credentialOf(who, 'ldap-bind');
  if (!bind) throw new Error(`group-membership grants a membership to the requester, and ${ctx.pointOfUse.name} gave no LDAP requester (an ldap-bind credential)`);
  return bind;
}

function grantGroupOf(ctx: Ctx): string {
  return ctx.params.group ?? termOf(ctx, GRANT_GROUP_TERM);
}

function teamDn(ctx: Ctx): string {
  return named(ctx, 'team', groupsBase(ctx));
}

function targetOf(ctx: Ctx, path: PathName): string {
  return path === 'direct' ? grantGroupOf(ctx) : teamDn(ctx);
}

function grants(ctx: Ctx): PathGrant[] {
  return (ctx.state.get('grants') as PathGrant[] | undefined) ?? [];
}

function viaFor(ctx: Ctx): Via {
  if (ctx.params.membership === 'static') return 'static';
  return ctx.client.settings.flavour === 'active-directory' ? 'link-ttl' : 'dynamic-group';
}

/** The TTL the DC states for `member` in `group`, read with the LINK_TTL control. */
async function linkTtl(ctx: Ctx, group: string, member: string): Promise<number | null> {
  const result = await ctx.client.admin.use((c) => c.search(group, { scope: 'base', attributes: ['member'] }, [new LinkTtlControl()]));
  const link = values(result.searchEntries[0], 'member')
    .map(parseLinkValue)
    .find((v) => v.dn.toLowerCase() === member.toLowerCase());
  return link?.ttlSeconds ?? null;
}

async function grantPath(ctx: Ctx, path: PathName, who: Identity): Promise<PathGrant> {
  const target = targetOf(ctx, path);
  const via = viaFor(ctx);
  const now = new Date().toISOString();
  if (via === 'dynamic-group') {
    const grantGroup = named(ctx, `grant-${path}`, groupsBase(ctx));
    await addGroup(ctx, grantGroup, [who.dn], true);
    const lifetime = await setTtl(ctx, grantGroup, ctx.params.ttlSeconds);
    await addMember(ctx.client, target, grantGroup);
    return { path, target, via, grantGroup, lifetime };
  }
  if (via === 'link-ttl') {
    await addMember(ctx.client, target, ttlDn(who.dn, Math.max(1, Math.round(ctx.params.ttlSeconds))));
    const ttl = await linkTtl(ctx, target, who.dn);
    return { path, target, via, lifetime: { createdAt: now, ttlSeconds: ttl, expiresAt: ttl === null ? null : new Date(Date.now() + ttl * 1000).toISOString() } };
  }
  await addMember(ctx.client, target, who.dn);
  return { path, target, via, lifetime: { createdAt: now, ttlSeconds: null, expiresAt: null } };
}

async function revokePath(ctx: Ctx, grant: PathGrant, who: Identity): Promise<void> {
  if (grant.via === 'dynamic-group' && grant.grantGroup) {
    await removeMember(ctx.client, grant.target, grant.grantGroup);
    await ctx.client.admin.use((c) => c.del(grant.grantGroup as string));
    return;
  }
  await removeMember(ctx.client, grant.target, who.dn);
}

/** Member values the holder wrote with its own bind (group, member). */
const WRITTEN = 'writtenByHolder';

/** Remove the requester's own member values this source granted (or its holder wrote), where they are still there. */
async function removeRequesterValues(ctx: Ctx): Promise<string[]> {
  const who = ctx.resource.requester && credentialOf(ctx.resource.requester, 'ldap-bind');
  if (!who || carriesPrefix(who.dn, ctx.prefix)) return [];
  const values: [string, string][] = [
    ...grants(ctx).filter((g) => g.via !== 'dynamic-group').map((g): [string, string] => [g.target, who.dn]),
    ...((ctx.state.get(WRITTEN) as [string, string][] | undefined) ?? []),
  ];
  const removed: string[] = [];
  for (const [group, member] of values) {
    try {
      await removeMember(ctx.client, group, member);
      removed.push(`member ${member} of ${group}`);
    } catch (error) {
      const answer = describeLdapError(error);
      // noSuchAttribute (16) or noSuchObject (32): already gone (revoked, expired).
      if (answer.kind !== 'result' || (answer.code !== 16 && answer.code !== 32)) throw error;
    }
  }
  return removed;
}

function chainOf(ctx: Ctx, grant: PathGrant, who: Identity): string {
  const chain = [grantGroupOf(ctx)];
  if (grant.path === 'nested') chain.push(grant.target);
  if (grant.grantGroup) chain.push(grant.grantGroup);
  chain.push(who.dn);
  return chain.join(' <- ');
}

export const groupMembershipSource: GrantSource<Params, LdapClient> = {
  title: 'Temporary membership in the group an ACL grants through',
  params,
  issues: ['ldap-bind'],
  needs: [GRANT_GROUP_TERM],

  checks: () => ['reuse-denied', 'holder-cannot-extend'],

  remediation: {
    'ttl-bounded':
      'Grant the membership time-bound by the directory: through a dynamic grant group (dynamicObject) whose entryTtl fits the approval window, or on Active Directory as an expiring link <TTL=n,DN>; never as a plain member value.',
    'reuse-denied': 'At task end remove every path the grant created (the direct membership and each nested group), so nothing still leads the requester into the grant group.',
    'holder-cannot-extend': "Do not let a group's members write its member attribute or refresh its entryTtl: only the broker may change the grant groups.",
    'no-residue': 'Remove every member value and grant group the task created, nested paths included, when the task ends (or let dds and refint remove dynamic grant groups at their TTL).',
  },

  async setup(ctx) {
    requester(ctx);
    const existing = ctx.params.group;
    if (existing) {
      try {
        await useExisting(ctx, `group ${existing}`, () => groupSettings(ctx.client, existing));
      } catch (error) {
        throw new Error(`the existing group ${existing} could not be read: ${describeLdapError(error).text}`);
      }
    }
    if (ctx.params.paths.includes('nested')) {
      const team = teamDn(ctx);
      const grantGroup = grantGroupOf(ctx);
      await addGroup(ctx, team, [], false);
      await addMember(ctx.client, grantGroup, team);
      ctx.evidence.record('nested group created inside the grant group (an alternate path to the privilege)', { group: team, memberOf: grantGroup });
    }
  },

  // What it issued: the groups it made (the requester's entry is the point of use's, not a grant).
  entitlements: (ctx) => entryEntitlements(ctx.client, ctx.prefix, requesterEntries(ctx)),

  async request(ctx): Promise<Grant> {
    const who = requester(ctx);
    const made: PathGrant[] = [];
    for (const path of ctx.params.paths) made.push(await grantPath(ctx, path, who));
    ctx.state.set('grants', made);
    const issuedAt = made.map((g) => g.lifetime.createdAt).sort()[0] ?? new Date().toISOString();
    const ttls = made.map((g) => g.lifetime.ttlSeconds);
    const expiries = made.map((g) => g.lifetime.expiresAt);
    ctx.evidence.record('memberships granted', {
      paths: made.map((g) => ({ path: g.path, via: g.via, chain: chainOf(ctx, g, who), entryTtl: g.lifetime.ttlSeconds, expiresAt: g.lifetime.expiresAt })),
    });
    if (made.some((g) => g.via === 'static')) ctx.evidence.record('broken setup: plain member values, which the directory never expires');
    return {
      credentialId: `membership of ${who.dn}`,
      issuedAt,
      expiresAt: expiries.some((e) => e === null) ? null : ((expiries as string[]).sort().at(-1) ?? null),
      ttlRequestedSeconds: ctx.params.membership === 'native' ? ctx.params.ttlSeconds : null,
      ttlGrantedSeconds: ttls.some((t) => t === null) ? null : Math.max(...(ttls as number[])),
      scopeGranted: made.map((g) => `${ctx.resource.description} via ${chainOf(ctx, g, who)}`),
      attributes: { paths: made.map((g) => g.path).join(','), via: made.map((g) => g.via).join(','), requester: who.dn },
      // The requester's own bind, as the point of use made it: the membership is what was granted.
      credential: who,
      handles: [{ name: 'new connection bound as the requester', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(who, node) }],
      // The requester's bind outlives the grant; what it may try is to keep the membership alive.
      extensions: bindExtensions(ctx.client, {
        holder: who,
        windowEndsAt: Date.parse(issuedAt) + ctx.task.windowSeconds * 1000,
        ownEntryDynamic: false,
        dynamicGroups: made.flatMap((g) => (g.grantGroup ? [g.grantGroup] : [])),
        grantGroups: [grantGroupOf(ctx), ...made.map((g) => g.target)],
        onWritten: (group, member) => ctx.state.set(WRITTEN, [...((ctx.state.get(WRITTEN) as [string, string][] | undefined) ?? []), [group, member]]),
      }),
    };
  },

  async end(ctx, _grant, mode) {
    const who = requester(ctx);
    // Expiry is the directory's: dds deletes the dynamic grant groups, refint drops their nesting.
    if (mode !== 'revoke') return;
    const revoke = ctx.params.revoke ?? ctx.params.paths;
    const left = grants(ctx).filter((g) => !revoke.includes(g.path));
    for (const g of grants(ctx).filter((x) => revoke.includes(x.path))) await revokePath(ctx, g, who);
    if (left.length > 0) {
      ctx.evidence.record(`broken setup: the broker leaves ${left.map((g) => g.path).join(', ')} membership in place at task end`, {
        left: left.map((g) => chainOf(ctx, g, who)),
      });
    }
  },

  async teardown(ctx) {
    // Member values naming the requester itself (a static path, a holder's own write): a requester
    // carrying no prefix (an existing one) is found by no prefix sweep.
    const removed = await removeRequesterValues(ctx);
    // Its groups and every membership it granted; the requester's entry is left to the point of use.
    removed.push(...(await removeScenario(ctx, requesterEntries(ctx))));
    if (ctx.params.group) await confirmUnchanged(ctx);
    return removed;
  },
};
