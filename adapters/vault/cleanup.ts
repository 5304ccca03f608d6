/**
 * `jitc cleanup` for Vault: everything a run created carries its run id — token metadata
 * (jitc_run), policy and role names (jitc-<runId>-…), secret paths and default-policy blocks —
 * so a killed run's leftovers are found on the target itself and removed.
 */
import type { CleanupReport } from '../contract.ts';
import { runPrefix } from '../contract.ts';
import { describeVaultError } from './api.ts';
import { readTokens, type VaultClient } from './client.ts';
import { escapeRegExp, restoreDefaultPolicy } from './fixtures.ts';

export async function cleanupVault(client: VaultClient, runId: string | undefined): Promise<CleanupReport> {
  const { api } = client;
  const prefix = runPrefix(runId);
  const report: CleanupReport = { removed: [], failed: [] };
  const attempt = async (what: string, action: () => Promise<unknown>, hint = ''): Promise<void> => {
    try {
      await action();
      report.removed.push(what);
    } catch (error) {
      const e = describeVaultError(error);
      if (e.status !== 404) report.failed.push(`${what}: ${e.message}${hint}`);
    }
  };

  const { tokens, unreadable } = await readTokens(api);
  // A token that could not be read may be one of ours: say so rather than report a clean sweep.
  for (const u of unreadable) report.failed.push(`token ${u.accessor}: could not be read (${u.reason})`);
  for (const token of tokens) {
    const ours =
      (token.meta?.jitc_run !== undefined && (runId === undefined || token.meta.jitc_run === runId)) ||
      token.policies.some((p) => p.startsWith(prefix));
    if (ours) await attempt(`token ${token.accessor} (${token.display_name})`, () => api.call('POST', 'auth/token/revoke-accessor', { accessor: token.accessor }));
  }

  const policies = await api.call<{ data: { keys: string[] } }>('LIST', 'sys/policies/acl');
  for (const name of policies.data.keys.filter((k) => k.startsWith(prefix))) {
    await attempt(`policy ${name}`, () => api.call('DELETE', `sys/policies/acl/${name}`));
  }

  // A mount of the run's (a database, ssh or ldap engine): unmounting revokes its leases, running
  // their revocation on the target they were issued for. Vault refuses the unmount when one fails
  // (the account it would delete is already gone); jitc does not force it, which would drop leases
  // whose accounts may still exist, but says how.
  const mounts = await api.call<{ data: Record<string, unknown> }>('GET', 'sys/mounts');
  for (const path of Object.keys(mounts.data).filter((m) => m.startsWith(prefix))) {
    const mount = path.replace(/\/$/, '');
    const hint = ` (when what its leases made is known to be gone: revoke them with \`lease revoke -force -prefix ${mount}\` of the vault or bao CLI, then run cleanup again)`;
    await attempt(`mount ${mount}`, () => api.call('DELETE', `sys/mounts/${path}`), hint);
  }

  const pattern = runId ? `${escapeRegExp(prefix)}[a-z0-9-]+` : 'jitc-[A-Za-z0-9-]+';
  if (await restoreDefaultPolicy(api, pattern)) report.removed.push('jitc blocks in the default policy');

  /** Delete each listed name of the run's; a path that lists nothing (404, or 400: no such mount) has nothing to sweep. */
  const sweep = async (what: string, listPath: string, itemPath: (name: string) => string, label = (name: string) => `${what} ${name}`): Promise<void> => {
    let keys: string[];
    try {
      keys = (await api.call<{ data: { keys: string[] } }>('LIST', listPath)).data.keys;
    } catch (error) {
      const e = describeVaultError(error);
      if (e.status !== 404 && e.status !== 400) report.failed.push(`list ${what}s: ${e.message}`);
      return;
    }
    for (const name of keys.filter((k) => k.startsWith(prefix))) await attempt(label(name), () => api.call('DELETE', itemPath(name)));
  };
  await sweep('secret', `${client.kvMount}/metadata/jitc`, (key) => `${client.kvMount}/metadata/jitc/${key}`, (key) => `secret ${client.kvMount}/jitc/${key}`);
  await sweep('approle role', `auth/${client.approleMount}/role`, (role) => `auth/${client.approleMount}/role/${role}`);
  await sweep('token role', 'auth/token/roles', (role) => `auth/token/roles/${role}`);
  return report;
}
