/**
 * What AWS states about keys a point of use was handed by a user's broker. A long-term IAM access
 * key states no expiry at all: IAM is asked, with the admin client, whose key it is
 * (GetAccessKeyLastUsed names its user without listing every user) and whether that user still
 * holds it, for the detail. A session (a session token beside the key) is stated nothing about to
 * a third party: AWS offers no lookup of another principal's session, so nothing is said.
 */
import { GetAccessKeyLastUsedCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { CredentialFacts } from '../contract.ts';
import type { AwsKeys } from './credentials.ts';
import { accessKeys } from './iam-read.ts';
import { describeAwsError, failureText } from './probes.ts';

export const LONG_TERM_KEY = 'long-term IAM access key: IAM states no expiry';

export async function keyFacts(iam: IAMClient, keys: AwsKeys): Promise<CredentialFacts | undefined> {
  if (keys.sessionToken) return undefined;
  const id = keys.accessKeyId;
  let user: string | undefined;
  try {
    user = (await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }))).UserName;
  } catch (error) {
    throw new Error(`IAM could not say whose access key ${id} is: ${failureText(describeAwsError(error))}`);
  }
  if (!user) throw new Error(`IAM names no user for access key ${id}`);
  const held = (await accessKeys(iam, user)).find((k) => k.id === id);
  if (!held) throw new Error(`IAM does not list access key ${id} on user ${user}`);
  return {
    expiresAt: null,
    ttlSeconds: null,
    ...(held.createdAt ? { issuedAt: held.createdAt } : {}),
    attributes: { accessKeyId: id, user, status: held.status },
    detail: `${LONG_TERM_KEY} (${id} of IAM user ${user}, ${held.status}${held.createdAt ? `, created ${held.createdAt}` : ''})`,
  };
}
