/**
 * What a run left on a Vault/OpenBao, read from the target itself: tokens carrying the run (by
 * metadata, policy or display name), secrets engine mounts, policies, KV secrets, AppRole roles and default-policy blocks
 * and token roles whose names contain `jitc-<runId>-`. Deliberately wider than the cleanup sweep's own matching, and
 * worded as the sweep words its removals, so a sweep that misses something shows.
 *
 * It lists every token on the target: it runs once per run (after it, or for `jitc cleanup`),
 * never per scenario, whose residue is read from its grant's lineage instead (audit-trail.ts).
 */
import { describeVaultError, type VaultApi } from './api.ts';
import { listTokens, type VaultClient } from './client.ts';
import { runPrefix } from '../contract.ts';

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

export async function vaultLeftovers(client: VaultClient, runId: string): Promise<string[]> {
  const { api, kvMount, approleMount } = client;
  const prefix = runPrefix(runId);
  const found: string[] = [];
  for (const t of await listTokens(api)) {
    if (t.meta?.jitc_run === runId || t.policies.some((p) => p.includes(prefix)) || t.display_name.includes(prefix)) {
      found.push(`token ${t.accessor} (${t.display_name})`);
    }
  }
  const mounts = await api.call<{ data: Record<string, unknown> }>('GET', 'sys/mounts');
  for (const path of Object.keys(mounts.data)) if (path.includes(prefix)) found.push(`mount ${path.replace(/\/$/, '')}`);
  for (const name of await listOrNone(api, 'sys/policies/acl')) if (name.includes(prefix)) found.push(`policy ${name}`);
  const defaultPolicy = await api.call<{ data: { policy: string } }>('GET', 'sys/policies/acl/default');
  if (defaultPolicy.data.policy.includes(prefix)) found.push('jitc blocks in the default policy');
  for (const key of await listOrNone(api, `${kvMount}/metadata/jitc`)) if (key.includes(prefix)) found.push(`secret ${kvMount}/jitc/${key}`);
  for (const role of await listOrNone(api, `auth/${approleMount}/role`)) if (role.includes(prefix)) found.push(`approle role ${role}`);
  for (const role of await listOrNone(api, 'auth/token/roles')) if (role.includes(prefix)) found.push(`token role ${role}`);
  return found.sort();
}
