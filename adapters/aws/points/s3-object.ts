/**
 * `s3-object`: the point of use of every AWS pair — one S3 object only a grant may read, and the
 * task identity that asks for the grant (the requester): an IAM user with an access key of its own
 * and no permission at all. The privileged action is reading the object back with a credential,
 * on a new connection, judged by its content. The grant sources (grants/) see the object's ARN
 * and the requester's name and ARN as terms, and the requester's key as the resource's
 * credential; they never see this file's state. Everything is named with the scenario's stem,
 * tagged with the run, and removed again by teardown.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type BucketLocationConstraint, CreateBucketCommand, GetObjectCommand, PutBucketTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand } from '@aws-sdk/client-iam';
import type { z } from 'zod';
import type { Credential, PointOfUse, ProbeResult } from '../../contract.ts';
import { removeBucket } from '../buckets.ts';
import type { AwsClient } from '../client.ts';
import { type AwsContext, propagationParams } from '../context.ts';
import { type AwsKeys, bornKeys, keysOf, registerBrokerSecrets } from '../credentials.ts';
import { userEntitlements } from '../iam-read.ts';
import { removeIam } from '../iam-remove.ts';
import { bucketName, iamName, tagsFor } from '../names.ts';
import { objectArn } from '../policies.ts';
import { probe } from '../probes.ts';
import { awaitAuthenticates, untilAllowed } from '../propagation.ts';
import { OBJECT_ARN, REQUESTER_ARN, REQUESTER_USER } from '../terms.ts';

const params = propagationParams;
type Params = z.infer<typeof params>;
type Ctx = AwsContext<Params>;

export const OBJECT_KEY = 'task/object.txt';

interface Requester {
  userName: string;
  arn: string;
  credential: AwsKeys;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

function requester(ctx: Ctx): Requester {
  const found = ctx.state.get('requester') as Requester | undefined;
  if (!found) throw new Error('the task identity was not created');
  return found;
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
  const bucket = bucketName(ctx);
  const c = ctx.client.as(keys, node);
  try {
    return await probe(async () => {
      const answer = await c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: OBJECT_KEY }));
      const body = (await answer.Body?.transformToString()) ?? '';
      if (digest(body) !== ctx.state.get('objectDigest')) throw Object.assign(new Error('object content differs from what was written'), { name: 'UnexpectedContent', $metadata: { httpStatusCode: 200 } });
      return `GetObject s3://${bucket}/${OBJECT_KEY}: HTTP 200, content as written`;
    });
  } finally {
    c.destroy();
  }
}

export const s3ObjectPoint: PointOfUse<Params, AwsClient> = {
  title: 'An S3 object the task identity reads with the credential it is given',
  params,
  accepts: ['aws-keys'],
  offers: [OBJECT_ARN, REQUESTER_USER, REQUESTER_ARN],
  // Every reuse handle and finding belongs to the grant source; reading the object adds no check of its own.
  checks: () => [],
  remediation: {
    'zero-standing-privilege':
      'Give the task identity no policy, group membership or role trust that reaches the task object: it may read it only through a grant.',
    'grant-usable': "Make the grant name this object (or its bucket for bucket actions) in its policy's Resource, and allow IAM to propagate within propagationSeconds.",
  },

  async setup(ctx) {
    await registerBrokerSecrets(ctx);
    const { s3, iam, region } = ctx.client;
    const bucket = bucketName(ctx);
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}) }));
    await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: tagsFor(ctx) } }));
    const content = `jitc task object ${randomBytes(16).toString('hex')}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: OBJECT_KEY, Body: content }));
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

    const arn = objectArn({ partition: ctx.client.partition, bucket, key: OBJECT_KEY });
    return {
      description: `read s3://${bucket}/${OBJECT_KEY} as ${userName}`,
      terms: { [OBJECT_ARN]: arn, [REQUESTER_USER]: userName, [REQUESTER_ARN]: created.arn },
      requester: created.credential,
    };
  },

  // The identity is read by its name: its keys, password, policies and memberships are what reach the object.
  entitlements: async (ctx) => (await userEntitlements(ctx.client.iam, requester(ctx).userName)).sort(),

  async probeStanding(ctx) {
    const own = await readObject(ctx, requester(ctx).credential);
    return { ...own, detail: `own key: ${own.detail}` };
  },

  probe: (ctx, credential, node) => readObject(ctx, credential, node),

  use: (ctx, credential) =>
    untilAllowed(ctx, `first use of the ${keysOf(credential)?.sessionToken ? 'session' : 'key'}`, () => readObject(ctx, credential)),

  async teardown(ctx) {
    const userName = iamName(ctx, 'identity');
    const iamReport = await removeIam(ctx.client.iam, (name) => name === userName);
    const removed = [...iamReport.removed, ...(await removeBucket(ctx.client.s3, bucketName(ctx)))];
    if (iamReport.failed.length > 0) throw new Error(`teardown left: ${iamReport.failed.join('; ')} (removed: ${removed.join(', ')})`);
    return removed;
  },
};
