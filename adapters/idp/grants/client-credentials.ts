/**
 * `client-credentials`: the broker holds a confidential client of the scenario's realm with a
 * service account, whose access tokens live `ttlSeconds` (the client attribute
 * `access.token.lifespan`) and name the resource server in their audience (an audience mapper).
 * For each task it asks a client-credentials token and hands on the token alone: the client's
 * secret stays the broker's, so the holder cannot mint another. At a revoke end the broker revokes
 * the token (RFC 7009); at an expire end the identity provider must refuse it past `exp`.
 *
 * Broken setups for twins and mutants: a lifespan far past the window (or none, so the realm's
 * default applies), an audience mapper naming every client of the realm, and a broker that does
 * nothing at task end.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantContext, type GrantSource } from '../../contract.ts';
import { IdpAnswerError, isNotFound, postForm, readBody, tokenEndpoint, type IdpClient } from '../client.ts';
import { createClient, findClient, listClients, newSecret } from '../fixtures.ts';
import { audiences, claimsOf, grantTimes } from '../jwt.ts';
import { TERMS, term } from '../terms.ts';

const params = z.strictObject({
  /** Access token lifespan set on the granting client; null sets none, so the realm's default (a minute here, five by Keycloak's default) applies. */
  ttlSeconds: seconds.nullable(),
  /** Whose audience the granting client's tokens carry: the task's resource server, or (broken) every client of the realm. */
  audience: z.enum(['resource', 'every-client']).default('resource'),
  /** How the broker ends the grant at a revoke end: revoke the token, or (broken) nothing. */
  revokeAtEnd: z.enum(['token', 'nothing']).default('token'),
});
type Params = z.infer<typeof params>;
type Ctx = GrantContext<Params, IdpClient>;

/** The granting client is named after the scenario: in a realm of the user's own it must be found by the run's prefix, and removed. */
const grantingClient = (ctx: Ctx): string => `${ctx.prefix}-task-client`;

interface Broker {
  realm: string;
  clientId: string;
  /** Keycloak's id of the client, to remove it. */
  uuid?: string;
  secret: string;
  token?: string;
}

function broker(ctx: Ctx): Broker {
  const b = ctx.state.get('broker') as Broker | undefined;
  if (!b) throw new Error('no granting client: setup did not run');
  return b;
}

export const clientCredentialsSource: GrantSource<Params, IdpClient> = {
  title: "Client-credentials access token of the broker's service-account client",
  params,
  issues: ['bearer-token'],
  needs: [TERMS.realm, TERMS.audience],
  checks: () => ['reuse-denied'],
  remediation: {
    'ttl-bounded': "Set access.token.lifespan on the granting client to the approval window (Advanced > Access Token Lifespan), never leaving it to the realm's default",
    'reuse-denied': 'Keep access token lifespans within the approval window and revoke the token (the revocation endpoint) when the task ends; resource servers must introspect rather than trust the JWT alone',
  },

  async setup(ctx) {
    const realm = term(ctx, TERMS.realm);
    const own = term(ctx, TERMS.audience);
    const named = ctx.params.audience === 'every-client' ? (await listClients(ctx.client, realm)).map((c) => c.clientId).filter((id) => !['broker', 'realm-management', 'security-admin-console', 'admin-cli', 'account-console'].includes(id)) : [own];
    const b: Broker = { realm, clientId: grantingClient(ctx), secret: newSecret(ctx) };
    const attributes: Record<string, string> = ctx.params.ttlSeconds === null ? {} : { 'access.token.lifespan': String(Math.round(ctx.params.ttlSeconds)) };
    ctx.state.set('broker', b);
    b.uuid = await createClient(ctx, realm, { clientId: b.clientId, secret: b.secret, serviceAccount: true, attributes, audiences: named });
    ctx.evidence.record("broker's granting client created", { client: b.clientId, accessTokenLifespanSeconds: ctx.params.ttlSeconds, audiences: named });
    if (ctx.params.audience === 'every-client') ctx.evidence.record('broken setup: the granting client puts every client of the realm in its tokens\' audience', { audiences: named });
    if (ctx.params.ttlSeconds === null) ctx.evidence.record("broken setup: the granting client sets no access token lifespan, so the realm's default applies");
  },

  // A client-credentials token opens no session: what it leaves is read by the point of use from the realm's sessions.
  entitlements: async () => [],

  async request(ctx) {
    const b = broker(ctx);
    const response = await postForm(tokenEndpoint(ctx.client.base, b.realm), { grant_type: 'client_credentials', client_id: b.clientId, client_secret: b.secret });
    const body = (await readBody(response)) as { access_token?: unknown; refresh_token?: unknown } | undefined;
    if (!response.ok || typeof body?.access_token !== 'string') throw new IdpAnswerError(response.status, undefined, `client-credentials token refused: HTTP ${response.status}`);
    if (typeof body.refresh_token === 'string') ctx.secrets.add(body.refresh_token);
    const credential = bornCredential(ctx.secrets, { type: 'bearer-token', token: body.access_token });
    b.token = credential.token;
    const claims = claimsOf(credential.token);
    const aud = audiences(claims);
    const iat = claims.iat ?? Math.floor(Date.now() / 1000);
    const exp = claims.exp ?? null;
    ctx.evidence.record('access token claims (the token itself is never recorded)', { jti: claims.jti ?? null, sub: claims.sub ?? null, aud, azp: (claims.azp as string | undefined) ?? null, iat, exp });
    const grant: Grant = {
      ...grantTimes(claims, ctx.params.ttlSeconds),
      attributes: { sub: claims.sub ?? null, azp: (claims.azp as string | undefined) ?? null, scope: (claims.scope as string | undefined) ?? null, refreshToken: typeof body.refresh_token === 'string' },
      handles: [{ name: 'access token introspected by the resource server', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) }],
      extensions: [],
      credential,
    };
    return grant;
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const b = broker(ctx);
    if (ctx.params.revokeAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
      return;
    }
    const response = await postForm(`${ctx.client.base}/realms/${encodeURIComponent(b.realm)}/protocol/openid-connect/revoke`, { token: b.token ?? '', token_type_hint: 'access_token', client_id: b.clientId, client_secret: b.secret });
    if (!response.ok) throw new IdpAnswerError(response.status, undefined, `token revocation refused: HTTP ${response.status}`);
  },

  // Removed here, not left to the realm's deletion: the realm may be the user's own (`existing:`), which is never deleted.
  async teardown(ctx) {
    const b = ctx.state.get('broker') as Broker | undefined;
    if (!b) return [];
    try {
      // A create whose answer was lost still made the client: it is found by its name.
      const uuid = b.uuid ?? (await findClient(ctx.client, b.realm, b.clientId))?.id;
      if (!uuid) return [];
      await ctx.client.admin.call('DELETE', `/${encodeURIComponent(b.realm)}/clients/${uuid}`);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    return [`client ${b.clientId} of realm ${b.realm}`];
  },
};
