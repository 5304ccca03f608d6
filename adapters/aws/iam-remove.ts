/**
 * Removing IAM objects by name: a role with its policies, a user with its keys, console password,
 * policies and group memberships, a group with its members and policies, a managed policy with its attachments and
 * versions — in the order IAM requires. Teardown removes one scenario's objects by their names
 * (`removeNamed`), cleanup a run's by listing the account (run prefix, and only objects tagged
 * with the run).
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
  type IamNames,
  inlinePolicies,
  membersOf,
  type NameMatch,
  policiesMatching,
  rolesMatching,
  unlessGone,
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

type Attempt = (what: string, action: () => Promise<unknown>, quiet?: boolean) => Promise<boolean>;

/** A report, and the attempt that fills it: a removal IAM answers NoSuchEntity to was already done. */
function reporting(): { report: CleanupReport; attempt: Attempt } {
  const report: CleanupReport = { removed: [], failed: [] };
  const attempt: Attempt = async (what, action, quiet = false) => {
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
  return { report, attempt };
}

async function removeRole(iam: IAMClient, role: string, attempt: Attempt): Promise<void> {
  for (const p of await inlinePolicies(iam, { role })) {
    await attempt(`role policy ${role}/${p.name}`, () => iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: p.name })), true);
  }
  for (const a of await attachedPolicies(iam, { role })) {
    await attempt(`role attachment ${role}/${a.name}`, () => iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: a.arn })), true);
  }
  await attempt(`iam role ${role}`, () => iam.send(new DeleteRoleCommand({ RoleName: role })));
}

async function removeUser(iam: IAMClient, user: string, attempt: Attempt): Promise<void> {
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

async function removeGroup(iam: IAMClient, group: string, attempt: Attempt): Promise<void> {
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

/**
 * Remove IAM objects by name — a scenario's own, each read and removed with per-object calls, so
 * the cost does not grow with the account. Roles first, then users, groups and managed policies.
 * An object IAM no longer knows (its reads answer NoSuchEntity) is already gone.
 */
export async function removeNamed(iam: IAMClient, names: Partial<IamNames>): Promise<CleanupReport> {
  const { report, attempt } = reporting();
  for (const role of names.roles ?? []) await unlessGone(() => removeRole(iam, role, attempt));
  for (const user of names.users ?? []) await unlessGone(() => removeUser(iam, user, attempt));
  for (const group of names.groups ?? []) await unlessGone(() => removeGroup(iam, group, attempt));
  for (const arn of names.policies ?? []) await unlessGone(() => removeManagedPolicy(iam, arn, arn.slice(arn.lastIndexOf('/') + 1), attempt));
  return report;
}

/**
 * Remove every IAM object whose name matches, found by listing the account: the run-level sweep
 * (`jitc cleanup`), once per run, never a scenario's teardown.
 */
export async function removeIam(iam: IAMClient, match: NameMatch, options: RemoveOptions = {}): Promise<CleanupReport> {
  const { report, attempt } = reporting();
  const { runTag } = options;
  for (const role of await rolesMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListRoleTagsCommand({ RoleName: role.name }))).Tags, runTag)) continue;
    await unlessGone(() => removeRole(iam, role.name, attempt));
  }
  for (const user of await usersMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListUserTagsCommand({ UserName: user }))).Tags, runTag)) continue;
    await unlessGone(() => removeUser(iam, user, attempt));
  }
  for (const group of await groupsMatching(iam, match)) await unlessGone(() => removeGroup(iam, group, attempt));
  for (const policy of await policiesMatching(iam, match)) {
    if (runTag !== undefined && !tagMatches((await iam.send(new ListPolicyTagsCommand({ PolicyArn: policy.arn }))).Tags, runTag)) continue;
    await unlessGone(() => removeManagedPolicy(iam, policy.arn, policy.name, attempt));
  }
  return report;
}

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
