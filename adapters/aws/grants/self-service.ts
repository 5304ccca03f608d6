/**
 * A broken setup every grant source handing out a user key can be given: a standing
 * "self-service" permission on the user, outside its time-boxed grant, letting it act on its own
 * credentials (make itself a key, a console password, a session). Real accounts grant this
 * widely (AWS's own sample policy "manage your own credentials"); with it the holder can stretch
 * its grant.
 */
import { PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { z } from 'zod';
import type { AwsContext } from '../context.ts';
import { iamName } from '../names.ts';

/** The credential actions a self-service statement may hold. */
export const selfServiceActions = z
  .array(z.enum(['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'sts:GetSessionToken', 'sts:GetFederationToken']))
  .default([]);

export async function putSelfService(ctx: AwsContext, user: string, actions: readonly string[]): Promise<void> {
  if (actions.length === 0) return;
  const policy = `${iamName(ctx, 'grant')}-self`;
  await ctx.client.iam.send(
    new PutUserPolicyCommand({
      UserName: user,
      PolicyName: policy,
      // Resource "*": moto authorises IAM user actions against "*" only (it never resolves the user a
      // request names), so the user's own ARN would not match there. On AWS, "*" also reaches other
      // users: wider, and the same finding.
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'JitcSelfService', Effect: 'Allow', Action: [...actions], Resource: '*' }] }),
    }),
  );
  ctx.evidence.record('broken setup: the user may act on its own credentials, a standing permission outside its time-boxed grant', { user, policy, actions: [...actions] });
}
