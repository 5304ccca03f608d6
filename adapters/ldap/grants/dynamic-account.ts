/**
 * `dynamic-account`: the broker creates a temporary service account as an RFC 2589 dynamic object
 * with an entryTtl, and grants it the privilege through membership in the group the point of
 * use's ACL grants through (the `ldap.grant-group` term). The credential it hands on is the new
 * account's bind: the account is the grant. Past the TTL the directory itself must delete the
 * account (and, with referential integrity, its membership), so a new bind fails and nothing is left.
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
import type { Grant, GrantSource } from '../../contract.ts';
import { addMember, type LdapClient, removeMember } from '../client.ts';
import { entryEntitlements } from '../entitlements.ts';
import { bindExtensions } from '../extension.ts';
import {
  addAccount,
  brokenSubtree,
  brokerParams,
  type Identity,
  type LdapGrantContext,
  lifetimeOf,
  named,
  newIdentity,
  removeScenario,
  requesterEntries,
  setTtl,
  termOf,
} from '../fixtures.ts';
import { lookupEntry } from '../probes.ts';
import { GRANT_GROUP_TERM } from '../terms.ts';

const params = brokerParams.extend({
  ttlSeconds: seconds,
  /** false (broken): the account is a plain, permanent entry. */
  dynamic: z.boolean().default(true),
  /** `membership` in the grant group; `dn-acl` (broken): created where the ACL grants by location. */
  grantVia: z.enum(['membership', 'dn-acl']).default('membership'),
  /** `accounts`; `self-service` (broken): a subtree whose ACL lets an entry refresh its own entryTtl. */
  accountIn: z.enum(['accounts', 'self-service']).default('accounts'),
});
type Params = z.infer<typeof params>;
type Ctx = LdapGrantContext<Params>;

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

export const dynamicAccountSource: GrantSource<Params, LdapClient> = {
  title: 'Temporary service account as a dynamic object (RFC 2589 entryTtl)',
  params,
  issues: ['ldap-bind'],
  needs: [GRANT_GROUP_TERM],

  checks: (p) => [
    'reuse-denied',
    'credential-invalidated',
    ...(p.dynamic ? ['holder-cannot-extend'] : []),
  ],

  remediation: {
    'ttl-bounded': "Create the temporary account as a dynamicObject and refresh its entryTtl to no more than the approval window (with the directory's dds-max-ttl no longer).",
    'reuse-denied':
      'Create the account as a dynamicObject whose entryTtl fits the window, and grant it by membership in the grant group rather than by where it lives (no ACL rule on its DN), so its expiry ends the access.',
    'credential-invalidated': 'Let the directory delete the account at its TTL (dynamicObject under the dds overlay), or delete it at task end: its entry must be gone once the grant ends.',
    'holder-cannot-extend': 'Remove any ACL rule that lets an entry write its own entryTtl (RFC 2589 refresh): only the broker may refresh the temporary account.',
    'no-residue': 'Delete the temporary account and its grant-group membership at task end, or create it as a dynamicObject with refint on member, so the directory removes both.',
  },

  async setup(ctx) {
    termOf(ctx, GRANT_GROUP_TERM);
    if (ctx.params.accountIn === 'self-service') ctx.evidence.record("broken setup: the account lives where the directory's ACL lets an entry refresh its own entryTtl", { subtree: ctx.client.layout.selfServiceDn });
    // The account does not exist yet; its name and password do, so the baseline can try them.
    ctx.state.set('account', newIdentity(ctx, named(ctx, 'svc', accountBase(ctx))));
  },

  // What it issued: the account (the requester's entry is the point of use's, not a grant).
  entitlements: (ctx) => entryEntitlements(ctx.client, ctx.prefix, requesterEntries(ctx)),

  // The grant path by itself: before the grant the account must not exist, so its bind is refused at the point of use.
  probeStanding: (ctx) => ctx.pointOfUse.probe(account(ctx)),

  async request(ctx): Promise<Grant> {
    const grantGroup = termOf(ctx, GRANT_GROUP_TERM);
    const { layout } = ctx.client;
    const svc = account(ctx);
    await addAccount(ctx, svc.dn, svc.password, { dynamic: ctx.params.dynamic });
    const lifetime = ctx.params.dynamic ? await setTtl(ctx, svc.dn, ctx.params.ttlSeconds) : await lifetimeOf(ctx.client, svc.dn);
    if (ctx.params.grantVia === 'membership') {
      await addMember(ctx.client, grantGroup, svc.dn);
    } else {
      ctx.evidence.record('broken setup: the account is granted by where it lives (an ACL rule on its DN), not by a membership', { dnGranted: layout.dnGrantedDn });
    }
    if (!ctx.params.dynamic) ctx.evidence.record('broken setup: the account is a permanent entry, without dynamicObject');
    ctx.evidence.record('temporary account created', { dn: svc.dn, dynamicObject: ctx.params.dynamic, entryTtl: lifetime.ttlSeconds, entryExpireTimestamp: lifetime.expiresAt });
    return {
      credentialId: `account ${svc.dn}`,
      issuedAt: lifetime.createdAt,
      expiresAt: lifetime.expiresAt,
      ttlRequestedSeconds: ctx.params.ttlSeconds,
      ttlGrantedSeconds: lifetime.ttlSeconds,
      scopeGranted: [
        ctx.params.grantVia === 'membership' ? `${ctx.resource.description} (member of ${grantGroup})` : `${ctx.resource.description} (ACL rule on ${layout.dnGrantedDn})`,
      ],
      attributes: { dynamicObject: ctx.params.dynamic, grantVia: ctx.params.grantVia, entryTtl: lifetime.ttlSeconds },
      credential: svc,
      handles: [
        { name: 'new bind as the temporary account', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(svc, node) },
        // Issuer-side: the broker asks its own directory whether the account still exists.
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
  },

  async end(ctx, _grant, mode) {
    const svc = account(ctx);
    if (mode !== 'revoke') {
      // The directory must end it: dds deletes the expired entry, refint drops its membership.
      return;
    }
    if (ctx.params.grantVia === 'membership') {
      const grantGroup = termOf(ctx, GRANT_GROUP_TERM);
      await removeMember(ctx.client, grantGroup, svc.dn);
    }
    await ctx.client.admin.use((c) => c.del(svc.dn));
  },

  async teardown(ctx) {
    // The account and its membership; the requester's entry is left to the point of use.
    return removeScenario(ctx, requesterEntries(ctx));
  },
};
