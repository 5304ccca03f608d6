/**
 * Removing IAM objects by name: a role with its policies, a user with its keys, console password,
 * policies and group memberships, a group with its members and policies, a managed policy with its attachments and
 * versions — in the order IAM requires. Teardown removes one scenario's objects (exact stem),
 * cleanup a run's (run prefix, and only objects tagged with the run).
 */
import {
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeleteLoginProfileCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  type IAMClient,
  ListPolicyTagsCommand,
  ListRoleTagsCommand,
  ListUserTagsCommand,
  paginateListEntitiesForPolicy,
  paginateListPolicyVersions,
  RemoveUserFromGroupCommand,
  type Tag,
} from '@aws-sdk/client-iam';
import type { CleanupReport } from '../contract.ts';
import {
  accessKeys,
  attachedPolicies,
  groupsMatching,
  groupsOf,
  hasLoginProfile,
  inlinePolicies,
  membersOf,
  type NameMatch,
  policiesMatching,
  rolesMatching,
  usersMatching,
} from './iam-read.ts';
import { RUN_TAG } from './names.ts';
import { describeAwsError, failureText } from './probes.ts';

export interface RemoveOptions {
  /**
   * When set, users, roles and managed policies are removed only if they carry the run tag (with
   * this value; `true` for any run). Groups cannot carry tags in IAM: their name decides.
   */
  runTag?: string | true;
}

function tagMatches(tags: Tag[] | undefined, want: string | true): boolean {
  const value = tags?.find((t) => t.Key === RUN_TAG)?.Value;
  return value !== undefined && (want === true || value === want);
}

export async function removeIam(iam: IAMClient, match: NameMatch, options: RemoveOptions = {}): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], failed: [] };
  const attempt = async (what: string, action: () => Promise<unknown>, quiet = false): Promise<boolean> => {
    try {
      await action();
      if (!quiet) report.removed.push(what);
      return true;
    } catch (error) {
      const failure = describeAwsError(error);
      // Already gone: nothing to remove, nothing to report.
      if (failure.code !== 'NoSuchEntity') report.failed.push(`${what}: ${failureText(failure)}`);
      return false;
    }
  };
  const { runTag } = options;

  for (const role of await rolesMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListRoleTagsCommand({ RoleName: role.name }))).Tags, runTag)) continue;
    for (const p of await inlinePolicies(iam, { role: role.name })) {
      await attempt(`role policy ${role.name}/${p.name}`, () => iam.send(new DeleteRolePolicyCommand({ RoleName: role.name, PolicyName: p.name })), true);
    }
    for (const a of await attachedPolicies(iam, { role: role.name })) {
      await attempt(`role attachment ${role.name}/${a.name}`, () => iam.send(new DetachRolePolicyCommand({ RoleName: role.name, PolicyArn: a.arn })), true);
    }
    await attempt(`iam role ${role.name}`, () => iam.send(new DeleteRoleCommand({ RoleName: role.name })));
  }

  for (const user of await usersMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListUserTagsCommand({ UserName: user }))).Tags, runTag)) continue;
    for (const key of await accessKeys(iam, user)) {
      await attempt(`access key ${key.id} of ${user}`, () => iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: key.id })));
    }
    // IAM refuses to delete a user that still has a console password (DeleteConflict).
    if (await hasLoginProfile(iam, user)) await attempt(`console password of ${user}`, () => iam.send(new DeleteLoginProfileCommand({ UserName: user })));
    for (const p of await inlinePolicies(iam, { user })) {
      await attempt(`user policy ${user}/${p.name}`, () => iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: p.name })), true);
    }
    for (const a of await attachedPolicies(iam, { user })) {
      await attempt(`user attachment ${user}/${a.name}`, () => iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: a.arn })), true);
    }
    for (const group of await groupsOf(iam, user)) {
      await attempt(`membership of ${user} in ${group}`, () => iam.send(new RemoveUserFromGroupCommand({ UserName: user, GroupName: group })), true);
    }
    await attempt(`iam user ${user}`, () => iam.send(new DeleteUserCommand({ UserName: user })));
  }

  for (const group of await groupsMatching(iam, match)) {
    for (const user of await membersOf(iam, group)) {
      await attempt(`membership of ${user} in ${group}`, () => iam.send(new RemoveUserFromGroupCommand({ UserName: user, GroupName: group })), true);
    }
    for (const p of await inlinePolicies(iam, { group })) {
      await attempt(`group policy ${group}/${p.name}`, () => iam.send(new DeleteGroupPolicyCommand({ GroupName: group, PolicyName: p.name })), true);
    }
    for (const a of await attachedPolicies(iam, { group })) {
      await attempt(`group attachment ${group}/${a.name}`, () => iam.send(new DetachGroupPolicyCommand({ GroupName: group, PolicyArn: a.arn })), true);
    }
    await attempt(`iam group ${group}`, () => iam.send(new DeleteGroupCommand({ GroupName: group })));
  }

  for (const policy of await policiesMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListPolicyTagsCommand({ PolicyArn: policy.arn }))).Tags, runTag)) continue;
    await removeManagedPolicy(iam, policy.arn, policy.name, attempt);
  }
  return report;
}

type Attempt = (what: string, action: () => Promise<unknown>, quiet?: boolean) => Promise<boolean>;

/** Detach a managed policy from everyone (including principals outside the scenario), drop old versions, delete it. */
async function removeManagedPolicy(iam: IAMClient, arn: string, name: string, attempt: Attempt): Promise<void> {
  for await (const page of paginateListEntitiesForPolicy({ client: iam }, { PolicyArn: arn })) {
    for (const u of page.PolicyUsers ?? []) await attempt(`attachment ${name} to ${u.UserName}`, () => iam.send(new DetachUserPolicyCommand({ UserName: u.UserName, PolicyArn: arn })), true);
    for (const r of page.PolicyRoles ?? []) await attempt(`attachment ${name} to ${r.RoleName}`, () => iam.send(new DetachRolePolicyCommand({ RoleName: r.RoleName, PolicyArn: arn })), true);
    for (const g of page.PolicyGroups ?? []) await attempt(`attachment ${name} to ${g.GroupName}`, () => iam.send(new DetachGroupPolicyCommand({ GroupName: g.GroupName, PolicyArn: arn })), true);
  }
  for await (const page of paginateListPolicyVersions({ client: iam }, { PolicyArn: arn })) {
    for (const v of (page.Versions ?? []).filter((ver) => !ver.IsDefaultVersion)) {
      await attempt(`version ${v.VersionId} of ${name}`, () => iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.VersionId })), true);
    }
  }
  await attempt(`managed policy ${name}`, () => iam.send(new DeletePolicyCommand({ PolicyArn: arn })));
}
