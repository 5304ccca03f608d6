/**
 * `break-glass`: the directory's emergency path, kept apart from the routine one. The path is the
 * break-glass group, read like the grant group, whose `member` only its operators may write (the
 * local slapd's ACL, slapd-config.ts); the break-glass identity is an operator and nothing else.
 * An emergency grant is a dynamic group (RFC 2589 entryTtl, set by the broker to the emergency
 * window) holding the break-glass identity, which the identity itself puts into the break-glass
 * group with its own bind: its use of the path. The directory deletes the group at its TTL and
 * refint drops it from the break-glass group.
 *
 * Beside the lifecycle the engine runs on every grant:
 * - the routine JIT identity (the point of use's requester) tries to write itself into the
 *   break-glass group with its own bind: only the directory's insufficientAccessRights passes
 *   (`break-glass-isolated`);
 * - the break-glass identity outside an emergency reads nothing (judged as `zero-standing-privilege`);
 * - after the first use a second emergency grant is asked for while the first is open and recorded
 *   as such; with `maxOpen` the path must refuse grants beyond it (`break-glass-one-open`). An ACL
 *   cannot count a group's members, so a bare directory path fails that check: only a broker in
 *   front of the path can keep one emergency grant open.
 *
 * With `existing:` the break-glass group and the break-glass identity are the user's own (its
 * password from the variable named): only the emergency groups are created, the group is read
 * before and after and otherwise never changed, and the routine identity is the point of use's
 * requester. Every grant the scenario obtains is an emergency use on that path: the scenario is
 * opt-in in scheduled runs (README, "Break-glass").
 *
 * The shared judging of isolation and of grants open at once is adapters/break-glass.ts.
 */
import { Attribute, Change, type Client } from 'ldapts';
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { askWhileOpen, reportIsolation } from '../../break-glass.ts';
import { bornCredential, credentialOf, type Grant, type GrantSource, type ProbeResult } from '../../contract.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { distinguishedName, envName } from '../../param-fields.ts';
import { addMember, type LdapClient, removeMember } from '../client.ts';
import { entryEntitlements } from '../entitlements.ts';
import { groupSettings } from '../existing-entry.ts';
import { bindExtensions } from '../extension.ts';
import { addAccount, addGroup, brokerParams, type EntryLifetime, groupsBase, type Identity, type LdapGrantContext, lifetimeOf, named, newIdentity, removeScenario, requesterEntries, setTtl } from '../fixtures.ts';
import { describeLdapError } from '../probes.ts';

const params = brokerParams
  .extend({
    /** The user's own break-glass group and identity; nothing but the emergency groups is created. */
    existing: z
      .strictObject({
        /** The group the directory's ACL grants the read through, whose member only the break-glass identity may write. */
        groupDn: distinguishedName,
        identityDn: distinguishedName,
        /** The variable holding the break-glass identity's password. */
        identityPasswordEnv: envName,
      })
      .optional(),
  /** Lifetime the broker gives an emergency grant; absent: the approval window. */
  ttlSeconds: seconds.optional(),
  /** false (broken): the emergency group is a plain entry, which nothing but a revocation removes. */
  timeBound: z.boolean().default(true),
  /** Broken setup: the routine JIT identity is a break-glass operator too. */
  routineMayUseBreakGlass: z.boolean().default(false),
  /** Emergency grants the path may have open at once; absent: a second one is only recorded. */
  maxOpen: z.number().int().min(1).max(3).optional(),
  })
  .superRefine((p, issue) => {
    if (p.existing && p.routineMayUseBreakGlass) issue.addIssue({ code: 'custom', path: ['routineMayUseBreakGlass'], message: "not with existing: the break-glass group's ACL is the user's own and is never changed" });
  });
type Params = z.infer<typeof params>;
type Ctx = LdapGrantContext<Params>;

const IDENTITY = 'breakGlassIdentity';
const EMERGENCY = 'emergencyGroups';

interface Path {
  group: string;
  /** Who may write the group, where jitc made it; the user's own ACL says so otherwise. */
  operators?: string;
}

function pathOf(ctx: Ctx): Path {
  if (ctx.params.existing) return { group: ctx.params.existing.groupDn };
  const { breakGlassGroupDn: group, breakGlassOperatorsDn: operators } = ctx.client.layout;
  if (!group || !operators) throw new Error("this target has no break-glass group of jitc's making: name your own with existing: { groupDn, identityDn, identityPasswordEnv }");
  return { group, operators };
}

const identity = (ctx: Ctx): Identity => ctx.state.get(IDENTITY) as Identity;

function routine(ctx: Ctx): Identity | undefined {
  const who = ctx.resource.requester;
  return (who && credentialOf(who, 'ldap-bind')) || undefined;
}

const emergencies = (ctx: Ctx): string[] => (ctx.state.get(EMERGENCY) as string[] | undefined) ?? [];

/** `member:+ value` on the break-glass group, on a connection bound as `who`: the path used with that identity's own rights. */
async function writeAsOwn(ctx: Ctx, who: Identity, value: string): Promise<ProbeResult> {
  const at = (): string => new Date().toISOString();
  const session: Client = ctx.client.open();
  try {
    try {
      await session.bind(who.dn, who.password);
    } catch (error) {
      // A refused bind is not the path refusing: it says nothing of the ACL.
      return { outcome: 'unknown', at: at(), detail: `bind as ${who.dn}: ${describeLdapError(error).text}` };
    }
    await session.modify(pathOf(ctx).group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [value] }) }));
    return { outcome: 'allowed', at: at(), detail: `member ${value} added to ${pathOf(ctx).group}` };
  } catch (error) {
    const answer = describeLdapError(error);
    return { outcome: answer.kind === 'result' && answer.code === 50 ? 'denied' : 'unknown', at: at(), detail: answer.text };
  } finally {
    await session.unbind().catch(() => undefined);
  }
}

/**
 * One emergency grant: the broker makes the group holding the break-glass identity (time-bound
 * unless broken), and the identity puts it into the break-glass group itself.
 */
async function emergency(ctx: Ctx, n: number): Promise<{ result: ProbeResult; made?: { group: string; lifetime: EntryLifetime } }> {
  const group = named(ctx, `emergency-${n}`, groupsBase(ctx));
  await addGroup(ctx, group, [identity(ctx).dn], ctx.params.timeBound);
  ctx.state.set(EMERGENCY, [...emergencies(ctx), group]);
  const lifetime = ctx.params.timeBound ? await setTtl(ctx, group, ctx.params.ttlSeconds ?? ctx.task.windowSeconds) : await lifetimeOf(ctx.client, group);
  const result = await writeAsOwn(ctx, identity(ctx), group);
  return { result, ...(result.outcome === 'allowed' ? { made: { group, lifetime } } : {}) };
}

async function endEmergency(ctx: Ctx, group: string): Promise<void> {
  try {
    await removeMember(ctx.client, pathOf(ctx).group, group);
    await ctx.client.admin.use((c) => c.del(group));
  } catch (error) {
    ctx.evidence.record(`emergency group ${group} could not be removed at once (teardown tries again): ${describeLdapError(error).text}`);
  }
}

async function stillThere(ctx: Ctx, dn: string): Promise<boolean | undefined> {
  try {
    await ctx.client.admin.search(dn, { scope: 'base', attributes: ['1.1'] });
    return true;
  } catch (error) {
    const answer = describeLdapError(error);
    return answer.kind === 'result' && answer.code === 32 ? false : undefined;
  }
}

export const breakGlassSource: GrantSource<Params, LdapClient> = {
  title: 'Emergency membership through a break-glass group only its operators may write',
  params,
  issues: ['ldap-bind'],
  needs: [],
  checks: (p) => ['break-glass-isolated', 'reuse-denied', 'holder-cannot-extend', ...(p.maxOpen === undefined ? [] : ['break-glass-one-open'])],
  remediation: {
    'ttl-bounded': 'Make each emergency grant a dynamic group (dynamicObject) whose entryTtl fits the emergency window: an emergency grant expires like any other',
    'zero-standing-privilege': 'Let the break-glass identity be an operator of the break-glass group and nothing else: outside an emergency it must read nothing',
    'break-glass-isolated': "Keep the routine JIT identities out of the break-glass operators: only the break-glass identity may write the break-glass group's member",
    'break-glass-one-open': 'An ACL cannot count members: put a broker in front of the break-glass group that refuses a second emergency grant while one is open',
    'reuse-denied': 'Let the emergency group expire at its entryTtl (refint drops it from the break-glass group), or delete it when the emergency ends',
    'holder-cannot-extend': "Give nobody but the broker manage on entryTtl of the emergency groups",
  },

  async setup(ctx) {
    const path = pathOf(ctx);
    const existing = ctx.params.existing;
    if (existing) {
      await useExisting(ctx, `group ${existing.groupDn}`, () => groupSettings(ctx.client, existing.groupDn)).catch((error: unknown) => {
        throw new Error(`the existing break-glass group ${existing.groupDn} could not be read: ${describeLdapError(error).text}`);
      });
      const password = process.env[existing.identityPasswordEnv];
      if (!password) throw new Error(`existing.identityPasswordEnv: the variable ${existing.identityPasswordEnv} holds no password: the break-glass identity cannot be used`);
      ctx.state.set(IDENTITY, bornCredential(ctx.secrets, { type: 'ldap-bind', dn: existing.identityDn, password }));
      ctx.evidence.record("break-glass path: the user's own group and identity, used as they are", { breakGlassGroup: path.group, breakGlassIdentity: existing.identityDn, routineIdentity: routine(ctx)?.dn ?? null });
      return;
    }
    const operators = path.operators as string;
    const who = newIdentity(ctx, named(ctx, 'break-glass', ctx.client.layout.accountsDn));
    await addAccount(ctx, who.dn, who.password, { dynamic: false });
    ctx.state.set(IDENTITY, who);
    await addMember(ctx.client, operators, who.dn);
    const own = routine(ctx);
    if (ctx.params.routineMayUseBreakGlass && own) await addMember(ctx.client, operators, own.dn);
    ctx.evidence.record('break-glass path: the break-glass identity is an operator of the break-glass group, apart from the routine JIT path', {
      breakGlassGroup: path.group,
      operators,
      breakGlassIdentity: who.dn,
      routineIdentity: own?.dn ?? null,
    });
    if (!ctx.params.timeBound) ctx.evidence.record('broken setup: emergency grants are plain groups, without dynamicObject');
    if (ctx.params.routineMayUseBreakGlass) ctx.evidence.record('broken setup: the routine JIT identity is a break-glass operator too', { routineIdentity: own?.dn ?? null });
  },

  // The emergency groups; the break-glass identity is standing (an operator, reading nothing) and the requester is the point's.
  entitlements: (ctx) => entryEntitlements(ctx.client, ctx.prefix, [...requesterEntries(ctx), identity(ctx).dn]),

  // Outside an emergency: the routine identity is refused on the path, and the break-glass
  // identity's own bind reads nothing (its standing privilege, judged by the engine).
  async probeStanding(ctx) {
    const own = routine(ctx);
    const attempt = own ? await writeAsOwn(ctx, own, own.dn) : undefined;
    if (own && attempt) {
      ctx.evidence.record(`routine JIT identity on the break-glass path (member of ${pathOf(ctx).group}): ${attempt.outcome}`, { routineIdentity: own.dn, answer: attempt.detail }, new Date(attempt.at));
      if (attempt.outcome === 'allowed') await removeMember(ctx.client, pathOf(ctx).group, own.dn);
    }
    reportIsolation(ctx, `the break-glass group ${pathOf(ctx).group}`, attempt, 'no routine JIT identity to try the break-glass path with: the point of use gave no requester');
    const standing = await ctx.pointOfUse.probe(identity(ctx));
    ctx.evidence.record(`break-glass identity outside an emergency reads with its own bind: ${standing.outcome}`, { breakGlassIdentity: identity(ctx).dn, answer: standing.detail }, new Date(standing.at));
    return standing;
  },

  async request(ctx): Promise<Grant> {
    const who = identity(ctx);
    const { result, made } = await emergency(ctx, 1);
    if (!made) throw new Error(`the break-glass identity could not use the break-glass path: ${result.outcome} (${result.detail})`);
    const path = pathOf(ctx);
    ctx.evidence.record('emergency grant issued through the break-glass path', { group: made.group, breakGlassGroup: path.group, breakGlassIdentity: who.dn, entryTtl: made.lifetime.ttlSeconds, expiresAt: made.lifetime.expiresAt });
    return {
      credentialId: `emergency membership of ${who.dn}`,
      issuedAt: made.lifetime.createdAt,
      expiresAt: made.lifetime.expiresAt,
      ttlRequestedSeconds: ctx.params.timeBound ? (ctx.params.ttlSeconds ?? ctx.task.windowSeconds) : null,
      ttlGrantedSeconds: made.lifetime.ttlSeconds,
      scopeGranted: [`${ctx.resource.description} via ${path.group} <- ${made.group} <- ${who.dn}`],
      attributes: { breakGlass: true, breakGlassGroup: path.group, breakGlassIdentity: who.dn, group: made.group },
      credential: who,
      handles: [{ name: 'new connection bound as the break-glass identity', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(who, node) }],
      // The identity may write the break-glass group by design (that is the path); what it must not do is stretch this grant.
      extensions: bindExtensions(ctx.client, { holder: who, windowEndsAt: Date.parse(made.lifetime.createdAt) + ctx.task.windowSeconds * 1000, ownEntryDynamic: false, dynamicGroups: [made.group] }),
    };
  },

  // Before the first grant ends: a further emergency request while it is open.
  afterUse: (ctx, grant) => {
    const first = emergencies(ctx)[0] ?? '';
    let n = 1;
    return askWhileOpen(ctx, grant, {
      path: `the break-glass group ${pathOf(ctx).group}`,
      maxOpen: ctx.params.maxOpen,
      request: async () => {
        const { result, made } = await emergency(ctx, ++n);
        return { result, ...(made ? { made: made.group } : {}) };
      },
      firstOpen: () => stillThere(ctx, first),
      release: (group) => endEmergency(ctx, group),
      describe: (group) => ({ group }),
    });
  },

  async end(ctx, _grant, mode) {
    // Expiry is the directory's: dds deletes the emergency group, refint drops it from the break-glass group.
    if (mode !== 'revoke') return;
    const first = emergencies(ctx)[0];
    if (first) {
      await removeMember(ctx.client, pathOf(ctx).group, first);
      await ctx.client.admin.use((c) => c.del(first));
    }
  },

  async teardown(ctx) {
    // The emergency groups, the break-glass identity and its operator membership (member values naming prefixed entries).
    const removed = await removeScenario(ctx, requesterEntries(ctx));
    if (ctx.params.existing) await confirmUnchanged(ctx);
    return removed;
  },
};
