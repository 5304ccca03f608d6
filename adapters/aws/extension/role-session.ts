/**
 * Extension attempts for an assumed-role session, tried with the session itself: role chaining —
 * the session calls AssumeRole on its own role for a fresh session with a fresh Expiration. AWS
 * allows it only where the role's trust policy names the role (or the session) and the role's
 * permissions allow sts:AssumeRole on it, and caps a chained session at one hour. moto matches
 * trust principals literally: a trust naming the role's ARN does not cover its sessions there,
 * one naming the session's ARN does. Every grant source handing out a role session offers this;
 * what the chained session can still do is asked at the point of use (ctx.pointOfUse).
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { ExtensionAttempt, ExtensionResult } from '../../contract.ts';
import type { AwsHolderContext } from '../context.ts';
import { type AwsKeys, bornKeys } from '../credentials.ts';
import { sessionName } from '../names.ts';
import { askedSeconds, minted, notMinted } from './attempt.ts';
import { mintedHandle, rememberSession } from './minted.ts';

/** AWS's bounds for a chained AssumeRole: 900 s at least, one hour at most whatever the role allows. */
const CHAINED_MIN = 900;
const CHAINED_MAX = 3600;

export interface RoleSessionHolder {
  ctx: AwsHolderContext;
  roleName: string;
  roleArn: string;
  /** The session the holder was given. */
  credentials: AwsKeys;
  /** When the approval window ends, ms since the epoch. */
  windowEndsAt: number;
}

export function roleSessionExtensions(h: RoleSessionHolder): ExtensionAttempt[] {
  const { ctx } = h;
  return [
    {
      name: 'AssumeRole on its own role with the session (role chaining)',
      async attempt(moment): Promise<ExtensionResult> {
        const seconds = askedSeconds(moment, h.windowEndsAt, CHAINED_MIN, CHAINED_MAX);
        const c = ctx.client.as(h.credentials);
        let chained: { credentials: AwsKeys; expiration: number; arn: string };
        try {
          const answer = await c.sts.send(
            new AssumeRoleCommand({ RoleArn: h.roleArn, RoleSessionName: sessionName(ctx, `chain-${moment}`), DurationSeconds: seconds }),
          );
          const k = answer.Credentials;
          if (!k?.AccessKeyId || !k.SecretAccessKey || !k.SessionToken || !k.Expiration) throw new Error('AssumeRole answered without credentials');
          chained = {
            credentials: bornKeys(ctx.secrets, { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey, sessionToken: k.SessionToken }),
            expiration: k.Expiration.getTime(),
            arn: answer.AssumedRoleUser?.Arn ?? '',
          };
        } catch (error) {
          return notMinted(error, `AssumeRole ${h.roleName} for ${seconds} s with the session`);
        } finally {
          c.destroy();
        }
        const label = `chained session ${chained.arn} (${chained.credentials.accessKeyId})`;
        rememberSession(ctx, { label, credential: chained.credentials });
        return minted(ctx, moment, {
          what: `AssumeRole ${h.roleName} for ${seconds} s with the session issued ${label} until ${new Date(chained.expiration).toISOString()}`,
          credentialEnd: chained.expiration,
          principal: { role: h.roleName },
          handles: [mintedHandle(ctx, label, chained.credentials)],
          useTask: () => ctx.pointOfUse.probe(chained.credentials),
        });
      },
    },
  ];
}
