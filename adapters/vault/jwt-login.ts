/**
 * Vault's side of a federated login: OpenBao's (and Vault's) `jwt` auth method, where a workload
 * trades an identity provider's token for a Vault token of the method's role. The identity
 * provider never hears of that Vault token again: ending the IdP session leaves it alive until its
 * own TTL, which the role alone decides (`token_ttl`, `token_explicit_max_ttl`). And the IdP token
 * itself buys a fresh Vault token for as long as the method accepts it: until its `exp` plus the
 * role's leeways (150 s past exp and 60 s of clock skew by default).
 *
 * A scenario's own method is enabled at an auth mount named with its prefix and trusts one realm
 * through OIDC discovery on the identity provider; unmounting it revokes every token it issued.
 * Auth mounts are swept here by run prefix ({@link cleanupJwtMounts}, {@link jwtMountLeftovers}),
 * beside the adapter's own sweep of secrets engine mounts.
 */
import type { CleanupReport } from '../contract.ts';
import { runPrefix } from '../contract.ts';
import { describeVaultError, type VaultApi } from './api.ts';
import type { VaultClient } from './client.ts';

/** The role of a jwt auth method as a scenario writes it: bound to one audience, issuing tokens with the task's policy. */
export interface JwtRole {
  /** The audience (`aud`) a token must name to log in. */
  audience: string;
  /** The claim Vault names the login's entity alias by. */
  userClaim: string;
  policies: string[];
  ttlSeconds: number;
  /** Upper bound no renewal passes; null sets none (renewals run to the mount's max TTL). */
  explicitMaxTtlSeconds: number | null;
  /**
   * Leeway past the IdP token's `exp`, and for clock skew, in seconds; null leaves Vault's defaults
   * (150 s and 60 s): the IdP token keeps buying Vault tokens that long after it expired.
   */
  leewaySeconds: number | null;
}

/** What a jwt login answered: the Vault token (a secret) and what Vault states about it. */
export interface JwtLogin {
  token: string;
  accessor: string;
  leaseSeconds: number;
  renewable: boolean;
  policies: string[];
}

/** The 400 with which the jwt method refuses a token it no longer accepts (expired, or not yet valid). */
export const JWT_REFUSED = /^error validating token: .*(expired|exp\b|not valid yet|nbf)/i;

export const jwtMountFor = (prefix: string): string => `${prefix}-jwt`;

/** Enable a jwt auth method at `mount` trusting `issuer`, whose keys Vault reads by OIDC discovery. */
export async function enableJwtMount(api: VaultApi, mount: string, issuer: string): Promise<void> {
  await api.call('POST', `sys/auth/${mount}`, { type: 'jwt', description: `jitc: logins with tokens of ${issuer}` });
  // Vault fetches the discovery document and the keys now: an issuer it cannot reach fails here, not at login.
  await api.call('POST', `auth/${mount}/config`, { oidc_discovery_url: issuer, bound_issuer: issuer });
}

export async function writeJwtRole(api: VaultApi, mount: string, role: string, spec: JwtRole): Promise<void> {
  // -1 is how the method spells "no leeway": 0 means its default.
  const leeway = spec.leewaySeconds === null ? {} : { expiration_leeway: spec.leewaySeconds || -1, clock_skew_leeway: spec.leewaySeconds || -1, not_before_leeway: spec.leewaySeconds || -1 };
  await api.call('POST', `auth/${mount}/role/${role}`, {
    role_type: 'jwt',
    bound_audiences: [spec.audience],
    user_claim: spec.userClaim,
    token_policies: spec.policies,
    token_ttl: spec.ttlSeconds,
    token_explicit_max_ttl: spec.explicitMaxTtlSeconds ?? 0,
    ...leeway,
  });
}

/** What the role states, for evidence: its token lifetimes and leeways as Vault reads them back. */
export async function readJwtRole(api: VaultApi, mount: string, role: string): Promise<Record<string, unknown>> {
  const answer = await api.call<{ data: Record<string, unknown> }>('GET', `auth/${mount}/role/${role}`);
  const d = answer.data;
  return {
    bound_audiences: d.bound_audiences,
    user_claim: d.user_claim,
    token_policies: d.token_policies,
    token_ttl: d.token_ttl,
    token_max_ttl: d.token_max_ttl,
    token_explicit_max_ttl: d.token_explicit_max_ttl,
    token_period: d.token_period,
    expiration_leeway: d.expiration_leeway,
    clock_skew_leeway: d.clock_skew_leeway,
  };
}

/** Log in with an IdP token, on a connection of its own and with no Vault token beside it. */
export async function jwtLogin(api: VaultApi, mount: string, role: string, jwt: string): Promise<JwtLogin> {
  const answer = await api.send<{ auth?: { client_token?: unknown; accessor?: unknown; lease_duration?: unknown; renewable?: unknown; policies?: unknown } }>('POST', `auth/${mount}/login`, {
    body: { role, jwt },
    token: '',
  });
  const auth = answer.auth;
  if (typeof auth?.client_token !== 'string' || typeof auth.accessor !== 'string') throw new Error(`the jwt login at auth/${mount} answered without a token`);
  return {
    token: auth.client_token,
    accessor: auth.accessor,
    leaseSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
    renewable: auth.renewable === true,
    policies: Array.isArray(auth.policies) ? auth.policies.filter((p): p is string => typeof p === 'string') : [],
  };
}

/** Disable the method: Vault revokes every token it issued. Gone already is fine. Returns what was removed. */
export async function disableJwtMount(api: VaultApi, mount: string): Promise<string[]> {
  const mounted = await authMounts(api);
  if (!mounted.includes(mount)) return [];
  await api.call('DELETE', `sys/auth/${mount}`);
  return [`auth mount ${mount}`];
}

/** Every auth mount's path, without its trailing slash. */
async function authMounts(api: VaultApi): Promise<string[]> {
  const answer = await api.call<{ data?: Record<string, unknown> }>('GET', 'sys/auth');
  return Object.keys(answer.data ?? {}).map((path) => path.replace(/\/$/, ''));
}

/** Auth mounts carrying the run's prefix (any jitc run's without a run id), worded as cleanup words them. */
export async function jwtMountLeftovers(client: VaultClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId);
  return (await authMounts(client.api)).filter((path) => path.includes(prefix)).map((path) => `auth mount ${path}`);
}

/** Disable every auth mount of the run (or of any jitc run): what a killed scenario left enabled. */
export async function cleanupJwtMounts(client: VaultClient, runId: string | undefined): Promise<CleanupReport> {
  const prefix = runPrefix(runId);
  const report: CleanupReport = { removed: [], failed: [] };
  let mounted: string[];
  try {
    mounted = await authMounts(client.api);
  } catch (error) {
    // Said, not thrown: the rest of the sweep stands, and a mount left unseen is not a clean sweep.
    report.failed.push(`list auth mounts: ${describeVaultError(error).message}`);
    return report;
  }
  for (const path of mounted.filter((p) => p.startsWith(prefix))) {
    try {
      await client.api.call('DELETE', `sys/auth/${path}`);
      report.removed.push(`auth mount ${path}`);
    } catch (error) {
      const e = describeVaultError(error);
      if (e.status !== 404) report.failed.push(`auth mount ${path}: ${e.message}`);
    }
  }
  return report;
}
