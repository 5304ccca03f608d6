/**
 * `policy-binding` grant source: the broker binds a permission to the requester for the task — a
 * managed policy attached to its IAM user, or attached to a group the user is added to — and
 * unbinds it at task end. The task works with the requester's own, long-lived key (the resource's
 * credential, handed on unchanged), so the proof is that the SAME credential is denied
 * afterwards. The policy carries its own end (aws:CurrentTime before the end of the approval
 * window): a binding has none in IAM.
 */
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachUserPolicyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  DeletePolicyCommand,
  DetachGroupPolicyCommand,
  DetachUserPolicyCommand,
  PutGroupPolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
} from '@aws-sdk/client-iam';
import { z } from 'zod';
import type { GrantSource } from '../../contract.ts';
import type { AwsClient } from '../client.ts';
import { type AwsGrantContext, propagationParams } from '../context.ts';
import { type AwsKeys, keysOf, registerBrokerSecrets } from '../credentials.ts';
import { userKeyExtensions } from '../extension/user-key.ts';
import { documentsOf } from '../iam-read.ts';
import { iamName, tagsFor } from '../names.ts';
import { grantDocument, grantedScope, timeBox } from '../policies.ts';
import { OBJECT_ARN, REQUESTER_USER, taskResourceOf, term } from '../terms.ts';
import { awsAction } from './actions.ts';
import { own, ownPolicy, removeSourceObjects, sourceEntitlements } from './owned.ts';

const params = propagationParams.extend({
  /** Actions the task policy grants on the task object. */
  grantActions: z.array(awsAction).min(1).default(['s3:GetObject']),
  /** Attach the policy to the user, or to a group the user joins for the task. */
  binding: z.enum(['attach-user-policy', 'group-membership']).default('attach-user-policy'),
  /** The policy carries its own end; false (broken) makes the binding open-ended. */
  timeBoxed: z.boolean().default(true),
  /** How the broker ends the binding at task end: unbind and delete the policy, or (broken) nothing. */
  revokeBy: z.enum(['unbind', 'nothing']).default('unbind'),
  /**
   * A second path to the same permission that the broker's unbind never touches (broken setups):
   * `user-inline-policy` writes the grant as an inline policy on the requester too;
   * `standing-group` writes it onto a group the requester already belonged to before the task and
   * stays in. `nothing-else` (conformant): the binding is the only path.
   */
  alsoGrantVia: z.enum(['nothing-else', 'user-inline-policy', 'standing-group']).default('nothing-else'),
});
type Params = z.infer<typeof params>;
type Ctx = AwsGrantContext<Params>;

const group = (ctx: Ctx): string => iamName(ctx, 'group');
/** Still under the scenario's stem (`<stem>.group…`), so residue, teardown and cleanup see it. */
const standingGroup = (ctx: Ctx): string => `${iamName(ctx, 'group')}-standing`;
const policyName = (ctx: Ctx): string => iamName(ctx, 'grant');
const policyArn = (ctx: Ctx): string => ctx.state.get('policyArn') as string;
const requesterUser = (ctx: Ctx): string => term(ctx.resource, REQUESTER_USER);

/** The requester's own key: the binding changes what it may do, the credential stays the same. */
function requesterKey(ctx: Ctx): AwsKeys {
  const key = keysOf(ctx.resource.requester);
  if (!key) throw new Error(`a policy binding is used with the requester's own AWS key, and the point of use ${ctx.pointOfUse.name} gave none`);
  return key;
}

export const policyBindingSource: GrantSource<Params, AwsClient> = {
  title: "IAM policy bound to the requester's own user for the task",
  params,
  issues: ['aws-keys'],
  needs: [OBJECT_ARN, REQUESTER_USER],
  checks: () => ['reuse-denied', 'holder-cannot-extend', 'derived-credentials-denied'],
  remediation: {
    'ttl-bounded': 'Give the task policy an aws:CurrentTime DateLessThan condition at the end of the approval window: an IAM binding has no end of its own.',
    'reuse-denied':
      'At task end detach the task policy (or remove the membership) and delete it, and grant the same permission by no other path (an inline copy, a group the identity stays in).',
    'holder-cannot-extend': 'Give the task identity no iam:CreateAccessKey, iam:CreateLoginProfile, sts:GetSessionToken or sts:GetFederationToken on itself.',
    'derived-credentials-denied': 'Time-box the task policy and unbind it at task end, so sessions and keys the identity made with its key hold nothing of the grant.',
    'no-residue': 'Remove the attachment or membership and delete the task policy at task end, together with every other copy of the grant.',
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    if (ctx.params.binding === 'group-membership') {
      await ctx.client.iam.send(new CreateGroupCommand({ GroupName: own(ctx, 'groups', group(ctx)) }));
      ctx.evidence.record('task group created, without members or permissions', { group: group(ctx) });
    }
    if (ctx.params.alsoGrantVia === 'standing-group') {
      await ctx.client.iam.send(new CreateGroupCommand({ GroupName: own(ctx, 'groups', standingGroup(ctx)) }));
      await ctx.client.iam.send(new AddUserToGroupCommand({ GroupName: standingGroup(ctx), UserName: requesterUser(ctx) }));
      ctx.evidence.record('a group the identity belongs to before and after the task, without permissions yet', { group: standingGroup(ctx) });
    }
  },

  entitlements: (ctx) => sourceEntitlements(ctx),

  async request(ctx) {
    const { iam } = ctx.client;
    const user = requesterUser(ctx);
    const key = requesterKey(ctx);
    const asked = Date.now();
    const document = JSON.stringify(
      grantDocument(ctx.params.grantActions, taskResourceOf(ctx.resource), ctx.params.timeBoxed ? asked + ctx.task.windowSeconds * 1000 : undefined),
    );
    const created = await iam.send(
      new CreatePolicyCommand({
        PolicyName: ownPolicy(ctx, policyName(ctx)),
        PolicyDocument: document,
        Description: `jitc grant for task ${ctx.task.id}, approved by ${ctx.task.approver}`,
        Tags: tagsFor(ctx, ctx.task.id),
      }),
    );
    const arn = created.Policy?.Arn;
    if (!arn) throw new Error('CreatePolicy answered without an ARN');
    ctx.state.set('policyArn', arn);
    if (ctx.params.binding === 'attach-user-policy') {
      await iam.send(new AttachUserPolicyCommand({ UserName: user, PolicyArn: arn }));
    } else {
      await iam.send(new AttachGroupPolicyCommand({ GroupName: group(ctx), PolicyArn: arn }));
      await iam.send(new AddUserToGroupCommand({ GroupName: group(ctx), UserName: user }));
    }
    await grantBySecondPath(ctx, document);
    // Issue time on the target's clock where it states one: the policy's creation date.
    const issuedAt = Math.min(asked, created.Policy?.CreateDate?.getTime() ?? asked);
    const docs = await documentsOf(iam, { user });
    const ends = timeBox(docs);
    return {
      credential: key,
      credentialId: `${ctx.params.binding === 'attach-user-policy' ? 'policy attachment' : `membership of ${group(ctx)} carrying`} ${policyName(ctx)} on ${user} (access key id ${key.accessKeyId})`,
      issuedAt: new Date(issuedAt).toISOString(),
      expiresAt: ends === null ? null : new Date(ends).toISOString(),
      ttlRequestedSeconds: ctx.task.windowSeconds,
      ttlGrantedSeconds: ends === null ? null : Math.round((ends - issuedAt) / 1000),
      scopeGranted: grantedScope(docs),
      attributes: { binding: ctx.params.binding, policy: arn, user, revokeBy: ctx.params.revokeBy },
      handles: [{ name: "the identity's own key (same credential)", check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(key, node) }],
      // The binding is used with the requester's own key: what that key can mint is what the holder can stretch.
      extensions: userKeyExtensions({ ctx, user, credentials: () => key, windowEndsAt: issuedAt + ctx.task.windowSeconds * 1000 }),
    };
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    if (ctx.params.revokeBy === 'nothing') {
      ctx.evidence.record('broken setup: the broker leaves the binding in place at task end');
      return;
    }
    const { iam } = ctx.client;
    const user = requesterUser(ctx);
    if (ctx.params.binding === 'attach-user-policy') {
      await iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: policyArn(ctx) }));
    } else {
      await iam.send(new RemoveUserFromGroupCommand({ GroupName: group(ctx), UserName: user }));
      await iam.send(new DetachGroupPolicyCommand({ GroupName: group(ctx), PolicyArn: policyArn(ctx) }));
    }
    await iam.send(new DeletePolicyCommand({ PolicyArn: policyArn(ctx) }));
    ctx.evidence.record('binding removed and task policy deleted at task end', { binding: ctx.params.binding, policy: policyArn(ctx) });
  },

  // The inline copy (alsoGrantVia user-inline-policy) sits on the requester: named, since the requester is not the source's.
  teardown: (ctx) => removeSourceObjects(ctx, [policyName(ctx)]),
};

/** The broken second path (params.alsoGrantVia): the same document, where the unbind never looks. */
async function grantBySecondPath(ctx: Ctx, document: string): Promise<void> {
  const { iam } = ctx.client;
  switch (ctx.params.alsoGrantVia) {
    case 'nothing-else':
      return;
    case 'user-inline-policy':
      await iam.send(new PutUserPolicyCommand({ UserName: requesterUser(ctx), PolicyName: policyName(ctx), PolicyDocument: document }));
      ctx.evidence.record('broken setup: the grant is also written as an inline policy on the identity', { policy: policyName(ctx) });
      return;
    case 'standing-group':
      await iam.send(new PutGroupPolicyCommand({ GroupName: standingGroup(ctx), PolicyName: policyName(ctx), PolicyDocument: document }));
      ctx.evidence.record('broken setup: the grant is also written onto a group the identity stays in', { group: standingGroup(ctx), policy: policyName(ctx) });
  }
}
