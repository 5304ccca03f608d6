/**
 * `assume-role` grant source: the broker assumes a role scoped to the task (the scenario's actions
 * on the point of use's object) and hands the session credentials to the task. The requester
 * itself has no permission and is not trusted by the role; the standing probe tries exactly that
 * path (the requester assuming the role with its own key). The session must die at its
 * `Expiration`, or at task end when the broker revokes it the AWS way (a deny on sessions issued
 * before now) or removes the role's permission policy.
 *
 * With `roleArn:` the scenario names a role of the user's own configuration: the broker assumes
 * it as it is, and its MaxSessionDuration and trust are read and judged (role-findings.ts:
 * `role-within-window`, `role-trust-narrow`), never changed. Revoking a session of it would need a
 * policy written onto the role, so such a scenario ends by expiry only.
 */
import { DeleteRolePolicyCommand, CreateRoleCommand, PutRolePolicyCommand, PutUserPolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { sleep } from '../../../scenarios/wait.ts';
import type { GrantRecord, GrantSource, ProbeResult } from '../../contract.ts';
import type { AwsClient } from '../client.ts';
import { type AwsGrantContext, propagationParams } from '../context.ts';
import { keysOf, registerBrokerSecrets } from '../credentials.ts';
import { judgeExistingRole, roleArnField, roleNameOf } from '../existing-role.ts';
import { roleSessionExtensions } from '../extension/role-session.ts';
import { confirmUnchanged } from '../../existing-objects.ts';
import { mintedSessionEntitlements } from '../extension/minted.ts';
import { scopeOf } from '../iam-read.ts';
import { iamName, sessionName, tagsFor } from '../names.ts';
import { assumeDocument, grantDocument, iamDate, revokeOlderSessionsDocument, trustDocument, unboundedEntries } from '../policies.ts';
import { describeAwsError, failureText, probe } from '../probes.ts';
import { eventually } from '../propagation.ts';
import { assumeRole, durationSeconds, explainDurationFloor, type Session, sessionCredentialHandle } from '../sessions.ts';
import { OBJECT_ARN, REQUESTER_ARN, REQUESTER_USER, taskResourceOf, term } from '../terms.ts';
import { awsAction } from './actions.ts';
import { own, removeSourceObjects, sourceEntitlements } from './owned.ts';

const params = propagationParams
  .extend({
    /** An existing role of the user's configuration, assumed as it is: nothing is created or changed on it. */
    roleArn: roleArnField.optional(),
    durationSeconds,
    /** Actions the role's permission policy grants on the task object (bucket actions on its bucket); default s3:GetObject. */
    grantActions: z.array(awsAction).min(1).optional(),
    /** Broken setup: the role also trusts the requester, which may assume it whenever it likes. */
    identityTrusted: z.boolean().default(false),
    /**
     * Broken setup: the role trusts any principal (`"AWS": "*"`) and the requester holds
     * sts:AssumeRole on `*`, a common wildcard: standing access through a trust policy that never
     * names the requester. (A trust in the account root, `arn:…:iam::<account>:root`, is the same
     * finding on AWS, but moto matches trust principals literally and would not show it.)
     */
    trustAnyPrincipal: z.boolean().default(false),
    /**
     * How the broker ends the session at task end (end mode `revoke`): AWS's "revoke active sessions"
     * (deny to sessions issued before now), removing the role's permission policy, or (broken) nothing.
     */
    revokeBy: z.enum(['revoke-older-sessions', 'remove-role-policy', 'nothing']).optional(),
    /**
     * Broken setup: the role trusts itself and allows sts:AssumeRole on itself, so its session can
     * chain to a fresh session with a fresh Expiration. The trust names the role's ARN and the task
     * session's ARN: AWS takes either; moto matches principals literally and needs the second.
     */
    selfChaining: z.boolean().default(false),
  })
  .superRefine((p, issue) => {
    if (p.roleArn === undefined) return;
    // Each of these writes onto the role (or onto the requester): an existing role is only ever read.
    const given = { grantActions: p.grantActions !== undefined, identityTrusted: p.identityTrusted, trustAnyPrincipal: p.trustAnyPrincipal, selfChaining: p.selfChaining, revokeBy: p.revokeBy !== undefined };
    for (const [key, set] of Object.entries(given)) {
      if (set) issue.addIssue({ code: 'custom', path: [key], message: 'not with roleArn: an existing role is assumed and judged as it is, never changed' });
    }
  });
type Params = z.infer<typeof params>;
type Ctx = AwsGrantContext<Params>;

const roleName = (ctx: Ctx): string => (ctx.params.roleArn === undefined ? iamName(ctx, 'role') : roleNameOf(ctx.params.roleArn));
const revokeBy = (ctx: Ctx): NonNullable<Params['revokeBy']> => ctx.params.revokeBy ?? 'revoke-older-sessions';
const grantActions = (ctx: Ctx): string[] => ctx.params.grantActions ?? ['s3:GetObject'];
const grantPolicy = (ctx: Ctx): string => iamName(ctx, 'grant');
const roleArn = (ctx: Ctx): string => ctx.state.get('roleArn') as string;
const session = (ctx: Ctx): Session => ctx.state.get('session') as Session;

/** Read the existing role and judge it; its ARN is what the grant assumes. */
async function useExistingRole(ctx: Ctx, arn: string): Promise<void> {
  const role = await judgeExistingRole(ctx, arn);
  ctx.state.set('roleArn', role.arn);
}

/** AssumeRole of the scenario's role with a credential, for the scenario's DurationSeconds. */
const assume = (ctx: Ctx, sts: AwsClient['sts'], purpose: string): Promise<Session> => assumeRole(ctx, sts, roleArn(ctx), purpose, ctx.params.durationSeconds);

/** Broken setup (params.selfChaining): the role trusts itself and its sessions may assume it. */
async function allowSelfChaining(ctx: Ctx): Promise<void> {
  const { iam, partition, account } = ctx.client;
  const taskSession = `arn:${partition}:sts::${account}:assumed-role/${roleName(ctx)}/${sessionName(ctx, 'task')}`;
  const trusted = [ctx.client.brokerArn, roleArn(ctx), taskSession];
  // The role's own ARN exists only now: AWS refuses a trust naming a principal it does not know yet.
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: roleName(ctx), PolicyDocument: JSON.stringify(trustDocument(trusted)) }));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName(ctx),
      PolicyName: `${grantPolicy(ctx)}-chain`,
      PolicyDocument: JSON.stringify(assumeDocument(roleArn(ctx))),
    }),
  );
  ctx.evidence.record('broken setup: the role trusts itself and may assume itself, so its sessions can chain', { trusts: trusted });
}

/** The broker's AssumeRole, with the one error a reader needs explained: AWS's 900-second floor. */
async function brokerAssume(ctx: Ctx, purpose: string): Promise<Session> {
  try {
    return await eventually(ctx, 'AssumeRole on the new role', ['AccessDenied'], () => assume(ctx, ctx.client.sts, purpose));
  } catch (error) {
    throw explainDurationFloor(error, ctx.params.durationSeconds);
  }
}

/** Can the requester, with its own key, reach the privilege by assuming the role itself? */
async function requesterAssumes(ctx: Ctx): Promise<ProbeResult> {
  const own = keysOf(ctx.resource.requester);
  if (!own) return { outcome: 'unknown', at: new Date().toISOString(), detail: `the point of use ${ctx.pointOfUse.name} gave no requester AWS key, so assuming the role itself was not tried` };
  const c = ctx.client.as(own);
  let standing: Session | undefined;
  try {
    const assumed = await probe(async () => {
      standing = await assume(ctx, c.sts, 'standing-probe');
      return `AssumeRole ${roleName(ctx)}: allowed (session ${standing.arn})`;
    });
    if (!standing) return { ...assumed, detail: `assuming the role itself: ${assumed.detail}` };
    const used = await ctx.pointOfUse.probe(standing.credentials);
    return { ...used, detail: `assuming the role itself: ${assumed.detail}, then ${used.detail}` };
  } finally {
    c.destroy();
  }
}

/**
 * Revoke the way AWS documents it: an inline deny on the role for sessions issued before now. "Now"
 * is never earlier than the session's issue time on the target's own clock (Expiration minus
 * DurationSeconds), so a target clock ahead of ours cannot leave the session outside the deny.
 */
async function revokeOlderSessions(ctx: Ctx): Promise<number> {
  const issuedOnTarget = session(ctx).expiration - ctx.params.durationSeconds * 1000;
  // Strictly after the issue time (DateLessThan), rounded up to the second by the document.
  const before = Math.max(Date.now(), issuedOnTarget + 1);
  await ctx.client.iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName(ctx),
      PolicyName: iamName(ctx, 'revoke-sessions'),
      PolicyDocument: JSON.stringify(revokeOlderSessionsDocument(before)),
    }),
  );
  return before;
}

/**
 * A control: a session issued after the revocation should still work, since AWS denies only
 * sessions issued before it. A target that denies it too did not evaluate aws:TokenIssueTime but
 * denied every session of the role — the task's session is dead either way, but the report must
 * not let a reader believe the condition was honoured: `revocation-targeted` fails.
 */
async function controlAfterRevocation(ctx: Ctx, grant: GrantRecord, before: number): Promise<void> {
  try {
    await sleep(Math.ceil(before / 1000) * 1000 + 1500 - Date.now(), ctx.signal);
  } catch {
    return; // interrupted: teardown must not wait for a control
  }
  let result: ProbeResult;
  try {
    const fresh = await assume(ctx, ctx.client.sts, 'control');
    result = await ctx.pointOfUse.probe(fresh.credentials);
  } catch (error) {
    result = { outcome: 'unknown', at: new Date().toISOString(), detail: `AssumeRole failed: ${failureText(describeAwsError(error))}` };
  }
  grant.attributes.sessionIssuedAfterRevocation = result.outcome;
  ctx.report({
    check: 'revocation-targeted',
    verdict: result.outcome === 'allowed' ? 'pass' : result.outcome === 'denied' ? 'fail' : 'inconclusive',
    detail:
      result.outcome === 'allowed'
        ? `a session issued after the revocation still works (${result.detail}): only older sessions were denied`
        : result.outcome === 'denied'
          ? `a session issued after the revocation is denied too (${result.detail}): aws:TokenIssueTime was not evaluated`
          : `could not tell whether a session issued after the revocation works (${result.detail})`,
  });
  ctx.evidence.record(
    result.outcome === 'allowed'
      ? 'control: a session issued after the revocation works: the deny applies to older sessions only, as on AWS'
      : `control: a session issued after the revocation is ${result.outcome} too: the target did not limit the deny to sessions issued before ${iamDate(before)} (aws:TokenIssueTime not evaluated)`,
    { outcome: result.outcome, answer: result.detail },
    new Date(result.at),
  );
}

export const assumeRoleSource: GrantSource<Params, AwsClient> = {
  title: 'STS AssumeRole session for the task',
  params,
  issues: ['aws-keys'],
  // The requester's name and ARN are read only by the broken setups that trust it (identityTrusted, trustAnyPrincipal).
  needs: [OBJECT_ARN],
  // Ending a session of an existing role early would need a policy written onto the role, which is never changed.
  endModes: (p) => (p.roleArn === undefined ? ['expire', 'revoke'] : ['expire']),
  checks: (p) => [
    'reuse-denied',
    // Added in expire mode: the session as a credential (GetCallerIdentity).
    'credential-invalidated',
    'holder-cannot-extend',
    'derived-credentials-denied',
    // Reported on its own whenever the role grants wildcards, limits or not.
    'privilege-width',
    ...(p.roleArn === undefined && (p.revokeBy ?? 'revoke-older-sessions') === 'revoke-older-sessions' ? ['revocation-targeted'] : []),
    ...(p.roleArn === undefined ? [] : ['role-within-window', 'role-trust-narrow']),
  ],
  remediation: {
    'zero-standing-privilege':
      'Let the role trust only the broker (never the task identity, "*" or the account root), and give the task identity no sts:AssumeRole on it.',
    'ttl-bounded': "Ask AssumeRole for a DurationSeconds no longer than the approval window, and keep the role's MaxSessionDuration close to it.",
    'reuse-denied': "At task end revoke the role's active sessions (a deny on aws:TokenIssueTime before now) or remove its permission policy, rather than waiting for Expiration.",
    'credential-invalidated': "Expired session credentials must be refused (ExpiredToken); where the target does not, revoke the role's active sessions at task end.",
    'holder-cannot-extend': "Remove the role's trust in itself and any sts:AssumeRole on its own ARN, so its sessions cannot chain to fresh ones.",
    'derived-credentials-denied': "Remove the role's self-trust, and at task end revoke or remove the role's permission so chained sessions hold nothing.",
    'no-residue': "Remove the role's permission at task end, so no session chained from it still reaches the resource.",
    'privilege-width': "Grant the role only the actions the task needs on the task's object: no wildcards, no other actions or resources.",
    'revocation-targeted': 'Revoke with a target that evaluates aws:TokenIssueTime, so the deny ends older sessions and leaves new grants working.',
    'role-within-window': "Set the role's MaxSessionDuration no longer than the approval window (AWS allows no less than 3600 s: give such roles windows of an hour or more).",
    'role-trust-narrow': "Name only the broker's own principal in the role's trust policy: no \"*\", no account root or account id, no service or federated principal that reaches it without a grant.",
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    if (ctx.params.roleArn !== undefined) return useExistingRole(ctx, ctx.params.roleArn);
    const { iam } = ctx.client;
    // "*" stands alone: it already includes the broker, and a list holding it reads differently to some evaluators.
    const trusted = ctx.params.trustAnyPrincipal ? ['*'] : [ctx.client.brokerArn, ...(ctx.params.identityTrusted ? [term(ctx.resource, REQUESTER_ARN)] : [])];
    own(ctx, 'roles', roleName(ctx));
    // A role names its principals in its trust policy; AWS refuses a principal it does not know yet.
    const role = await eventually(ctx, 'CreateRole trusting a new principal', ['MalformedPolicyDocument'], () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: roleName(ctx),
          AssumeRolePolicyDocument: JSON.stringify(trustDocument(trusted)),
          MaxSessionDuration: Math.min(43_200, Math.max(3600, ctx.params.durationSeconds)),
          Description: `jitc task role for ${ctx.task.id}`,
          Tags: tagsFor(ctx, ctx.task.id),
        }),
      ),
    );
    ctx.state.set('roleArn', role.Role?.Arn ?? '');
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName(ctx),
        PolicyName: grantPolicy(ctx),
        PolicyDocument: JSON.stringify(grantDocument(grantActions(ctx), taskResourceOf(ctx.resource))),
      }),
    );
    if (ctx.params.identityTrusted || ctx.params.trustAnyPrincipal) {
      await iam.send(
        new PutUserPolicyCommand({
          UserName: term(ctx.resource, REQUESTER_USER),
          PolicyName: iamName(ctx, 'identity-assume'),
          PolicyDocument: JSON.stringify(assumeDocument(ctx.params.trustAnyPrincipal ? '*' : roleArn(ctx))),
        }),
      );
      ctx.evidence.record(
        ctx.params.trustAnyPrincipal
          ? 'broken setup: the role trusts any principal and the identity may call sts:AssumeRole on any role'
          : 'broken setup: the role trusts the task identity, which may assume it at will',
      );
    }
    ctx.evidence.record('task role created', { role: roleArn(ctx), trusts: trusted, grants: grantActions(ctx) });
    if (ctx.params.selfChaining) await allowSelfChaining(ctx);
  },

  // An existing role holds only the user's own: what the holder minted with its session is all the source issued beside it.
  entitlements: (ctx) => (ctx.params.roleArn === undefined ? sourceEntitlements(ctx) : mintedSessionEntitlements(ctx)),

  // The requester's own key at the point of use is the point of use's standing probe; this is the role's path.
  probeStanding: (ctx) => requesterAssumes(ctx),

  async request(ctx) {
    const issued = await brokerAssume(ctx, 'task');
    const issuedAt = Date.now();
    ctx.state.set('session', issued);
    const scope = await scopeOf(ctx.client.iam, { role: roleName(ctx) });
    const unbounded = unboundedEntries(scope);
    if (unbounded.length > 0) {
      ctx.report({ check: 'privilege-width', verdict: 'fail', detail: `the role grants wildcards, whose count understates the width: ${unbounded.join(', ')}` });
    }
    return {
      credential: issued.credentials,
      credentialId: `session ${issued.arn} (access key id ${issued.credentials.accessKeyId})`,
      issuedAt: new Date(issuedAt).toISOString(),
      expiresAt: new Date(issued.expiration).toISOString(),
      ttlRequestedSeconds: ctx.params.durationSeconds,
      ttlGrantedSeconds: Math.round((issued.expiration - issuedAt) / 1000),
      scopeGranted: scope,
      attributes: { role: roleArn(ctx), sessionArn: issued.arn, accessKeyId: issued.credentials.accessKeyId, ...(ctx.params.roleArn === undefined ? { revokeBy: revokeBy(ctx) } : { existingRole: true }) },
      handles: [{ name: 'assumed-role session', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(issued.credentials, node) }],
      extensions: roleSessionExtensions({ ctx, roleName: roleName(ctx), roleArn: roleArn(ctx), credentials: issued.credentials, windowEndsAt: issuedAt + ctx.task.windowSeconds * 1000 }),
    };
  },

  async end(ctx, grant, mode) {
    const issued = session(ctx);
    if (mode === 'expire') {
      grant.handles.push(sessionCredentialHandle(ctx, issued.credentials));
      return;
    }
    if (mode !== 'revoke') return;
    switch (revokeBy(ctx)) {
      case 'revoke-older-sessions': {
        const before = await revokeOlderSessions(ctx);
        ctx.evidence.record('active sessions revoked: role denies everything to sessions issued before the revocation', { before: iamDate(before) });
        ctx.state.set('control', controlAfterRevocation(ctx, grant, before));
        return;
      }
      case 'remove-role-policy':
        await ctx.client.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName(ctx), PolicyName: grantPolicy(ctx) }));
        ctx.evidence.record("the role's permission policy removed at task end", { policy: grantPolicy(ctx) });
        return;
      case 'nothing':
        ctx.evidence.record('broken setup: the broker does nothing at task end; the session lives to its expiry');
    }
  },

  async teardown(ctx) {
    // The control probes at the point of use, which is torn down after this source: it must finish first.
    await (ctx.state.get('control') as Promise<void> | undefined);
    if (ctx.params.roleArn !== undefined) {
      // Nothing was created: the role is read once more to record that it is as it was.
      await confirmUnchanged(ctx);
      return [];
    }
    // The broken trust setups wrote their sts:AssumeRole permission onto the requester.
    return removeSourceObjects(ctx, [iamName(ctx, 'identity-assume')]);
  },
};
