/**
 * `s3-object`: the point of use of every AWS pair — one S3 object only a grant may read, and the
 * task identity that asks for the grant (the requester): an IAM user with an access key of its own
 * and no permission at all. The privileged action is reading the object back with a credential,
 * on a new connection, judged by its content. The grant sources (grants/) see the object's ARN
 * and the requester's name and ARN as terms, and the requester's key as the resource's
 * credential; they never see this file's state. Everything is named with the scenario's stem,
 * tagged with the run, and removed again by teardown.
 *
 * With `existing:` the object and the requester are the user's own and nothing is created
 * (existing-object.ts); what reaches the object is read from the requester by name.
 *
 * About keys it did not see issued (a user's broker issued them) the point asks IAM (key-facts.ts:
 * a long-term key states no expiry; a session is stated nothing about), and lets their holder try
 * what any holder of such keys may (extension/handed-keys.ts); what the holder made here is
 * removed again at teardown.
 *
 * Where the configuration names the account's CloudTrail bucket (external targets only), the
 * grant's issue, use and end are looked for there as separate records, by the key the point was
 * handed (`audit-trail`, audit-trail.ts); elsewhere that check is not evidenced.
 */
import { randomBytes } from 'node:crypto';
import { type BucketLocationConstraint, CreateBucketCommand, GetObjectCommand, PutBucketTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, DeleteLoginProfileCommand } from '@aws-sdk/client-iam';
import type { z } from 'zod';
import type { Credential, PointOfUse, ProbeResult } from '../../contract.ts';
import { judgeCloudTrail, markResidueRead, openCloudTrail, rememberUse } from '../audit-trail.ts';
import { removeBucket } from '../buckets.ts';
import type { AwsClient } from '../client.ts';
import { type AwsContext, type AwsHolderContext, propagationParams } from '../context.ts';
import { type AwsKeys, bornKeys, keysOf, registerBrokerSecrets } from '../credentials.ts';
import { confirmUnchanged } from '../../existing-objects.ts';
import { digest, existingObjectParams, type ExistingRequester, keysFromEnv, noRequester, objectOf, type TaskObject, useExistingObject } from '../existing-object.ts';
import { handedKeysExtensions } from '../extension/handed-keys.ts';
import { mintedSessionEntitlements } from '../extension/minted.ts';
import type { MadeOnUser } from '../extension/user-key.ts';
import { userEntitlements } from '../iam-read.ts';
import { removeNamed } from '../iam-remove.ts';
import { keyFacts } from '../key-facts.ts';
import { bucketName, iamName, tagsFor } from '../names.ts';
import { objectArn } from '../policies.ts';
import { describeAwsError, failureText, probe } from '../probes.ts';
import { awaitAuthenticates, untilAllowed } from '../propagation.ts';
import { OBJECT_ARN, REQUESTER_ARN, REQUESTER_USER } from '../terms.ts';

const params = propagationParams.extend({
  /** An existing object of the user's, read by the task: nothing is created (existing-object.ts). */
  existing: existingObjectParams.optional(),
});
type Params = z.infer<typeof params>;
type Ctx = AwsContext<Params>;

export const OBJECT_KEY = 'task/object.txt';

interface Requester {
  userName: string;
  arn: string;
  credential: AwsKeys;
}

const OBJECT = 'object';
const MADE = 'madeOnUsers';

function requester(ctx: Ctx): Requester | undefined {
  return ctx.state.get('requester') as Requester | undefined;
}

function taskObject(ctx: Ctx): TaskObject {
  const object = ctx.state.get(OBJECT) as TaskObject | undefined;
  if (!object) throw new Error('the task object was not set up');
  return object;
}

/**
 * The privileged action: read the task's object with a credential, on a new connection, at `node`
 * (one of the scenario's reuse nodes) when given. Allowed only when the content read back is the
 * content written — a 200 for some other object would prove nothing.
 */
async function readObject(ctx: Ctx, credential: Credential, node?: string): Promise<ProbeResult> {
  const keys = keysOf(credential);
  // Not a credential S3 takes: nothing was asked of the target, so nothing is known.
  if (!keys) return { outcome: 'unknown', at: new Date().toISOString(), detail: `a ${credential.type} credential cannot read an S3 object` };
  const { bucket, key } = taskObject(ctx);
  const c = ctx.client.as(keys, node);
  try {
    return await probe(async () => {
      const answer = await c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = (await answer.Body?.transformToString()) ?? '';
      if (digest(body) !== ctx.state.get('objectDigest')) throw Object.assign(new Error('object content differs from what was written'), { name: 'UnexpectedContent', $metadata: { httpStatusCode: 200 } });
      return `GetObject s3://${bucket}/${key}: HTTP 200, content as ${ctx.params.existing ? 'read before the grant' : 'written'}`;
    });
  } finally {
    c.destroy();
  }
}

/** The task identity by name and its own key, where the point knows them: a grant that binds to it hands on that key. */
function taskIdentity(ctx: Ctx): { requester?: { userName: string; accessKeyId: string } } {
  const own = requester(ctx);
  if (own) return { requester: { userName: own.userName, accessKeyId: own.credential.accessKeyId } };
  const found = ctx.state.get('existingRequester') as ExistingRequester | undefined;
  return found?.userName ? { requester: { userName: found.userName, accessKeyId: found.credential.accessKeyId } } : {};
}

/** The point's own context as a holder's extension attempts need it: what they mint is probed here. */
function holderContext(ctx: Ctx): AwsHolderContext {
  return { ...ctx, pointOfUse: { probe: (credential, node) => readObject(ctx, credential, node) } };
}

/** Remove the keys and console passwords holders made here with keys a broker handed over. */
async function removeMade(ctx: Ctx): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const made of (ctx.state.get(MADE) as MadeOnUser[] | undefined) ?? []) {
    const what = 'accessKeyId' in made ? `access key ${made.accessKeyId} of ${made.user}` : `console password of ${made.user}`;
    try {
      if ('accessKeyId' in made) await ctx.client.iam.send(new DeleteAccessKeyCommand({ UserName: made.user, AccessKeyId: made.accessKeyId }));
      else await ctx.client.iam.send(new DeleteLoginProfileCommand({ UserName: made.user }));
      removed.push(what);
    } catch (error) {
      const failure = describeAwsError(error);
      if (failure.code !== 'NoSuchEntity') failed.push(`${what}: ${failureText(failure)}`);
    }
  }
  return { removed, failed };
}

async function setUpOwn(ctx: Ctx): Promise<Requester> {
  const { s3, iam, region } = ctx.client;
  const bucket = bucketName(ctx);
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}) }));
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: tagsFor(ctx) } }));
  const content = `jitc task object ${randomBytes(16).toString('hex')}`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: OBJECT_KEY, Body: content }));
  ctx.state.set(OBJECT, { bucket, key: OBJECT_KEY });
  ctx.state.set('objectDigest', digest(content));
  ctx.evidence.record('task object created', { bucket, key: OBJECT_KEY });

  const userName = iamName(ctx, 'identity');
  const user = await iam.send(new CreateUserCommand({ UserName: userName, Tags: tagsFor(ctx) }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  const accessKeyId = key.AccessKey?.AccessKeyId;
  const secretAccessKey = key.AccessKey?.SecretAccessKey;
  if (!accessKeyId || !secretAccessKey) throw new Error(`no access key returned for ${userName}`);
  const created: Requester = { userName, arn: user.User?.Arn ?? '', credential: bornKeys(ctx.secrets, { accessKeyId, secretAccessKey }) };
  ctx.state.set('requester', created);
  await awaitAuthenticates(ctx, created.credential, `the identity's own key ${accessKeyId}`);
  ctx.evidence.record('task identity created: an IAM user with its own access key and no permission', { user: userName, arn: created.arn, accessKeyId });
  return created;
}

export const s3ObjectPoint: PointOfUse<Params, AwsClient> = {
  title: 'An S3 object the task identity reads with the credential it is given',
  params,
  accepts: ['aws-keys'],
  offers: [OBJECT_ARN, REQUESTER_USER, REQUESTER_ARN],
  // Every reuse handle and finding belongs to the grant source; the point adds the account's own trail, where it is named.
  checks: () => ['audit-trail'],
  remediation: {
    'audit-trail':
      "Keep a CloudTrail trail that delivers this region's management events and S3 data events (GetObject) for the task's bucket to a bucket the reviewer reads (aws.cloudTrail), and end grants with a call that names them (DeleteAccessKey, DetachUserPolicy, RemoveUserFromGroup, a revocation of the role's sessions), so issue, use and end each leave a record",
    'zero-standing-privilege':
      'Give the task identity no policy, group membership or role trust that reaches the task object: it may read it only through a grant.',
    'grant-usable': "Make the grant name this object (or its bucket for bucket actions) in its policy's Resource, and allow IAM to propagate within propagationSeconds.",
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    // Before anything is created: the trail is read from here on (or its gap is declared).
    openCloudTrail(ctx);
    const existing = ctx.params.existing;
    if (existing) {
      ctx.state.set(OBJECT, objectOf(existing.objectArn));
      ctx.state.set('objectDigest', await useExistingObject(ctx, existing));
      const found: ExistingRequester | undefined = existing.requesterKeysEnv ? await keysFromEnv(ctx, existing.requesterKeysEnv) : undefined;
      if (found?.userName) ctx.state.set('requester', { userName: found.userName, arn: found.arn, credential: found.credential } satisfies Requester);
      if (found) ctx.evidence.record('requester identity: the existing keys the scenario names', { arn: found.arn, accessKeyId: found.credential.accessKeyId });
      ctx.state.set('existingRequester', found);
      return {
        description: `read ${existing.objectArn}${found ? ` as ${found.arn || found.credential.accessKeyId}` : ''}`,
        terms: { [OBJECT_ARN]: existing.objectArn, [REQUESTER_USER]: found?.userName ?? '', [REQUESTER_ARN]: found?.arn ?? '' },
        ...(found ? { requester: found.credential } : {}),
      };
    }
    const created = await setUpOwn(ctx);
    const { bucket, key } = taskObject(ctx);
    return {
      description: `read s3://${bucket}/${key} as ${created.userName}`,
      terms: { [OBJECT_ARN]: objectArn({ partition: ctx.client.partition, bucket, key }), [REQUESTER_USER]: created.userName, [REQUESTER_ARN]: created.arn },
      requester: created.credential,
    };
  },

  // The identity is read by its name: its keys, password, policies and memberships are what reach the
  // object; and whatever a holder of handed-over keys minted here while it still reaches it.
  async entitlements(ctx) {
    markResidueRead(ctx);
    const who = requester(ctx);
    const own = who ? await userEntitlements(ctx.client.iam, who.userName) : [];
    return [...own, ...(await mintedSessionEntitlements(holderContext(ctx)))].sort();
  },

  async probeStanding(ctx) {
    const existing = ctx.params.existing;
    const keys = existing ? (ctx.state.get('existingRequester') as ExistingRequester | undefined)?.credential : requester(ctx)?.credential;
    if (!keys) return existing ? noRequester(existing) : { outcome: 'unknown', at: new Date().toISOString(), detail: 'the task identity was not created' };
    const own = await readObject(ctx, keys);
    return { ...own, detail: `own key: ${own.detail}` };
  },

  probe: (ctx, credential, node) => readObject(ctx, credential, node),

  async use(ctx, credential) {
    const used = await untilAllowed(ctx, `first use of the ${keysOf(credential)?.sessionToken ? 'session' : 'key'}`, () => readObject(ctx, credential));
    rememberUse(ctx, keysOf(credential), used.outcome === 'allowed');
    return used;
  },

  async inspect(ctx, credential) {
    const keys = keysOf(credential);
    return keys ? keyFacts(ctx.client.iam, keys) : undefined;
  },

  extensions(ctx, credential, grant) {
    const keys = keysOf(credential);
    if (!keys) return [];
    const windowEndsAt = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
    return handedKeysExtensions(holderContext(ctx), keys, windowEndsAt, (made) => ctx.state.set(MADE, [...((ctx.state.get(MADE) as MadeOnUser[] | undefined) ?? []), made]));
  },

  async teardown(ctx) {
    // The residue was read: the grant's end, if it came, is in the past, and the trail is judged first.
    try {
      await judgeCloudTrail(ctx, { object: ctx.state.has(OBJECT) ? taskObject(ctx) : { bucket: '', key: '' }, ...taskIdentity(ctx) });
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `CloudTrail could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    }
    const made = await removeMade(ctx);
    if (ctx.params.existing) {
      await confirmUnchanged(ctx);
      if (made.failed.length > 0) throw new Error(`teardown left: ${made.failed.join('; ')} (removed: ${made.removed.join(', ')})`);
      return made.removed;
    }
    const userName = iamName(ctx, 'identity');
    const iamReport = await removeNamed(ctx.client.iam, { users: [userName] });
    const removed = [...made.removed, ...iamReport.removed, ...(await removeBucket(ctx.client.s3, bucketName(ctx)))];
    const failed = [...made.failed, ...iamReport.failed];
    if (failed.length > 0) throw new Error(`teardown left: ${failed.join('; ')} (removed: ${removed.join(', ')})`);
    return removed;
  },
};
