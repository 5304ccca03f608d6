/** Removing an S3 bucket with its objects: the point of use's teardown and the cleanup sweep of a killed run. */
import { DeleteBucketCommand, DeleteObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { describeAwsError } from './probes.ts';

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
