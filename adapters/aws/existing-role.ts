/**
 * An IAM role of the user's own configuration that a scenario names (`roleArn:`, or the
 * break-glass source's `existing.roleArn`): read with the admin credential before the grant and
 * again at teardown (adapters/existing-objects.ts), never written, and judged by its own settings
 * (role-findings.ts: `role-within-window`, `role-trust-narrow`).
 */
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { useExisting } from '../existing-objects.ts';
import type { AwsContext } from './context.ts';
import { attachedPolicies, inlinePolicies, type InlinePolicy } from './iam-read.ts';
import { parseDocument, type PolicyDocument } from './policies.ts';
import { describeAwsError, failureText } from './probes.ts';
import { judgeSessionDuration, judgeTrust } from './role-findings.ts';

/** A role's ARN as a scenario names it. */
export const roleArnField = z.string().regex(/^arn:[^:]+:iam::\d{12}:role\/.+$/, 'an IAM role ARN such as arn:aws:iam::123456789012:role/app-reader');

export interface RoleSettings {
  arn: string;
  maxSessionDuration: number | undefined;
  trust: PolicyDocument;
  inline: InlinePolicy[];
  attached: string[];
}

/** The role's name: the last segment of its ARN (a path may come before it). */
export const roleNameOf = (arn: string): string => arn.split('/').at(-1) ?? '';

/** A role as IAM holds it: ARN, MaxSessionDuration, trust, inline and attached policies. */
async function readRole(iam: IAMClient, name: string): Promise<RoleSettings> {
  const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  return {
    arn: role?.Arn ?? '',
    maxSessionDuration: role?.MaxSessionDuration,
    trust: parseDocument(role?.AssumeRolePolicyDocument ?? '{}'),
    inline: await inlinePolicies(iam, { role: name }),
    attached: (await attachedPolicies(iam, { role: name })).map((a) => a.arn).sort(),
  };
}

/** Read the existing role, report how long its sessions may live and who it trusts, and remember it for teardown. */
export async function judgeExistingRole(ctx: AwsContext, arn: string): Promise<RoleSettings> {
  const name = roleNameOf(arn);
  let role: RoleSettings;
  try {
    role = await useExisting(ctx, `role ${arn}`, () => readRole(ctx.client.iam, name));
  } catch (error) {
    throw new Error(`the existing role ${arn} could not be read with the admin credential: ${failureText(describeAwsError(error))}`);
  }
  if (role.arn !== arn) throw new Error(`${arn} names role ${name}, whose ARN is ${role.arn}: give the role's own ARN, path included`);
  ctx.report(judgeSessionDuration(role.arn, role.maxSessionDuration, ctx.task.windowSeconds));
  ctx.report(judgeTrust(role.arn, role.trust));
  return role;
}
