/**
 * Reading IAM as it stands on the target: which users, keys, roles, groups and policies a scenario
 * owns, what they grant, and who may assume what. Residue, granted scope and cleanup all start here,
 * never from the harness's own bookkeeping.
 */
import {
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetLoginProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  type IAMClient,
  paginateGetGroup,
  paginateListAccessKeys,
  paginateListAttachedGroupPolicies,
  paginateListAttachedRolePolicies,
  paginateListAttachedUserPolicies,
  paginateListGroupPolicies,
  paginateListGroups,
  paginateListGroupsForUser,
  paginateListPolicies,
  paginateListRolePolicies,
  paginateListRoles,
  paginateListUserPolicies,
  paginateListUsers,
} from '@aws-sdk/client-iam';
import { grantedScope, grantsNothing, parseDocument, type PolicyDocument } from './policies.ts';
import { describeAwsError } from './probes.ts';

export type NameMatch = (name: string) => boolean;

/**
 * IAM objects named one by one (a scenario's own): read and removed with a Get or a per-object
 * call each, so the cost never depends on how much else the account holds. Managed policies by ARN.
 */
export interface IamNames {
  users: readonly string[];
  roles: readonly string[];
  groups: readonly string[];
  policies: readonly string[];
}

/** IAM's "no such object" (the SDK's code, or moto's spelling of it). */
export function isGone(error: unknown): boolean {
  return ['NoSuchEntity', 'NoSuchEntityException'].includes(describeAwsError(error).code);
}

/** The answer of a read of one named object, or undefined when IAM says it does not exist. */
export async function unlessGone<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

async function collect<P, T>(pages: AsyncIterable<P>, pick: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(pick(page) ?? []));
  return out;
}

export interface RoleInfo {
  name: string;
  arn: string;
  trust: PolicyDocument;
}

export async function usersMatching(iam: IAMClient, match: NameMatch): Promise<string[]> {
  const users = await collect(paginateListUsers({ client: iam }, {}), (p) => p.Users);
  return users.map((u) => u.UserName ?? '').filter((n) => n !== '' && match(n));
}

export async function rolesMatching(iam: IAMClient, match: NameMatch): Promise<RoleInfo[]> {
  const roles = await collect(paginateListRoles({ client: iam }, {}), (p) => p.Roles);
  return roles
    .filter((r) => r.RoleName !== undefined && match(r.RoleName))
    .map((r) => ({ name: r.RoleName!, arn: r.Arn ?? '', trust: parseDocument(r.AssumeRolePolicyDocument ?? '{}') }));
}

/** One role by name; undefined when it does not exist. */
export async function roleNamed(iam: IAMClient, name: string): Promise<RoleInfo | undefined> {
  const role = (await unlessGone(() => iam.send(new GetRoleCommand({ RoleName: name }))))?.Role;
  return role && { name, arn: role.Arn ?? '', trust: parseDocument(role.AssumeRolePolicyDocument ?? '{}') };
}

export async function groupsMatching(iam: IAMClient, match: NameMatch): Promise<string[]> {
  const groups = await collect(paginateListGroups({ client: iam }, {}), (p) => p.Groups);
  return groups.map((g) => g.GroupName ?? '').filter((n) => n !== '' && match(n));
}

export interface ManagedPolicy {
  name: string;
  arn: string;
}

/** Every user, role, group and customer-managed policy whose name matches, by listing the account. */
export async function namesMatching(iam: IAMClient, match: NameMatch): Promise<IamNames> {
  return {
    users: await usersMatching(iam, match),
    roles: (await rolesMatching(iam, match)).map((r) => r.name),
    groups: await groupsMatching(iam, match),
    policies: (await policiesMatching(iam, match)).map((p) => p.arn),
  };
}

/** One managed policy by ARN; undefined when it does not exist. */
export async function policyNamed(iam: IAMClient, arn: string): Promise<ManagedPolicy | undefined> {
  const policy = (await unlessGone(() => iam.send(new GetPolicyCommand({ PolicyArn: arn }))))?.Policy;
  return policy && { name: policy.PolicyName ?? arn, arn };
}

/** Customer-managed policies (Scope Local) whose name matches. */
export async function policiesMatching(iam: IAMClient, match: NameMatch): Promise<ManagedPolicy[]> {
  const policies = await collect(paginateListPolicies({ client: iam }, { Scope: 'Local' }), (p) => p.Policies);
  return policies.filter((p) => p.PolicyName !== undefined && p.Arn !== undefined && match(p.PolicyName)).map((p) => ({ name: p.PolicyName!, arn: p.Arn! }));
}

export async function accessKeys(iam: IAMClient, user: string): Promise<{ id: string; status: string; createdAt?: string }[]> {
  const keys = await collect(paginateListAccessKeys({ client: iam }, { UserName: user }), (p) => p.AccessKeyMetadata);
  return keys.map((k) => ({ id: k.AccessKeyId ?? '', status: k.Status ?? 'unknown', ...(k.CreateDate ? { createdAt: k.CreateDate.toISOString() } : {}) }));
}

/** Does the user have a console password? NoSuchEntity is IAM's "none". */
export async function hasLoginProfile(iam: IAMClient, user: string): Promise<boolean> {
  try {
    await iam.send(new GetLoginProfileCommand({ UserName: user }));
    return true;
  } catch (error) {
    if (isGone(error)) return false;
    throw error;
  }
}

export async function groupsOf(iam: IAMClient, user: string): Promise<string[]> {
  const groups = await collect(paginateListGroupsForUser({ client: iam }, { UserName: user }), (p) => p.Groups);
  return groups.map((g) => g.GroupName ?? '');
}

export async function membersOf(iam: IAMClient, group: string): Promise<string[]> {
  const users = await collect(paginateGetGroup({ client: iam }, { GroupName: group }), (p) => p.Users);
  return users.map((u) => u.UserName ?? '');
}

export interface InlinePolicy {
  name: string;
  document: PolicyDocument;
}

export type Principal = { user: string } | { role: string } | { group: string };

export async function inlinePolicies(iam: IAMClient, who: Principal): Promise<InlinePolicy[]> {
  let names: string[];
  let get: (name: string) => Promise<string | undefined>;
  if ('user' in who) {
    names = await collect(paginateListUserPolicies({ client: iam }, { UserName: who.user }), (p) => p.PolicyNames);
    get = async (n) => (await iam.send(new GetUserPolicyCommand({ UserName: who.user, PolicyName: n }))).PolicyDocument;
  } else if ('role' in who) {
    names = await collect(paginateListRolePolicies({ client: iam }, { RoleName: who.role }), (p) => p.PolicyNames);
    get = async (n) => (await iam.send(new GetRolePolicyCommand({ RoleName: who.role, PolicyName: n }))).PolicyDocument;
  } else {
    names = await collect(paginateListGroupPolicies({ client: iam }, { GroupName: who.group }), (p) => p.PolicyNames);
    get = async (n) => (await iam.send(new GetGroupPolicyCommand({ GroupName: who.group, PolicyName: n }))).PolicyDocument;
  }
  const out: InlinePolicy[] = [];
  for (const name of names) out.push({ name, document: parseDocument((await get(name)) ?? '{}') });
  return out;
}

export async function attachedPolicies(iam: IAMClient, who: Principal): Promise<ManagedPolicy[]> {
  const attached =
    'user' in who
      ? await collect(paginateListAttachedUserPolicies({ client: iam }, { UserName: who.user }), (p) => p.AttachedPolicies)
      : 'role' in who
        ? await collect(paginateListAttachedRolePolicies({ client: iam }, { RoleName: who.role }), (p) => p.AttachedPolicies)
        : await collect(paginateListAttachedGroupPolicies({ client: iam }, { GroupName: who.group }), (p) => p.AttachedPolicies);
  return attached.map((a) => ({ name: a.PolicyName ?? '', arn: a.PolicyArn ?? '' }));
}

/** The default version of a managed policy, as the target holds it. */
export async function managedDocument(iam: IAMClient, arn: string): Promise<PolicyDocument> {
  const policy = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.Policy?.DefaultVersionId ?? 'v1' }));
  return parseDocument(version.PolicyVersion?.Document ?? '{}');
}

/** Every document that applies to a principal: inline, attached, and (for a user) its groups' own. */
export async function documentsOf(iam: IAMClient, who: Principal): Promise<PolicyDocument[]> {
  const docs = (await inlinePolicies(iam, who)).map((p) => p.document);
  for (const a of await attachedPolicies(iam, who)) docs.push(await managedDocument(iam, a.arn));
  if ('user' in who) for (const group of await groupsOf(iam, who.user)) docs.push(...(await documentsOf(iam, { group })));
  return docs;
}

/** The scope a principal holds, read from the target: "action resource" per allowed pair. */
export async function scopeOf(iam: IAMClient, who: Principal): Promise<string[]> {
  return grantedScope(await documentsOf(iam, who));
}

function trustedPrincipals(trust: PolicyDocument): string[] {
  const out: string[] = [];
  for (const s of trust.Statement.filter((st) => st.Effect === 'Allow')) {
    const p = s.Principal;
    if (p === undefined) continue;
    if (typeof p === 'string') out.push(p);
    else for (const value of Object.values(p)) out.push(...(Array.isArray(value) ? value : [value]));
  }
  return out;
}

/** What a principal's own policies grant, as entitlements: inline ones that allow anything, and attached ones. */
async function policyEntitlements(iam: IAMClient, who: Principal, label: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await inlinePolicies(iam, who)) if (!grantsNothing(p.document)) out.push(`${label}-inline-policy:${Object.values(who)[0]}/${p.name}`);
  for (const a of await attachedPolicies(iam, who)) out.push(`${label}-attached-policy:${Object.values(who)[0]}/${a.name}`);
  return out;
}

/**
 * One IAM user's entitlements, read by its name alone (no listing of the account's users): the
 * user, its keys, console password, policies and group memberships.
 */
export async function userEntitlements(iam: IAMClient, user: string): Promise<string[]> {
  const out = [`iam-user:${user}`];
  for (const key of await accessKeys(iam, user)) out.push(`access-key:${user}/${key.id}`);
  if (await hasLoginProfile(iam, user)) out.push(`login-profile:${user}`);
  out.push(...(await policyEntitlements(iam, { user }, 'user')));
  for (const group of await groupsOf(iam, user)) out.push(`group-membership:${group}/${user}`);
  return out;
}

/**
 * The entitlements of the IAM objects a scenario owns, read by their names alone, as one sorted
 * list of strings: users, their keys, console passwords, policies and group memberships; roles,
 * who they trust and what they grant; groups; managed policies. An object IAM no longer knows
 * holds nothing. A policy that only denies (revoke-older-sessions) grants nothing and is left out.
 * Given a name match instead, the account is listed for the names first: a run-level reading
 * (what a killed run left), never a scenario's.
 */
export async function entitlementsOf(iam: IAMClient, which: IamNames | NameMatch): Promise<string[]> {
  const names = typeof which === 'function' ? await namesMatching(iam, which) : which;
  const out: string[] = [];
  for (const user of names.users) {
    if (await unlessGone(() => iam.send(new GetUserCommand({ UserName: user })))) out.push(...(await userEntitlements(iam, user)));
  }
  for (const name of names.roles) {
    const role = await roleNamed(iam, name);
    if (!role) continue;
    out.push(`iam-role:${role.name}`);
    for (const principal of trustedPrincipals(role.trust)) out.push(`role-trust:${role.name}/${principal}`);
    out.push(...(await policyEntitlements(iam, { role: role.name }, 'role')));
  }
  for (const group of names.groups) {
    if (!(await unlessGone(() => iam.send(new GetGroupCommand({ GroupName: group, MaxItems: 1 }))))) continue;
    out.push(`iam-group:${group}`);
    out.push(...(await policyEntitlements(iam, { group }, 'group')));
  }
  for (const arn of names.policies) {
    const policy = await policyNamed(iam, arn);
    if (policy) out.push(`managed-policy:${policy.name}`);
  }
  return out.sort();
}
