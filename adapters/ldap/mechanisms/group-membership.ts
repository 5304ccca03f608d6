/**
 * `group-membership`: the broker puts the requester into the grant group for the task, directly
 * or through a second, nested group (an alternate admin path), and takes it out at task end.
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
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import type { GrantRecord, Mechanism } from '../../contract.ts';
import { auditScenario, expectAudit } from '../audit.ts';
import { addMember, type LdapClient, removeMember, values } from '../client.ts';
import { scenarioEntitlements } from '../entitlements.ts';
import { bindExtensions } from '../extension.ts';
import {
  addGroup,
  createRequester,
  type EntryLifetime,
  fixtureParams,
  groupsBase,
  type Identity,
  type LdapContext,
  markStart,
  named,
  removeScenario,
  requester,
  setTtl,
} from '../fixtures.ts';
import { LinkTtlControl, parseLinkValue, ttlDn } from '../link-ttl.ts';
import { readProtected } from '../probes.ts';
import { keepSessionOpen, newConnectionRead, openSession, protectedTarget } from '../sessions.ts';

const pathName = z.enum(['direct', 'nested']);
type PathName = z.infer<typeof pathName>;

const params = fixtureParams.extend({
  /** Lifetime of each membership as the directory enforces it (native only). */
  ttlSeconds: seconds,
  /** `native`: time-bound by the directory (dynamic grant group, or AD link TTL); `static` (broken): a plain member value. */
  membership: z.enum(['native', 'static']).default('native'),
  /** `direct`: into the grant group; `nested`: into a scenario group that is itself a member of the grant group. */
  paths: z.array(pathName).min(1).default(['direct']),
  /** Paths the broker removes at task end; every granted path when absent, none when empty (broken). */
  revoke: z.array(pathName).optional(),
  /** Broken setup: the requester already sits in the grant group before any grant. */
  standingMembership: z.boolean().default(false),
  /**
   * Where the requester lives: `accounts` (conformant), or `dn-granted` (broken): the subtree the
   * ACL also grants by location (a DN rule), a second path to the privilege beside the membership
   * that no revocation of the membership ends.
   */
  requesterIn: z.enum(['accounts', 'dn-granted']).default('accounts'),
});
type Params = z.infer<typeof params>;
type Ctx = LdapContext<Params>;

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

function teamDn(ctx: Ctx): string {
  return named(ctx, 'team', groupsBase(ctx));
}

function targetOf(ctx: Ctx, path: PathName): string {
  return path === 'direct' ? ctx.client.layout.grantGroupDn : teamDn(ctx);
}

function requesterBase(ctx: Ctx): string {
  if (ctx.params.requesterIn === 'accounts') return ctx.client.layout.accountsDn;
  const dnGranted = ctx.client.layout.dnGrantedDn;
  if (!dnGranted) throw new Error('requesterIn: dn-granted needs a subtree the ACL grants by location (dnGrantedDn); this target has none');
  return dnGranted;
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
    expectAudit(ctx, { stage: 'grant', type: 'add', dn: grantGroup, by: 'the broker' });
    const lifetime = await setTtl(ctx, grantGroup, ctx.params.ttlSeconds);
    expectAudit(ctx, { stage: 'grant', type: 'modify', dn: grantGroup, modPrefix: 'entryTtl:= ', by: 'the broker (RFC 2589 refresh)' });
    await addMember(ctx.client, target, grantGroup);
    expectAudit(ctx, { stage: 'grant', type: 'modify', dn: target, mod: `member:+ ${grantGroup}`, by: 'the broker' });
    return { path, target, via, grantGroup, lifetime };
  }
  if (via === 'link-ttl') {
    await addMember(ctx.client, target, ttlDn(who.dn, Math.max(1, Math.round(ctx.params.ttlSeconds))));
    const ttl = await linkTtl(ctx, target, who.dn);
    return { path, target, via, lifetime: { createdAt: now, ttlSeconds: ttl, expiresAt: ttl === null ? null : new Date(Date.now() + ttl * 1000).toISOString() } };
  }
  await addMember(ctx.client, target, who.dn);
  expectAudit(ctx, { stage: 'grant', type: 'modify', dn: target, mod: `member:+ ${who.dn}`, by: 'the broker' });
  return { path, target, via, lifetime: { createdAt: now, ttlSeconds: null, expiresAt: null } };
}

async function revokePath(ctx: Ctx, grant: PathGrant, who: Identity): Promise<void> {
  if (grant.via === 'dynamic-group' && grant.grantGroup) {
    await removeMember(ctx.client, grant.target, grant.grantGroup);
    expectAudit(ctx, { stage: 'removal', type: 'modify', dn: grant.target, mod: `member:- ${grant.grantGroup}`, by: 'the broker' });
    await ctx.client.admin.use((c) => c.del(grant.grantGroup as string));
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn: grant.grantGroup, by: 'the broker' });
    return;
  }
  await removeMember(ctx.client, grant.target, who.dn);
  expectAudit(ctx, { stage: 'removal', type: 'modify', dn: grant.target, mod: `member:- ${who.dn}`, by: 'the broker' });
}

function chainOf(ctx: Ctx, grant: PathGrant, who: Identity): string {
  const chain = [ctx.client.layout.grantGroupDn];
  if (grant.path === 'nested') chain.push(grant.target);
  if (grant.grantGroup) chain.push(grant.grantGroup);
  chain.push(who.dn);
  return chain.join(' <- ');
}

export const groupMembershipMechanism: Mechanism<Params, LdapClient> = {
  title: 'Temporary membership in the group an ACL grants through',
  params,

  checks: (p) => [
    'reuse-denied',
    ...(p.keepSessionOpen ? ['session-ended-with-task'] : []),
    ...(p.audit === 'judge' ? ['audit-trail'] : []),
    'holder-cannot-extend',
  ],

  async setup(ctx) {
    markStart(ctx);
    const who = await createRequester(ctx, requesterBase(ctx));
    if (ctx.params.requesterIn === 'dn-granted') ctx.evidence.record('broken setup: the requester lives where the ACL grants the read by location (a DN rule)', { dn: who.dn });
    const { grantGroupDn } = ctx.client.layout;
    if (ctx.params.paths.includes('nested')) {
      const team = teamDn(ctx);
      await addGroup(ctx, team, [], false);
      await addMember(ctx.client, grantGroupDn, team);
      ctx.evidence.record('nested group created inside the grant group (an alternate path to the privilege)', { group: team, memberOf: grantGroupDn });
    }
    if (ctx.params.standingMembership) {
      await addMember(ctx.client, grantGroupDn, who.dn);
      ctx.evidence.record('broken setup: the requester is a standing member of the grant group', { group: grantGroupDn, member: who.dn });
    }
  },

  entitlements: (ctx) => scenarioEntitlements(ctx.client, ctx.prefix),

  probeStanding: (ctx) => newConnectionRead(ctx, requester(ctx)),

  async request(ctx) {
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
    const record: GrantRecord = {
      credentialId: `membership of ${who.dn}`,
      issuedAt,
      expiresAt: expiries.some((e) => e === null) ? null : ((expiries as string[]).sort().at(-1) ?? null),
      ttlRequestedSeconds: ctx.params.membership === 'native' ? ctx.params.ttlSeconds : null,
      ttlGrantedSeconds: ttls.some((t) => t === null) ? null : Math.max(...(ttls as number[])),
      scopeGranted: made.map((g) => `read ${ctx.client.layout.resourceAttribute} of ${ctx.client.layout.resourceDn} via ${chainOf(ctx, g, who)}`),
      attributes: { paths: made.map((g) => g.path).join(','), via: made.map((g) => g.via).join(','), requester: who.dn },
      handles: [{ name: 'new connection bound as the requester', check: 'reuse-denied', probe: (node) => newConnectionRead(ctx, who, node) }],
      // The requester's bind outlives the grant; what it may try is to keep the membership alive.
      extensions: bindExtensions(ctx.client, {
        holder: who,
        windowEndsAt: Date.parse(issuedAt) + ctx.task.windowSeconds * 1000,
        ownEntryDynamic: false,
        dynamicGroups: made.flatMap((g) => (g.grantGroup ? [g.grantGroup] : [])),
        grantGroups: [ctx.client.layout.grantGroupDn, ...made.map((g) => g.target)],
      }),
    };
    return record;
  },

  async use(ctx, grant) {
    const who = requester(ctx);
    const opened = await openSession(ctx, who);
    if ('refused' in opened) return opened.refused;
    const { session } = opened;
    const used = await readProtected(session, protectedTarget(ctx), (v) => ctx.secrets.add(v));
    if (ctx.params.keepSessionOpen && used.outcome === 'allowed') {
      await keepSessionOpen(ctx, session, who.dn, grant.handles, { identityIsTheGrant: false });
    } else {
      await session.unbind().catch(() => undefined);
    }
    return used;
  },

  async end(ctx, _grant, mode) {
    const who = requester(ctx);
    if (mode !== 'revoke') {
      for (const g of grants(ctx)) {
        if (g.via === 'dynamic-group' && g.grantGroup) expectAudit(ctx, { stage: 'removal', type: 'delete', dn: g.grantGroup, by: 'the directory (dds expiry)' });
      }
      return;
    }
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
    await auditScenario(ctx, ctx.params.audit, ctx.params.auditWaitSeconds);
    return removeScenario(ctx);
  },
};
