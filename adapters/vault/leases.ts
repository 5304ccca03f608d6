/**
 * Leases of OpenBao's dynamic-secret engines (database, ldap), as the grant sources that issue
 * them read them: the lease's own record, the lookup that shows whether OpenBao still knows it,
 * and the leases a scenario's own mount still holds — listed under that mount alone, never by
 * scanning every lease of the target.
 */
import type { ProbeResult } from '../contract.ts';
import { describeVaultError, type VaultApi } from './api.ts';
import { GONE, probe } from './probes.ts';

/** A lease as `sys/leases/lookup` states it. */
export interface LeaseInfo {
  id: string;
  issue_time: string;
  expire_time: string | null;
  ttl: number;
  renewable: boolean;
}

export async function lookupLease(api: VaultApi, leaseId: string, fresh = false): Promise<LeaseInfo> {
  return (await api.send<{ data: LeaseInfo }>('PUT', 'sys/leases/lookup', { body: { lease_id: leaseId }, fresh })).data;
}

/** OpenBao's own record of the lease, looked up afresh (on `node` when given): `denied` once it no longer knows it. */
export function leaseLookup(api: VaultApi, leaseId: string): (node?: string) => Promise<ProbeResult> {
  return (node) => probe(() => api.send('PUT', 'sys/leases/lookup', { body: { lease_id: leaseId }, fresh: true, ...(node ? { node } : {}) }), GONE.lease);
}

/** The leases `<mount>/creds/<role>` still holds; none once the mount is gone. */
export async function leasesUnder(api: VaultApi, mount: string, role: string): Promise<string[]> {
  try {
    const listed = await api.call<{ data: { keys: string[] } }>('LIST', `sys/leases/lookup/${mount}/creds/${role}`);
    return listed.data.keys.map((key) => `lease ${mount}/creds/${role}/${key}`);
  } catch (error) {
    if (describeVaultError(error).status === 404) return [];
    throw error;
  }
}
