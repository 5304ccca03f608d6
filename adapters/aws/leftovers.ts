/**
 * What a run left in an AWS account, read from the account itself: users (with their access keys),
 * roles, groups, customer-managed policies and buckets whose names contain `jitc-<runId>-`.
 * Deliberately wider than the cleanup sweep's own matching, and worded as the sweep words its
 * removals, so a sweep that misses something shows.
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import type { AwsClient } from './client.ts';
import { accessKeys, groupsMatching, policiesMatching, rolesMatching, usersMatching } from './iam-read.ts';
import { runPrefix } from '../contract.ts';

export async function awsLeftovers(client: AwsClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId);
  const ours = (name: string): boolean => name.includes(prefix);
  const found: string[] = [];
  for (const user of await usersMatching(client.iam, ours)) {
    found.push(`iam user ${user}`);
    for (const key of await accessKeys(client.iam, user)) found.push(`access key ${key.id} of ${user}`);
  }
  for (const role of await rolesMatching(client.iam, ours)) found.push(`iam role ${role.name}`);
  for (const group of await groupsMatching(client.iam, ours)) found.push(`iam group ${group}`);
  for (const policy of await policiesMatching(client.iam, ours)) found.push(`managed policy ${policy.name}`);
  // Bucket names are lower case: the prefix is compared as such.
  const buckets = (await client.s3.send(new ListBucketsCommand({}))).Buckets ?? [];
  for (const bucket of buckets) if (bucket.Name?.includes(prefix.toLowerCase())) found.push(`s3 bucket ${bucket.Name}`);
  return found.sort();
}
