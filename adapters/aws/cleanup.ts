/**
 * `jitc cleanup` for AWS: what a killed run left — roles, users (with keys, policies and group
 * memberships), groups, managed policies and buckets named `jitc-<runId>-…` (any `jitc-` run when no
 * run id is given). Users, roles, policies and buckets must also carry the `jitc:run` tag, so a
 * foreign object that merely shares the name prefix is never touched; IAM groups cannot be tagged.
 */
import { GetBucketTaggingCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import type { CleanupReport } from '../contract.ts';
import type { AwsClient } from './client.ts';
import { removeBucket } from './buckets.ts';
import { removeIam } from './iam-remove.ts';
import { runPrefix } from '../contract.ts';
import { RUN_TAG } from './names.ts';
import { describeAwsError, failureText } from './probes.ts';

export async function cleanupAws(client: AwsClient, runId: string | undefined): Promise<CleanupReport> {
  const prefix = runPrefix(runId);
  const runTag = runId ?? true;
  const report = await removeIam(client.iam, (name) => name.startsWith(prefix), { runTag });

  const buckets = (await client.s3.send(new ListBucketsCommand({}))).Buckets ?? [];
  for (const bucket of buckets.map((b) => b.Name ?? '').filter((name) => name.startsWith(prefix))) {
    try {
      const tags = (await client.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet ?? [];
      const value = tags.find((t) => t.Key === RUN_TAG)?.Value;
      if (value === undefined || (runId !== undefined && value !== runId)) continue;
      report.removed.push(...(await removeBucket(client.s3, bucket)));
    } catch (error) {
      const failure = describeAwsError(error);
      // An untagged bucket answers NoSuchTagSet: not provably ours, so left alone.
      if (failure.code !== 'NoSuchTagSet' && failure.code !== 'NoSuchBucket') report.failed.push(`s3 bucket ${bucket}: ${failureText(failure)}`);
    }
  }
  return report;
}
