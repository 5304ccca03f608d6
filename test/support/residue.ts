/**
 * What a run left on a target, read from the target itself by the run-id prefix `jitc-<runId>-`
 * (and, for Vault tokens, the `jitc_run` metadata): never from jitc's own bookkeeping. The
 * listings are deliberately wider than jitc's cleanup matches (any name that merely contains the
 * prefix, any member value pointing at it), so a sweep that misses something shows here. Each
 * item is worded as `jitc cleanup` words its removal, so a test can hold one against the other.
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { accessKeys, groupsMatching, policiesMatching, rolesMatching, usersMatching } from '../../adapters/aws/iam-read.ts';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import { type LdapClient, values } from '../../adapters/ldap/client.ts';
import { scenarioBases } from '../../adapters/ldap/entitlements.ts';
import { VaultApi, describeVaultError } from '../../adapters/vault/api.ts';
import { listTokens } from '../../adapters/vault/client.ts';
import { getAdapter } from '../../adapters/registry.ts';

const prefixOf = (runId: string): string => `jitc-${runId}-`;

/** A LIST that answers 404 (nothing there, or no such mount) is an empty list. */
async function listOrNone(api: VaultApi, path: string): Promise<string[]> {
  try {
    return (await api.call<{ data: { keys: string[] } }>('LIST', path)).data.keys;
  } catch (error) {
    const status = describeVaultError(error).status;
    if (status === 404 || status === 400) return [];
    throw error;
  }
}

/** Tokens, policies, KV secrets, AppRole roles and default-policy blocks of the run. */
export async function vaultResidue(address: string, token: string, runId: string): Promise<string[]> {
  const api = new VaultApi(address, token);
  const prefix = prefixOf(runId);
  const found: string[] = [];
  for (const t of await listTokens(api)) {
    if (t.meta?.jitc_run === runId || t.policies.some((p) => p.includes(prefix)) || t.display_name.includes(prefix)) {
      found.push(`token ${t.accessor} (${t.display_name})`);
    }
  }
  for (const name of await listOrNone(api, 'sys/policies/acl')) if (name.includes(prefix)) found.push(`policy ${name}`);
  const defaultPolicy = await api.call<{ data: { policy: string } }>('GET', 'sys/policies/acl/default');
  if (defaultPolicy.data.policy.includes(prefix)) found.push('jitc blocks in the default policy');
  for (const key of await listOrNone(api, 'secret/metadata/jitc')) if (key.includes(prefix)) found.push(`secret secret/jitc/${key}`);
  for (const role of await listOrNone(api, 'auth/approle/role')) if (role.includes(prefix)) found.push(`approle role ${role}`);
  return found.sort();
}

/** Users (with their access keys), roles, groups, customer-managed policies and buckets of the run. */
export async function awsResidue(target: StartedTarget, runId: string): Promise<string[]> {
  const adapter = (await getAdapter('aws')) as Adapter<AwsClient>;
  const client = await adapter.connect(target.connection);
  const prefix = prefixOf(runId);
  const ours = (name: string): boolean => name.includes(prefix);
  try {
    const found: string[] = [];
    for (const user of await usersMatching(client.iam, ours)) {
      found.push(`iam user ${user}`);
      for (const key of await accessKeys(client.iam, user)) found.push(`access key ${key.id} of ${user}`);
    }
    for (const role of await rolesMatching(client.iam, ours)) found.push(`iam role ${role.name}`);
    for (const group of await groupsMatching(client.iam, ours)) found.push(`iam group ${group}`);
    for (const policy of await policiesMatching(client.iam, ours)) found.push(`managed policy ${policy.name}`);
    const buckets = (await client.s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    for (const bucket of buckets) if (bucket.Name?.includes(prefix.toLowerCase())) found.push(`s3 bucket ${bucket.Name}`);
    return found.sort();
  } finally {
    await adapter.disconnect?.(client);
  }
}

/** Entries whose DN carries the prefix, and member values pointing at such a name, in every base. */
export async function ldapResidue(target: StartedTarget, runId: string): Promise<string[]> {
  const adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
  const client = await adapter.connect(target.connection);
  const prefix = prefixOf(runId).toLowerCase();
  try {
    const found = new Set<string>();
    for (const base of scenarioBases(client)) {
      const result = await client.admin.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['member'] });
      for (const entry of result.searchEntries) {
        if (entry.dn.toLowerCase().includes(prefix)) found.add(`entry ${entry.dn}`);
        for (const member of values(entry, 'member')) if (member.toLowerCase().includes(prefix)) found.add(`member ${member} of ${entry.dn}`);
      }
    }
    return [...found].sort();
  } finally {
    await adapter.disconnect?.(client);
  }
}
