/**
 * The embedded AWS really authenticates and authorises: against the moto_server the harness starts
 * (IAM enforcement switched on after the admin bootstrap), every request is SigV4-checked against
 * the stored secret and judged by the caller's IAM policies. Without this, every "denied" in the
 * AWS scenarios would be meaningless.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, ListUsersCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import awsAdapter from '../../adapters/aws/index.ts';
import { type AwsClient, type Credentials } from '../../adapters/aws/client.ts';
import { describeAwsError, probe } from '../../adapters/aws/probes.ts';
import type { StartedTarget } from '../../adapters/contract.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

let target: StartedTarget;
let admin: AwsClient;
let user: Credentials;
const runId = testRunId();
const userName = `jitc-${runId}-signing.identity`;
const bucket = `jitc-${runId}-signing`;

/** The AWS error code a call answers with, or "allowed". */
async function answer(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    return describeAwsError(error).code;
  }
}

function as(credentials: Credentials) {
  return admin.as(credentials);
}

beforeAll(async () => {
  const local = awsAdapter.targets.local;
  if (!local) throw new Error('aws adapter has no local target');
  target = await local.start({ runId, workDir: mkdtempSync(join(tmpdir(), 'jitc-aws-signing-')), projectRoot: PROJECT_ROOT, config: {}, log: () => undefined });
  admin = await awsAdapter.connect(target.connection);
  await admin.iam.send(new CreateUserCommand({ UserName: userName, Tags: [{ Key: 'jitc:run', Value: runId }] }));
  const key = await admin.iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  user = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'object.txt', Body: 'content' }));
}, 60_000);

afterAll(async () => {
  if (admin) {
    await awsAdapter.cleanup(admin, runId);
    await awsAdapter.disconnect?.(admin);
  }
  await target?.stop();
});

describe('moto_server as the harness starts it enforces IAM', () => {
  test('the admin credential is accepted and the target states who it is', async () => {
    const me = await admin.sts.send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(target.connection.settings.brokerArn);
    expect(target.connection.facts.enforcement).toMatch(/SigV4/);
  });

  test('a request signed with a wrong secret key is refused with SignatureDoesNotMatch', async () => {
    const forged = as({ accessKeyId: target.connection.settings.accessKeyId!, secretAccessKey: 'not-the-secret-key' });
    expect(await answer(() => forged.iam.send(new ListUsersCommand({})))).toBe('SignatureDoesNotMatch');
    expect(await answer(() => forged.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'object.txt' })))).toBe('SignatureDoesNotMatch');
    forged.destroy();
  });

  test('an access key id the target does not know is refused with InvalidClientTokenId (S3: InvalidAccessKeyId)', async () => {
    const unknown = as({ accessKeyId: 'AKIAJITCUNKNOWNKEY00', secretAccessKey: 'whatever-secret' });
    expect(await answer(() => unknown.sts.send(new GetCallerIdentityCommand({})))).toBe('InvalidClientTokenId');
    expect(await answer(() => unknown.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'object.txt' })))).toBe('InvalidAccessKeyId');
    unknown.destroy();
  });

  test('a correctly signed request from a user without any policy is AccessDenied', async () => {
    const c = as(user);
    expect(await answer(() => c.sts.send(new GetCallerIdentityCommand({})))).toBe('allowed');
    expect(await answer(() => c.iam.send(new ListUsersCommand({})))).toBe('AccessDenied');
    expect(await answer(() => c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'object.txt' })))).toBe('AccessDenied');
    c.destroy();
  });

  test('the same user is allowed exactly what a policy grants it, and nothing beside', async () => {
    await admin.iam.send(
      new PutUserPolicyCommand({
        UserName: userName,
        PolicyName: 'read-one-object',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/object.txt` }] }),
      }),
    );
    const c = as(user);
    expect(await answer(() => c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'object.txt' })))).toBe('allowed');
    expect(await answer(() => c.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'object.txt', Body: 'overwritten' })))).toBe('AccessDenied');
    expect(await answer(() => c.iam.send(new ListUsersCommand({})))).toBe('AccessDenied');
    c.destroy();
  });

  test("the probes read these answers tri-state: policy and unknown-key refusals are denied, a bad signature is unknown", async () => {
    const forged = as({ accessKeyId: user.accessKeyId, secretAccessKey: 'not-the-secret-key' });
    const badSignature = await probe(async () => void (await forged.iam.send(new ListUsersCommand({}))));
    forged.destroy();
    expect(badSignature.outcome).toBe('unknown');
    expect(badSignature.detail).toMatch(/SignatureDoesNotMatch/);

    const c = as(user);
    const policyDenied = await probe(async () => void (await c.iam.send(new ListUsersCommand({}))));
    expect(policyDenied).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/HTTP 403 AccessDenied/) });
    c.destroy();

    await admin.iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: user.accessKeyId }));
    const gone = as(user);
    const deletedKey = await probe(async () => void (await gone.sts.send(new GetCallerIdentityCommand({}))));
    gone.destroy();
    expect(deletedKey).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/InvalidClientTokenId/) });
  });

  test('a target that does not answer is unknown, never denied', async () => {
    const c = awsAdapter.connect({ ...target.connection, settings: { ...target.connection.settings, endpoint: 'http://127.0.0.1:9' } });
    const offline = (await c).as(user);
    const result = await probe(async () => void (await offline.sts.send(new GetCallerIdentityCommand({}))));
    offline.destroy();
    expect(result.outcome).toBe('unknown');
    expect(result.detail).toMatch(/^no answer: /);
  });
});
