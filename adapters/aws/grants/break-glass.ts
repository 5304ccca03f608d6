/**
 * `break-glass`: the account's emergency path, kept apart from the routine one. The path is a
 * break-glass role whose trust policy names only the break-glass identity (an IAM user), whose own
 * policy allows nothing but sts:AssumeRole on that role. An emergency grant is a session of the role,
 * asked by the break-glass identity with its own key for DurationSeconds within the emergency window.
 *
 * Beside the lifecycle the engine runs on every grant:
 * - the routine JIT identity (the point of use's requester, whose policy is the routine path:
 *   sts:AssumeRole on the routine task roles) calls AssumeRole on the break-glass role with its own
 *   key; only AWS's own AccessDenied passes `break-glass-isolated`. moto 5.2.5 evaluates both sides
 *   of that call: the caller's identity policies (Resource matched against the role's ARN) and the
 *   role's trust policy, whose principals it matches literally. AWS evaluates both as well, but a
 *   trust naming a user of the same account suffices there without any identity policy, and a trust
 *   naming the account root defers to identity policies, which moto would not match: the broken
 *   setup therefore opens both sides, so that it is broken on either;
 * - the break-glass identity outside an emergency reads nothing with its own key (judged by the
 *   engine as `zero-standing-privilege`);
 * - after the first use a second emergency session is asked for while the first is open and
 *   recorded as such. STS has no cap on a role's live sessions, so no `maxOpen` can be given:
 *   `break-glass-one-open` is never claimed here. Nor can one session be ended alone (a deny on
 *   aws:TokenIssueTime ends every older session of the role), so the further session lives to its
 *   Expiration and is probed after the end like the first;
 * - the emergency session must die at its Expiration, as a credential too (sts:GetCallerIdentity).
 *   moto never expires an assumed-role session, so locally that check fails, as it must.
 *
 * With `existing:` the role and the break-glass identity are the user's own (its keys from the
 * variables named): nothing but the sessions is created, the role is read before and after and
 * judged by its own settings (`role-within-window`, `role-trust-narrow`), and the routine identity
 * is the point of use's `existing.requesterKeysEnv`. Every session the scenario obtains is an
 * emergency use of that path: the scenario is opt-in in scheduled runs (README, "Break-glass").
 * The shared judging of isolation and of grants open at once is adapters/break-glass.ts.
 */
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { askWhileOpen, type FurtherGrants, reportIsolation } from '../../break-glass.ts';
import type { Grant, GrantSource, ProbeResult } from '../../contract.ts';
import { confirmUnchanged } from '../../existing-objects.ts';
import type { AwsClient } from '../client.ts';
import { type AwsGrantContext, propagationParams } from '../context.ts';
import { type AwsKeys, bornKeys, keysOf, registerBrokerSecrets } from '../credentials.ts';
import { keysEnv, keysFromEnv } from '../existing-object.ts';
import { judgeExistingRole, roleArnField, roleNameOf } from '../existing-role.ts';
import { mintedSessionEntitlements, rememberSession } from '../extension/minted.ts';
import { roleSessionExtensions } from '../extension/role-session.ts';
import { scopeOf } from '../iam-read.ts';
import { iamName, stem, tagsFor } from '../names.ts';
import { assumeDocument, grantDocument, trustDocument } from '../policies.ts';
import { probe } from '../probes.ts';
import { awaitAuthenticates, eventually } from '../propagation.ts';
import { assumeRole, callerProbe, durationSeconds, explainDurationFloor, type Session, sessionCredentialHandle } from '../sessions.ts';
import { OBJECT_ARN, REQUESTER_ARN, REQUESTER_USER, taskResourceOf, term } from '../terms.ts';
import { own, removeSourceObjects, sourceEntitlements } from './owned.ts';

const params = propagationParams
  .extend({
    /** The user's own break-glass role and identity; nothing but the emergency sessions is created. */
    existing: z
      .strictObject({
        roleArn: roleArnField,
        /** The variables holding the break-glass identity's own access key. */
        identityKeysEnv: keysEnv,
      })
      .optional(),
    /** DurationSeconds an emergency AssumeRole asks for; absent: the approval window. */
    durationSeconds: durationSeconds.optional(),
    /** Broken setup: the role trusts the routine JIT identity too, and its routine policy allows sts:AssumeRole on every role. */
    routineMayUseBreakGlass: z.boolean().default(false),
  })
  .superRefine((p, issue) => {
    if (p.existing && p.routineMayUseBreakGlass) issue.addIssue({ code: 'custom', path: ['routineMayUseBreakGlass'], message: "not with existing: the role's trust and the routine identity's policies are the user's own and are never changed" });
  });
type Params = z.infer<typeof params>;
type Ctx = AwsGrantContext<Params>;

interface Identity {
  keys: AwsKeys;
  arn: string;
}

const IDENTITY = 'breakGlassIdentity';
const ROLE = 'breakGlassRole';
const FIRST = 'emergencySession';

const identity = (ctx: Ctx): Identity => ctx.state.get(IDENTITY) as Identity;
const roleArn = (ctx: Ctx): string => ctx.state.get(ROLE) as string;
const roleName = (ctx: Ctx): string => (ctx.params.existing ? roleNameOf(ctx.params.existing.roleArn) : iamName(ctx, 'break-glass'));
const askedSeconds = (ctx: Ctx): number => ctx.params.durationSeconds ?? ctx.task.windowSeconds;
const pathName = (ctx: Ctx): string => `sts:AssumeRole on ${roleArn(ctx)}`;

/** The routine task roles the routine identity may assume: a namespace the break-glass role is not in. */
const routineRoles = (ctx: Ctx): string => `arn:${ctx.client.partition}:iam::${ctx.client.account}:role/${stem(ctx)}.jit-*`;

/** The local path: the break-glass identity and its key, the role trusting it alone, and the routine identity's routine policy. */
async function createLocalPath(ctx: Ctx): Promise<void> {
  const { iam } = ctx.client;
  const user = own(ctx, 'users', iamName(ctx, 'bg-identity'));
  const made = await iam.send(new CreateUserCommand({ UserName: user, Tags: tagsFor(ctx, ctx.task.id) }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: user }));
  if (!key.AccessKey?.AccessKeyId || !key.AccessKey.SecretAccessKey) throw new Error(`no access key returned for ${user}`);
  const who: Identity = { keys: bornKeys(ctx.secrets, { accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey }), arn: made.User?.Arn ?? '' };
  ctx.state.set(IDENTITY, who);
  const routineUser = ctx.resource.terms[REQUESTER_USER];
  const trusted = [who.arn, ...(ctx.params.routineMayUseBreakGlass ? [term(ctx.resource, REQUESTER_ARN)] : [])];
  own(ctx, 'roles', roleName(ctx));
  // AWS refuses a trust naming a principal it does not know yet.
  const role = await eventually(ctx, 'CreateRole trusting the break-glass identity', ['MalformedPolicyDocument'], () =>
    iam.send(
      new CreateRoleCommand({
        RoleName: roleName(ctx),
        AssumeRolePolicyDocument: JSON.stringify(trustDocument(trusted)),
        // AWS's floor for a role; the session's bound is the DurationSeconds each emergency request asks.
        MaxSessionDuration: Math.min(43_200, Math.max(3600, askedSeconds(ctx))),
        Description: `jitc break-glass role for ${ctx.task.id}`,
        Tags: tagsFor(ctx, ctx.task.id),
      }),
    ),
  );
  ctx.state.set(ROLE, role.Role?.Arn ?? '');
  await iam.send(new PutRolePolicyCommand({ RoleName: roleName(ctx), PolicyName: iamName(ctx, 'grant'), PolicyDocument: JSON.stringify(grantDocument(['s3:GetObject'], taskResourceOf(ctx.resource))) }));
  await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: iamName(ctx, 'bg-assume'), PolicyDocument: JSON.stringify(assumeDocument(roleArn(ctx))) }));
  // The routine JIT identity's own path: sts:AssumeRole on the routine task roles; "*" is the classic way the break-glass role ends up inside it.
  const routinePath = ctx.params.routineMayUseBreakGlass ? '*' : routineRoles(ctx);
  if (routineUser) await iam.send(new PutUserPolicyCommand({ UserName: routineUser, PolicyName: iamName(ctx, 'routine-path'), PolicyDocument: JSON.stringify(assumeDocument(routinePath)) }));
  await awaitAuthenticates(ctx, who.keys, `the break-glass identity's key ${who.keys.accessKeyId}`);
  ctx.evidence.record('break-glass path created, apart from the routine JIT path', {
    role: roleArn(ctx),
    trusts: trusted,
    breakGlassIdentity: who.arn,
    breakGlassPolicy: `sts:AssumeRole on ${roleArn(ctx)}`,
    routineIdentity: ctx.resource.terms[REQUESTER_ARN] ?? null,
    routinePolicy: routineUser ? `sts:AssumeRole on ${routinePath}` : null,
  });
  if (ctx.params.routineMayUseBreakGlass) ctx.evidence.record("broken setup: the break-glass role trusts the routine JIT identity too, whose routine policy allows sts:AssumeRole on every role");
}

async function useExistingPath(ctx: Ctx, existing: NonNullable<Params['existing']>): Promise<void> {
  const role = await judgeExistingRole(ctx, existing.roleArn);
  ctx.state.set(ROLE, role.arn);
  const found = await keysFromEnv(ctx, existing.identityKeysEnv, 'break-glass identity', 'existing.identityKeysEnv');
  if (!found) throw new Error(`existing.identityKeysEnv: the variables ${existing.identityKeysEnv.accessKeyId} and ${existing.identityKeysEnv.secretAccessKey} hold no key: the break-glass identity cannot be used`);
  ctx.state.set(IDENTITY, { keys: found.credential, arn: found.arn } satisfies Identity);
  ctx.evidence.record("break-glass path: the user's own role and identity, used as they are", { role: role.arn, breakGlassIdentity: found.arn || found.credential.accessKeyId, routineIdentity: ctx.resource.terms[REQUESTER_ARN] || null });
}

/** One AssumeRole on the break-glass role with `keys`: a session when the path lets it through. */
async function throughPath(ctx: Ctx, keys: AwsKeys, purpose: string): Promise<{ result: ProbeResult; made?: Session }> {
  const c = ctx.client.as(keys);
  let made: Session | undefined;
  try {
    const result = await probe(async () => {
      made = await assumeRole(ctx, c.sts, roleArn(ctx), purpose, askedSeconds(ctx));
      return `AssumeRole ${roleName(ctx)}: session ${made.arn} (access key id ${made.credentials.accessKeyId}) until ${new Date(made.expiration).toISOString()}`;
    });
    return { result, ...(made ? { made } : {}) };
  } finally {
    c.destroy();
  }
}

/** The routine JIT identity tries the path with its own key: only AWS's AccessDenied passes. */
async function judgeIsolation(ctx: Ctx): Promise<void> {
  const routine = keysOf(ctx.resource.requester);
  let attempt: ProbeResult | undefined;
  if (routine) {
    const { result, made } = await throughPath(ctx, routine, 'routine-on-break-glass');
    ctx.evidence.record(`routine JIT identity on the break-glass path (${pathName(ctx)}): ${result.outcome}`, { routineIdentity: ctx.resource.terms[REQUESTER_ARN] || routine.accessKeyId, answer: result.detail }, new Date(result.at));
    // STS cannot end this one session alone: it counts as residue while it reaches the task's object.
    if (made) rememberSession(ctx, { label: `session ${made.arn} (${made.credentials.accessKeyId}) the routine identity obtained on the break-glass role`, credential: made.credentials });
    attempt = result;
  }
  reportIsolation(ctx, pathName(ctx), attempt, "no routine JIT identity to try the break-glass path with: name its keys in the point of use's existing.requesterKeysEnv");
}

/** Whether a session is still open, as STS says of it as a credential: undefined when its answer cannot be read. */
async function stillOpen(ctx: Ctx, session: Session): Promise<boolean | undefined> {
  const answer = await callerProbe(ctx, session.credentials);
  return answer.outcome === 'allowed' ? true : answer.outcome === 'denied' ? false : undefined;
}

/** Further emergency sessions while the first is open; each one is probed after the end like the first. */
function furtherGrants(ctx: Ctx, grant: Grant): FurtherGrants<Session> {
  const first = ctx.state.get(FIRST) as Session;
  const describe = (session: Session): Record<string, unknown> => ({ sessionArn: session.arn, accessKeyId: session.credentials.accessKeyId, expiresAt: new Date(session.expiration).toISOString() });
  return {
    path: pathName(ctx),
    // STS has no setting that caps a role's live sessions.
    maxOpen: undefined,
    request: () => throughPath(ctx, identity(ctx).keys, 'further-emergency'),
    firstOpen: () => stillOpen(ctx, first),
    async release(session) {
      grant.handles.push({ name: `further emergency session (access key id ${session.credentials.accessKeyId})`, check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(session.credentials, node) });
      ctx.evidence.record('STS cannot end one session of a role alone: the further emergency session lives to its Expiration and is probed after the end like the first', describe(session));
    },
    describe,
  };
}

export const breakGlassSource: GrantSource<Params, AwsClient> = {
  title: 'Emergency session of a break-glass role only its own identity may assume',
  params,
  issues: ['aws-keys'],
  // The requester's name and ARN are read where the point of use offers them (a local path, the routine identity).
  needs: [OBJECT_ARN],
  // Ending one session early would write a deny onto the role, which ends every older session of it.
  endModes: () => ['expire'],
  checks: (p) => [
    'break-glass-isolated',
    'reuse-denied',
    'credential-invalidated',
    'holder-cannot-extend',
    'derived-credentials-denied',
    ...(p.existing ? ['role-within-window', 'role-trust-narrow'] : []),
  ],
  remediation: {
    'ttl-bounded': "Ask AssumeRole on the break-glass role for a DurationSeconds within the emergency window, and keep the role's MaxSessionDuration at AWS's floor (3600 s): an emergency session expires like any other",
    'zero-standing-privilege': 'Give the break-glass identity nothing but sts:AssumeRole on the break-glass role: outside an emergency its own key must reach nothing',
    'break-glass-isolated': "Name only the break-glass identity in the break-glass role's trust policy (no account root, no routine broker or role), and keep sts:AssumeRole on \"*\" or on patterns covering the break-glass role out of the routine JIT identities' policies",
    'reuse-denied': 'Let the emergency session expire at its DurationSeconds; where one must end early, revoke the role\'s active sessions (a deny on aws:TokenIssueTime before now)',
    'credential-invalidated': "Expired session credentials must be refused (ExpiredToken); where the target does not, revoke the role's active sessions when the emergency ends",
    'holder-cannot-extend': "Keep the break-glass role out of its own trust policy and sts:AssumeRole on its own ARN out of its permissions, so its sessions cannot chain to fresh ones",
    'derived-credentials-denied': "Remove the break-glass role's self-trust, so no session chained from an emergency session outlives it",
    'role-within-window': "Set the break-glass role's MaxSessionDuration to AWS's floor (3600 s) and give it an emergency window of an hour or more",
    'role-trust-narrow': "Name only the break-glass identity in the break-glass role's trust policy: no \"*\", no account root or account id, no service or federated principal",
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    if (ctx.params.existing) return useExistingPath(ctx, ctx.params.existing);
    await createLocalPath(ctx);
  },

  // The path's own objects are standing by design; what changes is sessions, and what a holder minted with them.
  entitlements: (ctx) => (ctx.params.existing ? mintedSessionEntitlements(ctx) : sourceEntitlements(ctx)),

  // Outside an emergency: the routine identity is refused on the path, and the break-glass
  // identity's own key reaches nothing (its standing privilege, judged by the engine).
  async probeStanding(ctx) {
    await judgeIsolation(ctx);
    const standing = await ctx.pointOfUse.probe(identity(ctx).keys);
    ctx.evidence.record(`break-glass identity outside an emergency reads with its own key: ${standing.outcome}`, { breakGlassIdentity: identity(ctx).arn, answer: standing.detail }, new Date(standing.at));
    return { ...standing, detail: `the break-glass identity's own key: ${standing.detail}` };
  },

  async request(ctx) {
    const who = identity(ctx);
    const c = ctx.client.as(who.keys);
    let issued: Session;
    try {
      // A path jitc just made may take IAM seconds to take effect on AWS.
      issued = await eventually(ctx, 'AssumeRole on the break-glass role', ['AccessDenied'], () => assumeRole(ctx, c.sts, roleArn(ctx), 'emergency', askedSeconds(ctx)));
    } catch (error) {
      throw explainDurationFloor(error, askedSeconds(ctx));
    } finally {
      c.destroy();
    }
    const issuedAt = Date.now();
    ctx.state.set(FIRST, issued);
    ctx.evidence.record('emergency grant issued through the break-glass path', { sessionArn: issued.arn, accessKeyId: issued.credentials.accessKeyId, role: roleArn(ctx), breakGlassIdentity: who.arn, expiresAt: new Date(issued.expiration).toISOString() });
    return {
      credential: issued.credentials,
      credentialId: `session ${issued.arn} (access key id ${issued.credentials.accessKeyId})`,
      issuedAt: new Date(issuedAt).toISOString(),
      expiresAt: new Date(issued.expiration).toISOString(),
      ttlRequestedSeconds: askedSeconds(ctx),
      ttlGrantedSeconds: Math.round((issued.expiration - issuedAt) / 1000),
      scopeGranted: await scopeOf(ctx.client.iam, { role: roleName(ctx) }),
      attributes: { breakGlass: true, role: roleArn(ctx), breakGlassIdentity: who.arn, sessionArn: issued.arn, accessKeyId: issued.credentials.accessKeyId, ...(ctx.params.existing ? { existingRole: true } : {}) },
      handles: [{ name: 'emergency session', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(issued.credentials, node) }],
      extensions: roleSessionExtensions({ ctx, roleName: roleName(ctx), roleArn: roleArn(ctx), credentials: issued.credentials, windowEndsAt: issuedAt + ctx.task.windowSeconds * 1000 }),
    };
  },

  // Before the first session ends: a further emergency request while it is open. After the first use, so it never delays it.
  afterUse: (ctx, grant) => askWhileOpen(ctx, grant, furtherGrants(ctx, grant)),

  async end(ctx, grant) {
    // Expiry is STS's: the session must be refused as a credential too once its Expiration has passed.
    grant.handles.push(sessionCredentialHandle(ctx, (ctx.state.get(FIRST) as Session).credentials));
  },

  async teardown(ctx) {
    if (ctx.params.existing) {
      // Nothing was created: the role is read once more to record that it is as it was.
      await confirmUnchanged(ctx);
      return [];
    }
    // The routine policy was written onto the requester, which is the point of use's to delete.
    return removeSourceObjects(ctx, [iamName(ctx, 'routine-path')]);
  },
};
