/**
 * The terms an AWS resource is granted by: what the point of use (points/s3-object.ts) offers and
 * the grant sources (grants/) read, the only state the two halves share besides the credential.
 * Names are namespaced `aws.`; values are the target's own identifiers (ARNs, user names).
 */
import type { Resource } from '../contract.ts';
import type { TaskResource } from './policies.ts';

/** The object the task reads: `arn:<partition>:s3:::<bucket>/<key>`. Bucket actions are granted on its bucket. */
export const OBJECT_ARN = 'aws.object-arn';
/** The task identity's IAM user name (a binding attaches to it; a broken trust names it). */
export const REQUESTER_USER = 'aws.requester-user';
/** The task identity's IAM user ARN, as a trust policy names a principal. */
export const REQUESTER_ARN = 'aws.requester-arn';

/** A term the resource must carry (the load-time check guarantees the declared ones). */
export function term(resource: Resource, name: string): string {
  const value = resource.terms[name];
  if (value === undefined || value === '') throw new Error(`the point of use offers no ${name} term`);
  return value;
}

/** The task's object and bucket, read back from the object's ARN. */
export function taskResourceOf(resource: Resource): TaskResource {
  const arn = term(resource, OBJECT_ARN);
  const parsed = /^arn:([^:]+):s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!parsed) throw new Error(`${OBJECT_ARN} is not an S3 object ARN: ${arn}`);
  return { partition: parsed[1]!, bucket: parsed[2]!, key: parsed[3]! };
}
