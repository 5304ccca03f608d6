/**
 * The grant record of a Vault token a grant source issued, built from what Vault itself states
 * about it (issue and expiry, the TTL it gave, the capabilities its policies reach) rather than
 * from what the source asked for: every token source is judged on the same facts.
 */
import type { Grant, ReuseHandle } from '../contract.ts';
import { grantedCapabilities, lookupAccessor, type TokenInfo } from './client.ts';
import { vaultTokenExtensions, type VaultGrantContext } from './extension.ts';
import type { VaultToken } from './tokens.ts';

export interface TokenGrantSpec {
  ttlRequestedSeconds: number | null;
  handles: ReuseHandle[];
  attributes: (info: TokenInfo) => Grant['attributes'];
  /** The policies whose capabilities the grant reaches, when not the token's own. */
  scopePolicies?: string[];
}

export async function tokenGrant<P>(ctx: VaultGrantContext<P>, token: VaultToken, spec: TokenGrantSpec): Promise<{ grant: Grant; info: TokenInfo }> {
  const info = await lookupAccessor(ctx.client.api, token.accessor);
  const grant: Grant = {
    credentialId: `accessor ${token.accessor}`,
    issuedAt: info.issue_time,
    expiresAt: info.expire_time,
    ttlRequestedSeconds: spec.ttlRequestedSeconds,
    // A token without an expiry has no TTL to judge, whatever its creation TTL says.
    ttlGrantedSeconds: info.expire_time === null ? null : info.creation_ttl,
    scopeGranted: await grantedCapabilities(ctx.client.api, spec.scopePolicies ?? info.policies),
    attributes: spec.attributes(info),
    handles: spec.handles,
    extensions: [],
    credential: token,
  };
  // The holder's extension attempts are judged against the record (its expiry), so they come last.
  grant.extensions = vaultTokenExtensions(ctx, token, grant);
  return { grant, info };
}
