/**
 * What an AWS grant source owns on the target: the IAM objects it created under the scenario's
 * stem (a role, a worker, a group, a managed policy), less the requester the point of use made
 * there, and the sessions its holder minted. Its residue reading and its teardown both start
 * from here, so the two never disagree about what is the source's.
 */
import { DeleteUserPolicyCommand } from '@aws-sdk/client-iam';
import type { AwsGrantContext } from '../context.ts';
import { mintedSessionEntitlements } from '../extension/minted.ts';
import { entitlementsOf, type NameMatch } from '../iam-read.ts';
import { removeIam } from '../iam-remove.ts';
import { ownedBy } from '../names.ts';
import { describeAwsError, failureText } from '../probes.ts';
import { REQUESTER_USER } from '../terms.ts';

/** The source's IAM names: under the scenario's stem, and not the requester (the point of use's). */
export function sourceOwns(ctx: AwsGrantContext): NameMatch {
  const requester = ctx.resource.terms[REQUESTER_USER];
  return (name) => ownedBy(ctx, name) && name !== requester;
}

/** What the source issued for the task, read from the target: its IAM objects, and minted sessions that still reach the task. */
export async function sourceEntitlements(ctx: AwsGrantContext): Promise<string[]> {
  return [...(await entitlementsOf(ctx.client.iam, sourceOwns(ctx))), ...(await mintedSessionEntitlements(ctx))].sort();
}

/**
 * Remove what the source created: inline policies it wrote onto the requester (named here, since
 * the requester is not the source's to delete), then its own IAM objects. Group and managed-policy
 * removal takes the requester's memberships and attachments with them.
 */
export async function removeSourceObjects(ctx: AwsGrantContext, requesterPolicies: readonly string[]): Promise<string[]> {
  const { iam } = ctx.client;
  const failed: string[] = [];
  const requester = ctx.resource.terms[REQUESTER_USER];
  if (requester) {
    for (const policy of requesterPolicies) {
      try {
        await iam.send(new DeleteUserPolicyCommand({ UserName: requester, PolicyName: policy }));
      } catch (error) {
        const failure = describeAwsError(error);
        // Not written in this scenario (a conformant setup), or already gone.
        if (failure.code !== 'NoSuchEntity') failed.push(`user policy ${requester}/${policy}: ${failureText(failure)}`);
      }
    }
  }
  const report = await removeIam(iam, sourceOwns(ctx));
  failed.push(...report.failed);
  if (failed.length > 0) throw new Error(`teardown left: ${failed.join('; ')} (removed: ${report.removed.join(', ')})`);
  return report.removed;
}
