/**
 * `entry`: the directory's point of use. The privileged action is reading a protected attribute
 * of one entry (the layout's resource), which the directory's ACL allows members of the grant
 * group (nested groups included) and nobody else. Here the requester identity is created, the
 * read is tried with any LDAP bind on a connection of its own, and the task's connection is held
 * open across the end when the scenario asks, so a session outliving its grant is caught.
 *
 * The credential it is handed may be the requester's own bind (the grant is a membership) or a
 * new account's (the account is the grant); which, it tells by comparing the credential with the
 * requester. Only an identity that was itself the grant must also lose, once the grant ends, what
 * any authenticated identity may read on its kept-open connection.
 *
 * Broken setups for twins and mutants, both about the requester: it is a standing member of the
 * grant group, or it lives where an ACL rule grants the read by location (a DN rule), a second
 * path to the privilege that no revocation of a membership ends.
 *
 * With `contextBound`, the grant goes through a second grant group whose read the ACL allows on
 * connections from 127.0.0.1 alone; a scenario naming that context has the bind and read tried
 * from elsewhere (`drifted`, scenarios/drift.ts).
 *
 * With `existing:` the entry, the grant group and the requester are the user's own and nothing is
 * created (existing-entry.ts).
 *
 * About a bind it did not see issued (a user's broker issued it) the point reads what makes that DN
 * reach the entry, and until when (reach.ts), and lets its holder try to outlast it with its own
 * bind (extension.ts); a member value a holder wrote is removed again at teardown.
 *
 * Whoever granted, the directory's own log must show the grant, its first use and its end
 * (`audit-trail`, audit.ts): the point knows the identity it was handed, and reads the rest there.
 */
import { z } from 'zod';
import { credentialOf, type Credential, type CredentialOf, type CredentialType, type PointOfUse, type ProbeResult, type Resource } from '../../contract.ts';
import { probeThroughRelay } from '../../loopback-relay.ts';
import { seconds } from '../../../scenarios/durations.ts';
import { judgeAuditTrail, markTrailEnd, openTrail, rememberUse } from '../audit.ts';
import { addMember, type LdapClient } from '../client.ts';
import { pathEntitlements } from '../entitlements.ts';
import { confirmUnchanged } from '../../existing-objects.ts';
import { existingEntryParams, existingRequester, noRequester, rememberWritten, removeWritten, setUpExistingEntry } from '../existing-entry.ts';
import { handedBindExtension } from '../extension.ts';
import { addAccount, type Identity, type LdapContext, named, newIdentity, removeScenario, sameDn } from '../fixtures.ts';
import { bindAndRead, readProtected } from '../probes.ts';
import { reachFacts, readReach } from '../reach.ts';
import { keepSessionOpen, newConnectionRead, openSession, protectedTarget } from '../sessions.ts';
import { ATTRIBUTE_TERM, ENTRY_TERM, GRANT_GROUP_TERM } from '../terms.ts';

const params = z
  .strictObject({
    /** Keep a connection bound during the task open across the end of the grant, and probe it. */
    keepSessionOpen: z.boolean().default(false),
    /** Broken setup: the requester already sits in the grant group before any grant. */
    standingMembership: z.boolean().default(false),
    /**
     * Where the requester lives: `accounts` (conformant), or `dn-granted` (broken): the subtree the
     * ACL also grants by location (a DN rule), a second path to the privilege beside the membership
     * that no revocation of the membership ends.
     */
    requesterIn: z.enum(['accounts', 'dn-granted']).default('accounts'),
    /**
     * Grant through the group whose read the ACL allows on connections from 127.0.0.1 alone (a
     * peername clause): the grant is bound to the context the task runs in (local target only).
     */
    contextBound: z.boolean().default(false),
    /** The user's own entry, grant group and requester (existing-entry.ts): nothing is created. */
    existing: existingEntryParams.optional(),
    /** How long an audit record still missing is read again (the log lags the change) before it counts as missing. */
    auditWaitSeconds: seconds.refine((s) => s > 0, 'must be more than 0').default(10),
  })
  .superRefine((p, issue) => {
    if (!p.existing) return;
    if (p.standingMembership) issue.addIssue({ code: 'custom', path: ['standingMembership'], message: 'not with existing: a broken setup changes the directory, and nothing is created beside existing objects' });
    if (p.contextBound) issue.addIssue({ code: 'custom', path: ['contextBound'], message: 'not with existing: the existing grant group is bound by its own ACL, or not at all' });
    if (p.requesterIn !== 'accounts') issue.addIssue({ code: 'custom', path: ['requesterIn'], message: 'not with existing: the requester is existing.requesterDn' });
    if (p.existing.requesterPasswordEnv && !p.existing.requesterDn) issue.addIssue({ code: 'custom', path: ['existing', 'requesterPasswordEnv'], message: 'names the password of existing.requesterDn: give requesterDn too' });
  });
type Params = z.infer<typeof params>;
type Ctx = LdapContext<Params>;

const ACCEPTS: readonly CredentialType[] = ['ldap-bind'];

function requesterBase(ctx: Ctx): string {
  if (ctx.params.requesterIn === 'accounts') return ctx.client.layout.accountsDn;
  const dnGranted = ctx.client.layout.dnGrantedDn;
  if (!dnGranted) throw new Error('requesterIn: dn-granted needs a subtree the ACL grants by location (dnGrantedDn); this target has none');
  return dnGranted;
}

function requester(ctx: Ctx): Identity {
  const identity = ctx.state.get('requester') as Identity | undefined;
  if (!identity) throw new Error('no requester: setup did not run');
  return identity;
}

/** The DN a kept-open session's identity is compared with: the requester the point made, or the existing one named. */
function requesterDn(ctx: Ctx): string | undefined {
  return ctx.params.existing ? ctx.params.existing.requesterDn : requester(ctx).dn;
}

function grantGroupOf(ctx: Ctx): string {
  if (ctx.params.existing) return ctx.params.existing.grantGroupDn;
  if (!ctx.params.contextBound) return ctx.client.layout.grantGroupDn;
  const bound = ctx.client.layout.boundGrantGroupDn;
  if (!bound) throw new Error('contextBound needs a grant group the ACL binds to 127.0.0.1 (boundGrantGroupDn): the local target');
  return bound;
}

/** Bind on a new connection that leaves from `from` (a loopback relay: ldapts cannot choose), read, close. */
function readFrom(ctx: Ctx, bind: CredentialOf<'ldap-bind'>, from: string): Promise<ProbeResult> {
  const url = new URL(ctx.client.settings.url);
  const port = Number(url.port) || (url.protocol === 'ldaps:' ? 636 : 389);
  return probeThroughRelay({ host: url.hostname, port }, from, (relay) =>
    bindAndRead(() => ctx.client.open(`${url.protocol}//${relay.host}:${relay.port}`), bind.dn, bind.password, protectedTarget(ctx), (v) => ctx.secrets.add(v), 'unknown'),
  );
}

/** A credential this point cannot use proves nothing about the resource: unknown, never denied. */
function unusable(credential: Credential): ProbeResult {
  return { outcome: 'unknown', at: new Date().toISOString(), detail: `ldap/entry cannot use a ${credential.type} credential (it accepts ${ACCEPTS.join(', ')})` };
}

/** The resource and the requester: the user's own (existing), or made here. */
async function setUpResource(ctx: Ctx): Promise<Resource> {
  if (ctx.params.existing) return setUpExistingEntry(ctx, ctx.params.existing);
    const { layout } = ctx.client;
    const who = newIdentity(ctx, named(ctx, 'requester', requesterBase(ctx)));
    await addAccount(ctx, who.dn, who.password, { dynamic: false });
    ctx.state.set('requester', who);
    ctx.evidence.record('requester identity created, member of nothing', { dn: who.dn });
    if (ctx.params.contextBound) ctx.evidence.record('the grant goes through the group the ACL binds to connections from 127.0.0.1', { group: grantGroupOf(ctx) });
    if (ctx.params.requesterIn === 'dn-granted') ctx.evidence.record('broken setup: the requester lives where the ACL grants the read by location (a DN rule)', { dn: who.dn });
    if (ctx.params.standingMembership) {
      await addMember(ctx.client, layout.grantGroupDn, who.dn);
      ctx.evidence.record('broken setup: the requester is a standing member of the grant group', { group: layout.grantGroupDn, member: who.dn });
    }
    return {
      description: `read ${layout.resourceAttribute} of ${layout.resourceDn}`,
      terms: { [GRANT_GROUP_TERM]: grantGroupOf(ctx), [ENTRY_TERM]: layout.resourceDn, [ATTRIBUTE_TERM]: layout.resourceAttribute },
      requester: who,
    };
}

export const entryPoint: PointOfUse<Params, LdapClient> = {
  title: 'Protected attribute of a directory entry, readable through the ACL',
  params,
  accepts: ACCEPTS,
  offers: [GRANT_GROUP_TERM, ENTRY_TERM, ATTRIBUTE_TERM],

  // Beside the engine's own: the directory's own trail, emitted wherever the target names a readable log.
  checks: (p) => ['audit-trail', ...(p.keepSessionOpen ? ['session-ended-with-task'] : [])],

  remediation: {
    'audit-trail':
      'Keep every subtree where grants are made (accounts, grant groups) under the accesslog overlay with `logops writes bind` (writes for the grant and its end, binds for the use), keep its logdb readable by the reviewer (ldap.accessLogDn), and give it a purge age well beyond a task',
    'zero-standing-privilege':
      "Take the requester out of the grant group (and every group nested in it) and out of any subtree the directory's ACL grants the read by DN: only the broker's grant may reach the protected attribute.",
    'context-bound':
      "Grant the read to the task's group only on connections from the workload's own addresses: an ACL clause such as `by set=\"[<grant group>]/member* & user\" peername.ip=<address> read`, and no other clause granting that group the read",
    'session-ended-with-task':
      'Make connections end with the grant: close (or re-check) connections bound as an identity the grant created or whose membership ended, e.g. with an idle or connection-lifetime limit on the directory, and grant nothing to "any authenticated identity" that a kept-open connection could go on reading.',
  },

  setup: (ctx) => setUpResource(ctx),

  // What reaches the entry: every member chain into the grant group through something the scenario
  // made (and, for an existing requester, every chain that ends at it). Read after the use, it also
  // closes the scenario's part of the audit log: the teardown's removals come after it.
  async entitlements(ctx) {
    const found = await pathEntitlements(ctx.client, grantGroupOf(ctx), ctx.prefix, ctx.params.existing?.requesterDn);
    await markTrailEnd(ctx);
    return found;
  },

  async probeStanding(ctx) {
    // Before any grant, after both halves set up (a standing membership, a break-glass operator): the grant is what the log shows after this.
    await openTrail(ctx);
    if (!ctx.params.existing) return newConnectionRead(ctx, requester(ctx));
    const own = existingRequester(ctx);
    return own ? newConnectionRead(ctx, own) : noRequester(ctx.params.existing);
  },

  async probe(ctx, credential, node) {
    const bind = credentialOf(credential, 'ldap-bind');
    return bind ? newConnectionRead(ctx, bind, node) : unusable(credential);
  },

  async use(ctx, credential) {
    const bind = credentialOf(credential, 'ldap-bind');
    if (!bind) return unusable(credential);
    const opened = await openSession(ctx, bind);
    if ('refused' in opened) {
      rememberUse(ctx, bind.dn, false);
      return opened.refused;
    }
    const { session } = opened;
    const used = await readProtected(session, protectedTarget(ctx), (v) => ctx.secrets.add(v));
    rememberUse(ctx, bind.dn, used.outcome === 'allowed');
    if (ctx.params.keepSessionOpen && used.outcome === 'allowed') {
      // A bind other than the requester's is an identity the grant created: it is the grant.
      const own = requesterDn(ctx);
      const sessions = await keepSessionOpen(ctx, session, bind.dn, { identityIsTheGrant: own === undefined || !sameDn(bind.dn, own) });
      return { ...used, sessions };
    }
    await session.unbind().catch(() => undefined);
    return used;
  },
  async inspect(ctx, credential) {
    const bind = credentialOf(credential, 'ldap-bind');
    if (!bind) return undefined;
    const reach = await readReach(ctx.client, grantGroupOf(ctx), bind.dn);
    const facts = reachFacts(reach);
    if (!facts) ctx.evidence.record(`no membership path from ${bind.dn} into ${reach.grantGroup}: the directory states nothing about its privilege`, { dn: bind.dn, grantGroup: reach.grantGroup });
    return facts;
  },

  // The same bind and read from another source address: the ACL's peername clause must withhold
  // the attribute there (insufficientAccessRights to the compare); a refused bind is not that.
  drifted(ctx, credential, from) {
    const bind = credentialOf(credential, 'ldap-bind');
    return bind ? [{ name: 'bind and read the protected attribute', context: from, attempt: () => readFrom(ctx, bind, from) }] : [];
  },

  extensions(ctx, credential, grant) {
    const bind = credentialOf(credential, 'ldap-bind');
    if (!bind) return [];
    const reach = async (): Promise<{ ownEntryDynamic: boolean; dynamicGroups: string[]; grantGroups: string[] }> => {
      const found = await readReach(ctx.client, grantGroupOf(ctx), bind.dn);
      return { ownEntryDynamic: found.own !== null, dynamicGroups: found.dynamicEntries, grantGroups: found.groups };
    };
    const windowEndsAt = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
    return [handedBindExtension(ctx.client, bind, windowEndsAt, reach, (group, member) => rememberWritten(ctx, group, member))];
  },

  // Runs after the grant source's teardown: what carries the prefix now is the requester and any
  // membership still naming it (a standing one); a source whose teardown failed leaves more, swept too.
  async teardown(ctx) {
    try {
      await judgeAuditTrail(ctx, ctx.params.auditWaitSeconds);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the audit log could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    }
    const removed = [...(await removeWritten(ctx)), ...(await removeScenario(ctx))];
    if (ctx.params.existing) await confirmUnchanged(ctx);
    return removed;
  },
};
