/**
 * `dynamic-account`: the broker creates a temporary service account as an RFC 2589 dynamic object
 * with an entryTtl, and grants it the privilege through membership in the grant group. The task
 * binds with it and reads; past the TTL the directory itself must delete the account (and, with
 * referential integrity, its membership), so a new bind fails and nothing is left.
 *
 * The account is the credential, so the holder's way to stretch it is to refresh its own entryTtl
 * (extension.ts); the directory's ACL must refuse that.
 *
 * Broken setups for the twins and mutants: a permanent entry (no dynamicObject), an account granted
 * by where it lives (a DN rule in the ACL) instead of by membership, and an account living where
 * the ACL lets it refresh itself.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import type { GrantRecord, Mechanism } from '../../contract.ts';
import { auditScenario, expectAudit } from '../audit.ts';
import { addMember, type LdapClient, removeMember } from '../client.ts';
import { bindExtensions } from '../extension.ts';
import { scenarioEntitlements } from '../entitlements.ts';
import { addAccount, brokenSubtree, fixtureParams, type Identity, type LdapContext, lifetimeOf, markStart, named, newIdentity, removeScenario, setTtl } from '../fixtures.ts';
import { lookupEntry, readProtected } from '../probes.ts';
import { keepSessionOpen, newConnectionRead, openSession, protectedTarget } from '../sessions.ts';

const params = fixtureParams.extend({
  ttlSeconds: seconds,
  /** false (broken): the account is a plain, permanent entry. */
  dynamic: z.boolean().default(true),
  /** `membership` in the grant group; `dn-acl` (broken): created where the ACL grants by location. */
  grantVia: z.enum(['membership', 'dn-acl']).default('membership'),
  /** `accounts`; `self-service` (broken): a subtree whose ACL lets an entry refresh its own entryTtl. */
  accountIn: z.enum(['accounts', 'self-service']).default('accounts'),
});
type Params = z.infer<typeof params>;
type Ctx = LdapContext<Params>;

function account(ctx: Ctx): Identity {
  const identity = ctx.state.get('account') as Identity | undefined;
  if (!identity) throw new Error('no account: setup did not run');
  return identity;
}

function accountBase(ctx: Ctx): string {
  if (ctx.params.accountIn === 'self-service') {
    if (ctx.params.grantVia !== 'membership') throw new Error('accountIn: self-service and grantVia: dn-acl each place the account; choose one');
    return brokenSubtree(ctx.client, 'self-service', 'accountIn');
  }
  if (ctx.params.grantVia === 'membership') return ctx.client.layout.accountsDn;
  const dnGranted = ctx.client.layout.dnGrantedDn;
  if (!dnGranted) throw new Error('grantVia: dn-acl needs a subtree the ACL grants by location (dnGrantedDn); this target has none');
  return dnGranted;
}

export const dynamicAccountMechanism: Mechanism<Params, LdapClient> = {
  title: 'Temporary service account as a dynamic object (RFC 2589 entryTtl)',
  params,

  checks: (p) => [
    'reuse-denied',
    'credential-invalidated',
    ...(p.keepSessionOpen ? ['session-ended-with-task'] : []),
    ...(p.audit === 'judge' ? ['audit-trail'] : []),
    ...(p.dynamic ? ['holder-cannot-extend'] : []),
  ],

  async setup(ctx) {
    markStart(ctx);
    if (ctx.params.accountIn === 'self-service') ctx.evidence.record("broken setup: the account lives where the directory's ACL lets an entry refresh its own entryTtl", { subtree: ctx.client.layout.selfServiceDn });
    // The account does not exist yet; its name and password do, so the baseline can try them.
    ctx.state.set('account', newIdentity(ctx, named(ctx, 'svc', accountBase(ctx))));
  },

  entitlements: (ctx) => scenarioEntitlements(ctx.client, ctx.prefix),

  // Before the grant the account must not exist: its bind is refused.
  probeStanding: (ctx) => newConnectionRead(ctx, account(ctx)),

  async request(ctx) {
    const { layout } = ctx.client;
    const svc = account(ctx);
    await addAccount(ctx, svc.dn, svc.password, { dynamic: ctx.params.dynamic });
    expectAudit(ctx, { stage: 'grant', type: 'add', dn: svc.dn, by: 'the broker' });
    const lifetime = ctx.params.dynamic ? await setTtl(ctx, svc.dn, ctx.params.ttlSeconds) : await lifetimeOf(ctx.client, svc.dn);
    if (ctx.params.dynamic) expectAudit(ctx, { stage: 'grant', type: 'modify', dn: svc.dn, modPrefix: 'entryTtl:= ', by: 'the broker (RFC 2589 refresh)' });
    if (ctx.params.grantVia === 'membership') {
      await addMember(ctx.client, layout.grantGroupDn, svc.dn);
      expectAudit(ctx, { stage: 'grant', type: 'modify', dn: layout.grantGroupDn, mod: `member:+ ${svc.dn}`, by: 'the broker' });
    } else {
      ctx.evidence.record('broken setup: the account is granted by where it lives (an ACL rule on its DN), not by a membership', { dnGranted: layout.dnGrantedDn });
    }
    if (!ctx.params.dynamic) ctx.evidence.record('broken setup: the account is a permanent entry, without dynamicObject');
    ctx.evidence.record('temporary account created', { dn: svc.dn, dynamicObject: ctx.params.dynamic, entryTtl: lifetime.ttlSeconds, entryExpireTimestamp: lifetime.expiresAt });
    const record: GrantRecord = {
      credentialId: `account ${svc.dn}`,
      issuedAt: lifetime.createdAt,
      expiresAt: lifetime.expiresAt,
      ttlRequestedSeconds: ctx.params.ttlSeconds,
      ttlGrantedSeconds: lifetime.ttlSeconds,
      scopeGranted: [
        ctx.params.grantVia === 'membership'
          ? `read ${layout.resourceAttribute} of ${layout.resourceDn} (member of ${layout.grantGroupDn})`
          : `read ${layout.resourceAttribute} of ${layout.resourceDn} (ACL rule on ${layout.dnGrantedDn})`,
      ],
      attributes: { dynamicObject: ctx.params.dynamic, grantVia: ctx.params.grantVia, entryTtl: lifetime.ttlSeconds },
      handles: [
        { name: 'new bind as the temporary account', check: 'reuse-denied', probe: (node) => newConnectionRead(ctx, svc, node) },
        {
          name: 'temporary account entry looked up by the broker',
          check: 'credential-invalidated',
          probe: (node) => lookupEntry(() => ctx.client.openBroker(node), svc.dn),
        },
      ],
      // The account is the grant: it can only stretch itself. A permanent entry has nothing to refresh.
      extensions: bindExtensions(ctx.client, {
        holder: svc,
        windowEndsAt: Date.parse(lifetime.createdAt) + ctx.task.windowSeconds * 1000,
        ownEntryDynamic: ctx.params.dynamic,
        dynamicGroups: [],
      }),
    };
    return record;
  },

  async use(ctx, grant) {
    const svc = account(ctx);
    const opened = await openSession(ctx, svc);
    if ('refused' in opened) return opened.refused;
    const { session } = opened;
    const used = await readProtected(session, protectedTarget(ctx), (v) => ctx.secrets.add(v));
    if (ctx.params.keepSessionOpen && used.outcome === 'allowed') {
      await keepSessionOpen(ctx, session, svc.dn, grant.handles, { identityIsTheGrant: true });
    } else {
      await session.unbind().catch(() => undefined);
    }
    return used;
  },

  async end(ctx, _grant, mode) {
    const svc = account(ctx);
    if (mode !== 'revoke') {
      // The directory must end it: dds deletes the expired entry, refint drops its membership.
      if (ctx.params.dynamic) expectAudit(ctx, { stage: 'removal', type: 'delete', dn: svc.dn, by: 'the directory (dds expiry)' });
      return;
    }
    if (ctx.params.grantVia === 'membership') {
      await removeMember(ctx.client, ctx.client.layout.grantGroupDn, svc.dn);
      expectAudit(ctx, { stage: 'removal', type: 'modify', dn: ctx.client.layout.grantGroupDn, mod: `member:- ${svc.dn}`, by: 'the broker' });
    }
    await ctx.client.admin.use((c) => c.del(svc.dn));
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn: svc.dn, by: 'the broker' });
  },

  async teardown(ctx) {
    await auditScenario(ctx, ctx.params.audit, ctx.params.auditWaitSeconds);
    return removeScenario(ctx);
  },
};
