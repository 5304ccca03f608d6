/**
 * `access-key` grant source: the broker creates an IAM access key for the task on a worker user
 * that holds the task's permission but no key, and at task end deletes the key and ends the
 * worker's permission. An IAM key has no expiry of its own, so the worker's permission carries one
 * (aws:CurrentTime before the end of the approval window), written by the broker when it issues
 * the key. Deleting the key alone is not enough on AWS: a session the holder made from it with
 * GetSessionToken (no permission needed, no policy can stop it) survives the key and carries the
 * worker's permissions, so only the end of the permission ends it. IAM is eventually consistent:
 * the reuse poll measures how long the deleted key kept working. The worker is the source's own
 * identity; the point of use's requester plays no part in this grant.
 */
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserPolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { z } from 'zod';
import type { GrantSource, ProbeResult } from '../../contract.ts';
import type { AwsClient } from '../client.ts';
import { type AwsGrantContext, propagationParams } from '../context.ts';
import { type AwsKeys, bornKeys, registerBrokerSecrets } from '../credentials.ts';
import { userKeyExtensions } from '../extension/user-key.ts';
import { accessKeys, documentsOf } from '../iam-read.ts';
import { iamName, tagsFor } from '../names.ts';
import { grantDocument, grantedScope, timeBox } from '../policies.ts';
import { describeAwsError, failureText } from '../probes.ts';
import { awaitAuthenticates } from '../propagation.ts';
import { OBJECT_ARN, taskResourceOf } from '../terms.ts';
import { awsAction } from './actions.ts';
import { own, removeSourceObjects, sourceEntitlements } from './owned.ts';
import { putSelfService, selfServiceActions } from './self-service.ts';

const params = propagationParams.extend({
  /** Actions the worker's policy grants on the task object. */
  grantActions: z.array(awsAction).min(1).default(['s3:GetObject']),
  /** The permission carries its own end; false (broken) leaves the key's permission open-ended. */
  timeBoxed: z.boolean().default(true),
  /**
   * How the broker ends the grant at task end: delete the key and end the worker's permission;
   * (broken) delete only the key, leaving sessions made from it their permission; only deactivate
   * the key; or nothing.
   */
  revokeBy: z.enum(['delete-key', 'delete-key-only', 'deactivate-key', 'nothing']).default('delete-key'),
  /** Broken setups: actions the worker may also take on its own credentials, a standing permission outside the time-boxed grant. */
  holderMay: selfServiceActions,
});
type Params = z.infer<typeof params>;
type Ctx = AwsGrantContext<Params>;

const worker = (ctx: Ctx): string => iamName(ctx, 'worker');
const grantPolicy = (ctx: Ctx): string => iamName(ctx, 'grant');
const issuedKey = (ctx: Ctx): AwsKeys => ctx.state.get('key') as AwsKeys;

async function putGrant(ctx: Ctx, until: number | undefined): Promise<void> {
  await ctx.client.iam.send(
    new PutUserPolicyCommand({
      UserName: worker(ctx),
      PolicyName: grantPolicy(ctx),
      PolicyDocument: JSON.stringify(grantDocument(ctx.params.grantActions, taskResourceOf(ctx.resource), until)),
    }),
  );
}

/** Does the target still list the key under the worker (asked on a new connection, at `node` when given)? Listed = the credential still exists. */
async function keyListed(ctx: Ctx, accessKeyId: string, node?: string): Promise<ProbeResult> {
  const c = ctx.client.asBroker(node);
  try {
    const found = (await accessKeys(c.iam, worker(ctx))).find((k) => k.id === accessKeyId);
    const at = new Date().toISOString();
    return found
      ? { outcome: 'allowed', at, detail: `ListAccessKeys ${worker(ctx)}: ${accessKeyId} still listed (${found.status})` }
      : { outcome: 'denied', at, detail: `ListAccessKeys ${worker(ctx)}: ${accessKeyId} no longer listed` };
  } catch (error) {
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `ListAccessKeys failed: ${failureText(describeAwsError(error))}` };
  } finally {
    c.destroy();
  }
}

export const accessKeySource: GrantSource<Params, AwsClient> = {
  title: 'IAM access key created for the task on a worker user and deleted after it',
  params,
  issues: ['aws-keys'],
  needs: [OBJECT_ARN],
  checks: () => ['reuse-denied', 'credential-invalidated', 'holder-cannot-extend', 'derived-credentials-denied'],
  remediation: {
    'ttl-bounded':
      "Bound the worker's permission with an aws:CurrentTime DateLessThan condition at the end of the approval window, and give the worker no standing policy beside it.",
    'reuse-denied': "At task end delete the task key (DeleteAccessKey) and remove the worker's permission; a deactivated key or a kept permission still works.",
    'credential-invalidated': 'Delete the task key at task end: an Inactive key is still listed on the worker and can be activated again.',
    'holder-cannot-extend':
      'Give the worker no iam:CreateAccessKey, iam:CreateLoginProfile, sts:GetSessionToken or sts:GetFederationToken on itself; a time-boxed permission alone does not stop them.',
    'derived-credentials-denied': "End the worker's permission at task end, not only its key, so sessions, keys and passwords it made hold nothing.",
    'no-residue': 'Delete the task key, and every key or console password the worker made for itself, at task end.',
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    await ctx.client.iam.send(new CreateUserCommand({ UserName: own(ctx, 'users', worker(ctx)), Tags: tagsFor(ctx, ctx.task.id) }));
    // Until the broker issues a key, the worker's permission is already over (time-boxed to the past).
    await putGrant(ctx, ctx.params.timeBoxed ? Date.now() : undefined);
    ctx.evidence.record('worker user created with the task permission and no access key', {
      worker: worker(ctx),
      grants: ctx.params.grantActions,
      timeBoxed: ctx.params.timeBoxed,
    });
    await putSelfService(ctx, worker(ctx), ctx.params.holderMay);
  },

  entitlements: (ctx) => sourceEntitlements(ctx),

  async request(ctx) {
    const answer = await ctx.client.iam.send(new CreateAccessKeyCommand({ UserName: worker(ctx) }));
    const k = answer.AccessKey;
    if (!k?.AccessKeyId || !k.SecretAccessKey) throw new Error(`no access key returned for ${worker(ctx)}`);
    const key = bornKeys(ctx.secrets, { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey });
    ctx.state.set('key', key);
    // The target's own clock: the key's creation date. The window is counted from it.
    const issuedAt = k.CreateDate?.getTime() ?? Date.now();
    if (ctx.params.timeBoxed) await putGrant(ctx, issuedAt + ctx.task.windowSeconds * 1000);
    await awaitAuthenticates(ctx, key, `task key ${key.accessKeyId}`);
    const docs = await documentsOf(ctx.client.iam, { user: worker(ctx) });
    const ends = timeBox(docs);
    return {
      credential: key,
      credentialId: `access key ${key.accessKeyId} of ${worker(ctx)}`,
      issuedAt: new Date(issuedAt).toISOString(),
      expiresAt: ends === null ? null : new Date(ends).toISOString(),
      ttlRequestedSeconds: ctx.task.windowSeconds,
      ttlGrantedSeconds: ends === null ? null : Math.round((ends - issuedAt) / 1000),
      scopeGranted: grantedScope(docs),
      attributes: { user: worker(ctx), accessKeyId: key.accessKeyId, expiryFrom: ends === null ? 'none' : 'aws:CurrentTime condition on the permission', revokeBy: ctx.params.revokeBy },
      handles: [
        { name: 'task access key', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(key, node) },
        { name: 'task access key listed on the worker', check: 'credential-invalidated', probe: (node) => keyListed(ctx, key.accessKeyId, node) },
      ],
      extensions: userKeyExtensions({ ctx, user: worker(ctx), credentials: () => key, windowEndsAt: issuedAt + ctx.task.windowSeconds * 1000 }),
    };
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const { accessKeyId } = issuedKey(ctx);
    switch (ctx.params.revokeBy) {
      case 'delete-key':
        await ctx.client.iam.send(new DeleteAccessKeyCommand({ UserName: worker(ctx), AccessKeyId: accessKeyId }));
        // Sessions made from the key (GetSessionToken) outlive it on AWS and act with the worker's permission.
        await ctx.client.iam.send(new DeleteUserPolicyCommand({ UserName: worker(ctx), PolicyName: grantPolicy(ctx) }));
        ctx.evidence.record("task key deleted and the worker's permission removed at task end", { accessKeyId, policy: grantPolicy(ctx) });
        return;
      case 'delete-key-only':
        await ctx.client.iam.send(new DeleteAccessKeyCommand({ UserName: worker(ctx), AccessKeyId: accessKeyId }));
        ctx.evidence.record("broken setup: only the task key is deleted at task end; the worker's permission stays for sessions made from it", { accessKeyId });
        return;
      case 'deactivate-key':
        await ctx.client.iam.send(new UpdateAccessKeyCommand({ UserName: worker(ctx), AccessKeyId: accessKeyId, Status: 'Inactive' }));
        ctx.evidence.record('task key deactivated (not deleted) at task end', { accessKeyId });
        return;
      case 'nothing':
        ctx.evidence.record('broken setup: the broker never deletes the task key');
    }
  },

  // The source wrote nothing onto the requester: only its worker and what hangs on it.
  teardown: (ctx) => removeSourceObjects(ctx, []),
};
