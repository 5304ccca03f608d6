/**
 * Reading the user's own Vault configuration a scenario names (a token role, an AppRole role, a
 * KV secret's metadata, an auth mount's tuning), never writing it: see ../existing-objects.ts.
 */
import { describeVaultError, type VaultApi } from './api.ts';

/** `data` of a GET on an existing object; a missing one is named, with where it was looked for. */
export async function readObject(api: VaultApi, path: string, what: string): Promise<Record<string, unknown>> {
  try {
    return (await api.call<{ data: Record<string, unknown> }>('GET', path)).data;
  } catch (error) {
    const e = describeVaultError(error);
    if (e.status === 404) throw new Error(`${what} does not exist on the target (GET ${path}: HTTP 404)`);
    throw new Error(`${what} could not be read (GET ${path}: ${e.status === undefined ? 'no answer' : `HTTP ${e.status}`} ${e.message})`);
  }
}

/** The auth mount's max_lease_ttl as tuned (seconds); null when it cannot be read. */
export async function mountMaxTtl(api: VaultApi, mount: string): Promise<number | null> {
  try {
    const tune = await api.call<{ data: { max_lease_ttl?: number } }>('GET', `sys/auth/${mount}/tune`);
    return typeof tune.data.max_lease_ttl === 'number' ? tune.data.max_lease_ttl : null;
  } catch {
    return null;
  }
}
