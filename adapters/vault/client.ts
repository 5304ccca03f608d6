/** The Vault client a scenario works with, and the reads residue is measured from. */
import pLimit from 'p-limit';
import type { TargetConnection } from '../contract.ts';
import { VaultApi } from './api.ts';

export interface VaultClient {
  api: VaultApi;
  /** Mount of the KV v2 engine holding the scenario secrets. */
  kvMount: string;
  /** Mount of the AppRole auth method. */
  approleMount: string;
}

export function connectVault(connection: TargetConnection): VaultClient {
  const token = connection.settings.token;
  if (!token) throw new Error('vault connection has no token');
  return {
    api: new VaultApi(connection.address, token, Number(connection.settings.timeoutMs ?? 3000)),
    kvMount: connection.settings.kvMount ?? 'secret',
    approleMount: connection.settings.approleMount ?? 'approle',
  };
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  meta: Record<string, string> | null;
  expire_time: string | null;
  issue_time: string;
  ttl: number;
  creation_ttl: number;
  explicit_max_ttl: number;
  period?: number;
  renewable: boolean;
  orphan: boolean;
  num_uses: number;
  display_name: string;
}

export async function lookupAccessor(api: VaultApi, accessor: string): Promise<TokenInfo> {
  const answer = await api.call<{ data: TokenInfo }>('POST', 'auth/token/lookup-accessor', { accessor });
  return answer.data;
}

/** Every live token on the target, looked up (bounded concurrency, the list can be long). */
export async function listTokens(api: VaultApi): Promise<TokenInfo[]> {
  const listed = await api.call<{ data: { keys: string[] } }>('LIST', 'auth/token/accessors');
  const limit = pLimit(8);
  const infos = await Promise.all(
    listed.data.keys.map((accessor) => limit(() => lookupAccessor(api, accessor).catch(() => undefined))),
  );
  return infos.filter((i): i is TokenInfo => i !== undefined);
}

/** Accessors of live tokens that carry `policy`: who holds the scenario's privilege right now. */
export async function tokensHolding(api: VaultApi, policy: string): Promise<string[]> {
  const tokens = await listTokens(api);
  return tokens.filter((t) => t.policies.includes(policy)).map((t) => `token:${t.accessor}`);
}

/**
 * Scope a set of policies grants, read from the target: one "capability path" entry per
 * capability per path block. A plain reading of the HCL; good enough to count width.
 */
export async function grantedCapabilities(api: VaultApi, policies: string[]): Promise<string[]> {
  const entries: string[] = [];
  for (const name of policies.filter((p) => p !== 'default')) {
    const policy = await api.call<{ data: { policy: string } }>('GET', `sys/policies/acl/${name}`);
    for (const block of policy.data.policy.matchAll(/path\s+"([^"]+)"\s*\{([^}]*)\}/g)) {
      const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(block[2] ?? '')?.[1] ?? '';
      for (const cap of caps.matchAll(/"([a-z]+)"/g)) entries.push(`${cap[1]} ${block[1]}`);
    }
  }
  return entries;
}
