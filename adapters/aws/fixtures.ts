/**
 * What every AWS scenario needs before its grant: an S3 object only the grant may read, and the
 * task identity — an IAM user with an access key of its own and no permission at all. Everything is
 * named with the scenario's stem and tagged with the run, and removed again by teardown.
 */
import { randomBytes, createHash } from 'node:crypto';
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  PutBucketTaggingCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateAccessKeyCommand, CreateUserCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import pRetry, { AbortError } from 'p-retry';
import { z } from 'zod';
import { seconds } from '../../scenarios/durations.ts';
import type { ProbeResult, ScenarioContext } from '../contract.ts';
import type { AwsClient, Credentials } from './client.ts';
import { removeIam } from './iam-remove.ts';
import { bucketName, iamName, ownedBy, tagsFor } from './names.ts';
import type { TaskResource } from './policies.ts';
import { describeAwsError, failureText, probe } from './probes.ts';

/** Parameters every AWS mechanism accepts. */
export const fixtureParams = z.strictObject({
  /**
   * How long a fresh IAM change (a new key, a new grant) may take to take effect before the harness
   * gives up. IAM is eventually consistent on AWS (seconds); moto applies changes at once.
   */
  propagationSeconds: seconds.default(20),
});
export type FixtureParams = z.infer<typeof fixtureParams>;

export type AwsContext<P extends FixtureParams = FixtureParams> = ScenarioContext<P, AwsClient>;

export const OBJECT_KEY = 'task/object.txt';

export interface Identity {
  userName: string;
  arn: string;
  credentials: Credentials;
}

export function taskResource(ctx: AwsContext): TaskResource {
  return { partition: ctx.client.partition, bucket: bucketName(ctx), key: OBJECT_KEY };
}

export function identity(ctx: AwsContext): Identity {
  const found = ctx.state.get('identity') as Identity | undefined;
  if (!found) throw new Error('the task identity was not created');
  return found;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The broker's own secret access key and session token join the scenario's redaction list before
 * anything is written: on an external target they come from the SDK default chain, never from the
 * connection, so nothing else would know them.
 */
export async function registerBrokerSecrets(ctx: AwsContext): Promise<void> {
  for (const value of await ctx.client.brokerSecrets()) ctx.secrets.add(value);
}

export async function createFixtures(ctx: AwsContext): Promise<void> {
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
  ctx.secrets.add(secretAccessKey);
  const created: Identity = { userName, arn: user.User?.Arn ?? '', credentials: { accessKeyId, secretAccessKey } };
  ctx.state.set('identity', created);
  await awaitAuthenticates(ctx, created.credentials, `the identity's own key ${accessKeyId}`);
  ctx.evidence.record('task identity created: an IAM user with its own access key and no permission', { user: userName, arn: created.arn, accessKeyId });
}

/**
 * The privileged action: read the task's object with a credential, on a new connection, at `node`
 * (one of the scenario's reuse nodes) when given. Allowed only when the content read back is the
 * content written — a 200 for some other object would prove nothing.
 */
export async function readObject(ctx: AwsContext, credentials: Credentials, node?: string): Promise<ProbeResult> {
  const c = ctx.client.as(credentials, node);
  try {
    return await probe(async () => {
      const answer = await c.s3.send(new GetObjectCommand({ Bucket: bucketName(ctx), Key: OBJECT_KEY }));
      const body = (await answer.Body?.transformToString()) ?? '';
      if (digest(body) !== ctx.state.get('objectDigest')) throw Object.assign(new Error('object content differs from what was written'), { name: 'UnexpectedContent', $metadata: { httpStatusCode: 200 } });
      return `GetObject s3://${bucketName(ctx)}/${OBJECT_KEY}: HTTP 200, content as written`;
    });
  } finally {
    c.destroy();
  }
}

/** A new access key works on AWS only after it has propagated; wait until it authenticates. */
export async function awaitAuthenticates(ctx: AwsContext, credentials: Credentials, what: string): Promise<void> {
  const started = Date.now();
  await eventually(ctx, what, ['InvalidClientTokenId'], async () => {
    const c = ctx.client.as(credentials);
    try {
      await c.sts.send(new GetCallerIdentityCommand({}));
    } finally {
      c.destroy();
    }
  });
  const ms = Date.now() - started;
  if (ms > 500) ctx.evidence.record(`${what} authenticates after ${ms} ms (IAM propagation)`);
}

/**
 * Run an admin call, retrying while the target answers one of `transient` (IAM's eventual
 * consistency: a principal or key not yet known everywhere), up to params.propagationSeconds.
 */
export async function eventually<T>(ctx: AwsContext, what: string, transient: string[], action: () => Promise<T>): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await action();
      } catch (error) {
        if (transient.includes(describeAwsError(error).code)) throw error;
        throw new AbortError(error instanceof Error ? error : new Error(String(error)));
      }
    },
    {
      retries: 1000,
      minTimeout: 200,
      maxTimeout: 2000,
      factor: 1.5,
      randomize: false,
      maxRetryTime: ctx.params.propagationSeconds * 1000,
      signal: ctx.signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (attemptNumber === 1) ctx.evidence.record(`${what}: not yet in effect (${failureText(describeAwsError(error))}), waiting for IAM to propagate`);
      },
    },
  );
}

/**
 * Use a fresh grant: probe until the target allows it (a new grant takes seconds to propagate on
 * AWS) or params.propagationSeconds pass. The propagation delay is recorded as evidence.
 */
export async function untilAllowed(ctx: AwsContext, what: string, attempt: () => Promise<ProbeResult>): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + ctx.params.propagationSeconds * 1000;
  let tries = 0;
  for (;;) {
    tries++;
    const result = await attempt();
    if (result.outcome === 'allowed' || Date.now() >= deadline || ctx.signal.aborted) {
      if (tries > 1) ctx.evidence.record(`${what}: ${result.outcome} after ${tries} attempts, ${Date.now() - started} ms after the grant (IAM propagation)`);
      return result;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * tries, 1500)));
  }
}

/** Remove the scenario's IAM objects (exact stem: never a neighbour's) and its bucket. */
export async function removeFixtures(ctx: AwsContext): Promise<string[]> {
  const iamReport = await removeIam(ctx.client.iam, (name) => ownedBy(ctx, name));
  const removed = [...iamReport.removed, ...(await removeBucket(ctx.client.s3, bucketName(ctx)))];
  if (iamReport.failed.length > 0) throw new Error(`teardown left: ${iamReport.failed.join('; ')} (removed: ${removed.join(', ')})`);
  return removed;
}

/** Empty and delete a bucket; nothing if it does not exist. */
export async function removeBucket(s3: S3Client, bucket: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
      for (const object of page.Contents ?? []) {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
        removed.push(`s3 object s3://${bucket}/${object.Key}`);
      }
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    removed.push(`s3 bucket ${bucket}`);
  } catch (error) {
    if (describeAwsError(error).code !== 'NoSuchBucket') throw error;
  }
  return removed;
}

