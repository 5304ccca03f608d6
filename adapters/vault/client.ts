/**
 * The Vault client a scenario works with, and the token reads residue is measured from. Listing
 * every token (readTokens) is for the once-per-run sweeps only (cleanup, leftovers): a scenario
 * reads residue from its grant's lineage (audit-trail.ts), whatever else the target holds.
 */
import pLimit from 'p-limit';
import type { TargetConnection } from '../contract.ts';
import { VaultApi } from './api.ts';
import { GONE, readRefusal, saysGone } from './probes.ts';

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
  /** Policies the token carries through its entity and the entity's groups; absent without an entity. */
  identity_policies?: string[];
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
  /** "service" or "batch". */
  type?: string;
}

/** Every policy a token acts with: its own and those of its identity. */
export function effectivePolicies(info: TokenInfo): string[] {
  return [...info.policies, ...(info.identity_policies ?? [])];
}

export interface LookupOptions {
  /** Another node of the target (a replica's URL) to ask instead. */
  node?: string;
  /** A new connection for this lookup: set when the lookup is itself a probe. */
  fresh?: boolean;
}

export async function lookupAccessor(api: VaultApi, accessor: string, options: LookupOptions = {}): Promise<TokenInfo> {
  const answer = await api.send<{ data: TokenInfo }>('POST', 'auth/token/lookup-accessor', { body: { accessor }, ...options });
  return answer.data;
}

/** A listed token whose lookup failed for another reason than being gone: it may hold anything. */
export interface UnreadableToken {
  accessor: string;
  reason: string;
}

export interface TokenListing {
  tokens: TokenInfo[];
  unreadable: UnreadableToken[];
}

/**
 * Every live token on the target, looked up (bounded concurrency, the list can be long). A token
 * that expired between the listing and its lookup is gone; any other failed lookup is kept as
 * unreadable, never dropped: an unread token may be exactly the one still holding the privilege.
 */
export async function readTokens(api: VaultApi): Promise<TokenListing> {
  const listed = await api.call<{ data: { keys: string[] } }>('LIST', 'auth/token/accessors');
  const limit = pLimit(8);
  const listing: TokenListing = { tokens: [], unreadable: [] };
  await Promise.all(
    listed.data.keys.map((accessor) =>
      limit(async () => {
        try {
          listing.tokens.push(await lookupAccessor(api, accessor));
        } catch (error) {
          if (!saysGone(error, GONE.accessor)) listing.unreadable.push({ accessor, reason: readRefusal(error).detail });
        }
      }),
    ),
  );
  return listing;
}

/** Every live token; throws naming them when some could not be read, rather than leaving them out. */
export async function listTokens(api: VaultApi): Promise<TokenInfo[]> {
  const { tokens, unreadable } = await readTokens(api);
  if (unreadable.length > 0) throw new Error(`could not read ${unreadable.length} listed token(s): ${describeUnreadable(unreadable)}`);
  return tokens;
}

export function describeUnreadable(unreadable: readonly UnreadableToken[]): string {
  return unreadable.map((u) => `accessor ${u.accessor} (${u.reason})`).join(', ');
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
