/**
 * Whether the AWS account holds an IAM object named by its ARN: a user, role or group (Get by its
 * name, the ARN's last path segment) or a managed policy (GetPolicy by the ARN). One read with the
 * admin client. IAM's own NoSuchEntity (HTTP 404) alone is `gone`; anything else is `unknown`, an
 * ARN of another account or partition included: asking this account for its name would answer
 * about a different object.
 */
import { GetGroupCommand, GetPolicyCommand, GetRoleCommand, GetUserCommand } from '@aws-sdk/client-iam';
import type { LookUpResult } from '../contract.ts';
import type { AwsClient } from './client.ts';
import { isGone } from './iam-read.ts';
import { describeAwsError, failureText } from './probes.ts';

/** arn:<partition>:iam::<account>:<kind>/<path/><name> */
const IAM_ARN = /^arn:([a-z-]+):iam::(\d{12}):(user|role|group|policy)\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]+)$/;

export async function lookUpAws(client: AwsClient, ref: string): Promise<LookUpResult> {
  const parsed = IAM_ARN.exec(ref);
  if (!parsed) return { state: 'unknown', detail: `${ref} is not the ARN of an IAM user, role, group or managed policy` };
  const [, partition, account, kind, name] = parsed as unknown as [string, string, string, 'user' | 'role' | 'group' | 'policy', string];
  if (partition !== client.partition || account !== client.account) {
    return { state: 'unknown', detail: `${ref} is not in this account (${client.partition}, ${client.account})` };
  }
  const reads = {
    user: { call: 'GetUser', send: () => client.iam.send(new GetUserCommand({ UserName: name })) },
    role: { call: 'GetRole', send: () => client.iam.send(new GetRoleCommand({ RoleName: name })) },
    group: { call: 'GetGroup', send: () => client.iam.send(new GetGroupCommand({ GroupName: name, MaxItems: 1 })) },
    policy: { call: 'GetPolicy', send: () => client.iam.send(new GetPolicyCommand({ PolicyArn: ref })) },
  } as const;
  const read = reads[kind];
  try {
    await read.send();
    return { state: 'present', detail: `${read.call} ${name}: found` };
  } catch (error) {
    const failure = describeAwsError(error);
    if (isGone(error) && failure.status === 404) return { state: 'gone', detail: `${read.call} ${name}: ${failureText(failure)}` };
    return { state: 'unknown', detail: `${read.call} ${name}: ${failureText(failure)}` };
  }
}
