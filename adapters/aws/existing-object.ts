/**
 * The `s3-object` point of use over an object of the user's own (`existing:`): nothing is created.
 * The object is read once with the admin client so that a probe can tell its content from another
 * answer (only its digest is kept; the content is never recorded), its version is read before and
 * after (existing.ts), and the requester's own keys come from the variables the scenario names.
 * What reaches the object is read from the requester by name, never by listing every user.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { envName } from '../param-fields.ts';
import type { ProbeResult } from '../contract.ts';
import type { AwsContext } from './context.ts';
import { type AwsKeys, bornKeys } from './credentials.ts';
import { useExisting } from '../existing-objects.ts';
import { describeAwsError, failureText } from './probes.ts';

/** The variables holding an access key of the user's own: its id and its secret, by name. */
export const keysEnv = z.strictObject({ accessKeyId: envName, secretAccessKey: envName });

/** The point's `existing:` params. */
export const existingObjectParams = z.strictObject({
  /** The object the task reads: `arn:aws:s3:::bucket/key`. */
  objectArn: z.string().regex(/^arn:[^:]+:s3:::[^/]+\/.+$/, 'an S3 object ARN such as arn:aws:s3:::bucket/key'),
  /** The variables holding the requester's own access key, for the standing probe; absent: that probe is inconclusive. */
  requesterKeysEnv: keysEnv.optional(),
});
export type ExistingObject = z.infer<typeof existingObjectParams>;

export interface TaskObject {
  bucket: string;
  key: string;
}

export interface ExistingRequester {
  credential: AwsKeys;
  /** Who AWS says the keys are; empty when it could not say. */
  arn: string;
  /** The IAM user, when the keys are a user's. */
  userName: string | undefined;
}

export function objectOf(arn: string): TaskObject {
  const parsed = /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!parsed?.[1] || !parsed[2]) throw new Error(`not an S3 object ARN: ${arn}`);
  return { bucket: parsed[1], key: parsed[2] };
}

export const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The object's version as S3 states it, without its content. */
async function objectVersion(ctx: AwsContext, object: TaskObject): Promise<Record<string, unknown>> {
  const head = await ctx.client.s3.send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key }));
  return { etag: head.ETag ?? null, lastModified: head.LastModified?.toISOString() ?? null, contentLength: head.ContentLength ?? null, versionId: head.VersionId ?? null };
}

/** Remember the existing object and return the digest of its content, which the probe compares with. */
export async function useExistingObject(ctx: AwsContext, existing: ExistingObject): Promise<string> {
  const object = objectOf(existing.objectArn);
  try {
    await useExisting(ctx, `object ${existing.objectArn}`, () => objectVersion(ctx, object));
    const answer = await ctx.client.s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }));
    return digest((await answer.Body?.transformToString()) ?? '');
  } catch (error) {
    throw new Error(`the existing object ${existing.objectArn} could not be read with the admin credential: ${failureText(describeAwsError(error))}`);
  }
}

/**
 * Keys of the user's own from the variables named, born as a credential before anything can record
 * them, and who AWS says they are. `who` names them in the evidence ("requester", "break-glass
 * identity"), `param` the parameter that named the variables.
 */
export async function keysFromEnv(ctx: AwsContext, names: z.infer<typeof keysEnv>, who = 'requester', param = 'requesterKeysEnv'): Promise<ExistingRequester | undefined> {
  const accessKeyId = process.env[names.accessKeyId];
  const secretAccessKey = process.env[names.secretAccessKey];
  if (!accessKeyId || !secretAccessKey) {
    ctx.evidence.record(`the variables ${names.accessKeyId} and ${names.secretAccessKey} named by ${param} do not both hold a value: no ${who} credential`);
    return undefined;
  }
  const credential = bornKeys(ctx.secrets, { accessKeyId, secretAccessKey });
  const c = ctx.client.as(credential);
  let arn = '';
  try {
    arn = (await c.sts.send(new GetCallerIdentityCommand({}))).Arn ?? '';
  } catch (error) {
    ctx.evidence.record(`AWS did not say who the ${who}'s own keys are: ${failureText(describeAwsError(error))}`);
  } finally {
    c.destroy();
  }
  const userName = /^arn:[^:]+:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1];
  return { credential, arn, userName };
}

/** Without the requester's own keys nothing was asked: inconclusive, saying which parameter to set. */
export function noRequester(existing: ExistingObject): ProbeResult {
  const names = existing.requesterKeysEnv;
  return {
    outcome: 'unknown',
    at: new Date().toISOString(),
    detail: names
      ? `the variables ${names.accessKeyId} and ${names.secretAccessKey} named by existing.requesterKeysEnv hold no keys, so the requester's standing privilege was not probed`
      : "no requester credential: set existing.requesterKeysEnv to the names of the variables holding the requester's own access key to probe its standing privilege",
  };
}
