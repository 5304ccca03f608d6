/**
 * What an AWS grant source owns on the target: the IAM objects it created under the scenario's
 * stem (a role, a worker, a group, a managed policy), each recorded by name as its Create is
 * sent, and the sessions its holder minted. Its residue reading and its teardown both start from
 * that record, so the two never disagree about what is the source's, and neither lists the
 * account: their cost is the same on an empty account and on one holding thousands of objects.
 *
 * What the record cannot see is an object made under the stem by someone else (a holder or a
 * broker creating a second user or role of its own): finding it takes a listing of the account,
 * which is `jitc cleanup`'s one sweep per run by the run prefix, not a scenario's. Keys, console
 * passwords, policies and memberships a holder adds to a recorded object are read on that object.
 */
import { DeleteUserPolicyCommand } from '@aws-sdk/client-iam';
import type { AwsGrantContext } from '../context.ts';
import { mintedSessionEntitlements } from '../extension/minted.ts';
import { entitlementsOf, type IamNames } from '../iam-read.ts';
import { removeNamed } from '../iam-remove.ts';
import { describeAwsError, failureText } from '../probes.ts';
import { REQUESTER_USER } from '../terms.ts';

const OWNED = 'aws:owned';

type Kind = keyof IamNames;

/** The names the source recorded (its half's state: the point of use never sees them). */
export function sourceOwns(ctx: AwsGrantContext): IamNames {
  return (ctx.state.get(OWNED) as IamNames | undefined) ?? { users: [], roles: [], groups: [], policies: [] };
}

/**
 * Record an IAM object the source is about to create, and return its name. Recorded before the
 * Create is sent, so an object whose answer was lost is still read and removed; one never made
 * reads as gone.
 */
export function own(ctx: AwsGrantContext, kind: Kind, name: string): string {
  const names = sourceOwns(ctx);
  if (!names[kind].includes(name)) ctx.state.set(OWNED, { ...names, [kind]: [...names[kind], name] });
  return name;
}

/** A managed policy's ARN, known before it exists (customer policies live under path "/"). */
export function ownPolicy(ctx: AwsGrantContext, name: string): string {
  own(ctx, 'policies', `arn:${ctx.client.partition}:iam::${ctx.client.account}:policy/${name}`);
  return name;
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
  const report = await removeNamed(iam, sourceOwns(ctx));
  failed.push(...report.failed);
  if (failed.length > 0) throw new Error(`teardown left: ${failed.join('; ')} (removed: ${report.removed.join(', ')})`);
  return report.removed;
}
