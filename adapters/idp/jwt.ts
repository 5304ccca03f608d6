/**
 * What a resource server that never asks the identity provider would conclude: the token's
 * signature checked against the realm's published keys (JWKS), its issuer, audience and `exp`
 * checked locally with `jose`. Evidence only, never a verdict: such a server keeps accepting a
 * revoked token or one of an ended session until its `exp`, which is exactly what the report
 * should show beside the identity provider's own answer.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { Grant } from '../contract.ts';
import type { Evidence } from '../../scenarios/evidence.ts';

export interface LocalValidation {
  accepted: boolean;
  /** "signature, issuer, audience and exp valid", or why not ("exp claim timestamp check failed"). */
  detail: string;
}

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keysOf(issuer: string): ReturnType<typeof createRemoteJWKSet> {
  let keys = keySets.get(issuer);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(`${issuer}/protocol/openid-connect/certs`));
    keySets.set(issuer, keys);
  }
  return keys;
}

export const realmIssuer = (base: string, realm: string): string => `${base}/realms/${encodeURIComponent(realm)}`;

/** Validate `token` as a resource server named `audience` would, without asking anyone. */
export async function validateLocally(token: string, issuer: string, audience: string): Promise<LocalValidation> {
  try {
    await jwtVerify(token, keysOf(issuer), { issuer, audience });
    return { accepted: true, detail: 'signature, issuer, audience and exp valid' };
  } catch (error) {
    return { accepted: false, detail: (error as Error).message };
  }
}

/** The token's public claims, read without verifying it: for evidence (jti, sub, aud, exp, iat), never the token. */
export function claimsOf(token: string): JWTPayload {
  return decodeJwt(token);
}

export function audiences(claims: JWTPayload): string[] {
  const aud = claims.aud;
  return aud === undefined ? [] : Array.isArray(aud) ? aud : [aud];
}

/** What an access token's own claims say of its grant: its id, when it was issued and ends, and whom it names as audience. */
export function grantTimes(claims: JWTPayload, ttlRequestedSeconds: number | null): Pick<Grant, 'credentialId' | 'issuedAt' | 'expiresAt' | 'ttlRequestedSeconds' | 'ttlGrantedSeconds' | 'scopeGranted'> {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000);
  const exp = claims.exp ?? null;
  return {
    credentialId: `jti ${claims.jti ?? 'none'}`,
    issuedAt: new Date(iat * 1000).toISOString(),
    expiresAt: exp === null ? null : new Date(exp * 1000).toISOString(),
    ttlRequestedSeconds,
    ttlGrantedSeconds: exp === null ? null : exp - iat,
    scopeGranted: audiences(claims).map((a) => `aud:${a}`),
  };
}

/**
 * After the task ended: whether a resource server named `audience`, validating `token` locally,
 * would still accept it, and for how long (until its exp). `session-outlived-ttl` evidence, never a verdict.
 */
export async function recordLocalAfterEnd(evidence: Evidence, token: string, issuer: string, audience: string, what: string): Promise<void> {
  const local = await validateLocally(token, issuer, audience);
  const exp = claimsOf(token).exp;
  evidence.record(
    local.accepted
      ? `session-outlived-ttl (evidence): ${audience}, validating the JWT locally, would still accept ${what} after the task ended, until its exp`
      : `${audience}, validating the JWT locally, would refuse ${what} after the task ended`,
    { localValidation: local.detail, acceptedForMsAfterEnd: local.accepted && exp !== undefined ? Math.max(0, exp * 1000 - Date.now()) : 0 },
  );
}
