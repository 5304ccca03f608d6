/**
 * Extension attempts for AWS keys a point of use was handed by a user's broker, which names no user
 * or role: who the keys are is asked of AWS with the keys themselves (sts:GetCallerIdentity, which
 * no policy can deny), once, when the first attempt runs.
 * - Long-term keys (no session token) get every attempt of an IAM user's key (user-key.ts).
 * - A session gets role chaining (role-session.ts) when it is a session of an assumed role; the
 *   role's ARN, path included, is read from IAM by the name the session carries. A session of
 *   anything else (a federated user, a GetSessionToken session) has no role to chain to: the
 *   attempt says so and stays `unknown`.
 * When the keys themselves are refused (expired, deleted) nothing can be minted with them: the
 * attempt is `refused` on AWS's own answer, as probes.ts reads it.
 */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { ExtensionAttempt, ExtensionResult } from '../../contract.ts';
import type { AwsHolderContext } from '../context.ts';
import type { AwsKeys } from '../credentials.ts';
import { classifyFailure, describeAwsError, failureText } from '../probes.ts';
import { roleSessionExtensions } from './role-session.ts';
import { type MadeOnUser, userKeyExtensions } from './user-key.ts';

type Identity = { user: string } | { roleName: string; roleArn: string } | { other: string };

/** Who the keys are, as AWS says: an IAM user, a session of a role, or something else. */
async function identityOf(ctx: AwsHolderContext, keys: AwsKeys): Promise<Identity> {
  const c = ctx.client.as(keys);
  let arn: string;
  try {
    arn = (await c.sts.send(new GetCallerIdentityCommand({}))).Arn ?? '';
  } finally {
    c.destroy();
  }
  const user = /^arn:[^:]+:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (user?.[1]) return { user: user[1] };
  const session = /^arn:[^:]+:sts::\d{12}:assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (session?.[1]) {
    const role = await ctx.client.iam.send(new GetRoleCommand({ RoleName: session[1] }));
    return { roleName: session[1], roleArn: role.Role?.Arn ?? '' };
  }
  return { other: arn || 'an identity AWS did not name' };
}

/** Attempts whose set is known now but whose target is known only once AWS has said who the keys are. */
function deferred(names: readonly string[], build: (identity: Identity) => ExtensionAttempt[] | string, ctx: AwsHolderContext, keys: AwsKeys): ExtensionAttempt[] {
  let resolved: Promise<Identity> | undefined;
  return names.map((name, index) => ({
    name,
    async attempt(moment): Promise<ExtensionResult> {
      resolved ??= identityOf(ctx, keys);
      let identity: Identity;
      try {
        identity = await resolved;
      } catch (error) {
        resolved = undefined;
        const failure = describeAwsError(error);
        const outcome = classifyFailure(failure) === 'denied' ? 'refused' : 'unknown';
        return { outcome, at: new Date().toISOString(), detail: `who the keys are (GetCallerIdentity): ${failureText(failure)}` };
      }
      const attempts = build(identity);
      if (typeof attempts === 'string') return { outcome: 'unknown', at: new Date().toISOString(), detail: attempts };
      const attempt = attempts[index];
      if (!attempt) return { outcome: 'unknown', at: new Date().toISOString(), detail: `${name}: not offered for these keys` };
      return attempt.attempt(moment);
    },
  }));
}

export function handedKeysExtensions(ctx: AwsHolderContext, keys: AwsKeys, windowEndsAt: number, onMinted: (made: MadeOnUser) => void): ExtensionAttempt[] {
  if (!keys.sessionToken) {
    const forUser = (user: string): ExtensionAttempt[] => userKeyExtensions({ ctx, user, credentials: () => keys, windowEndsAt, onMinted });
    // The names do not depend on the user: they are known before AWS is asked.
    const names = forUser('').map((a) => a.name);
    return deferred(names, (who) => ('user' in who ? forUser(who.user) : `the long-term keys belong to ${'other' in who ? who.other : `role ${who.roleName}`}, not to an IAM user`), ctx, keys);
  }
  const forRole = (roleName: string, roleArn: string): ExtensionAttempt[] => roleSessionExtensions({ ctx, roleName, roleArn, credentials: keys, windowEndsAt });
  const names = forRole('', '').map((a) => a.name);
  return deferred(
    names,
    (who) => ('roleName' in who ? forRole(who.roleName, who.roleArn) : `the session is of ${'user' in who ? `IAM user ${who.user}` : who.other}, not of an assumed role: there is no role to chain to`),
    ctx,
    keys,
  );
}
