/**
 * `user-session`: a person's (or an agent's) login for one task — a password grant on a public
 * client of the scenario's realm, for a user made for the task, whose access tokens live
 * `ttlSeconds` and name the resource server in their audience. The holder gets the access token
 * and its refresh token. At task end the broker ends the user's sessions (the admin logout):
 * the refresh token must fail and the still-unexpired access token must turn inactive at
 * introspection. A resource server that validates the JWT locally keeps accepting it until its
 * `exp`; that window is recorded as evidence, never judged as a pass.
 *
 * Options: the login client's session lifespan (`sessionSeconds`: `client.session.max.lifespan`
 * and its idle timeout), whether `offline_access` stays among its optional scopes (Keycloak's
 * default for every new client), the holder's attempts to stretch the session (`holderExtends`:
 * a refresh and an offline token, extension.ts), and a chain of two agents the task delegates to
 * (`delegation`, delegation.ts).
 *
 * Broken setups for twins and mutants: a broker that does nothing at task end, a login that
 * asks an offline token (`offline_access`), a session lifespan past the window, offline tokens
 * left grantable, and agents calling downstream with their own tokens. Keycloak's admin logout
 * sets the user's not-before, so even an offline token is refused afterwards, but the offline
 * session and the user's consent to it stay in the realm: residue.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantContext, type GrantSource } from '../../contract.ts';
import { IdpAnswerError, type IdpClient } from '../client.ts';
import { AGENTS, createAgents, delegate, delegationMode, recordLocalAcceptance } from '../delegation.ts';
import { userConsents } from '../entitlements.ts';
import { registerTokens, sessionExtensions } from '../extension.ts';
import { createClient, createTaskUser, passwordLogin, withoutOfflineScope } from '../fixtures.ts';
import { audiences, claimsOf, grantTimes, realmIssuer, recordLocalAfterEnd } from '../jwt.ts';
import { refresh } from '../probes.ts';
import { TERMS, term } from '../terms.ts';

const params = z.strictObject({
  /** Access token lifespan set on the login client. */
  ttlSeconds: seconds,
  /** Broken setup: the login asks `offline_access`, so its refresh token belongs to an offline session, which a logout leaves in the realm. */
  offline: z.boolean().default(false),
  /** How the broker ends the task: the admin logout of the user's sessions, or (broken) nothing. */
  logoutAtEnd: z.enum(['sessions', 'nothing']).default('sessions'),
  /** The login client's session lifespan (max and idle), which bounds every refresh; null: the realm's (ten minutes here). */
  sessionSeconds: seconds.nullable().default(null),
  /** Whether the login client keeps `offline_access` among its optional client scopes, as Keycloak gives every new client. */
  offlineGrantable: z.boolean().default(true),
  /** The holder tries to stretch the session: a refresh inside the window and after the end, and an offline token. */
  holderExtends: z.boolean().default(false),
  /** The task delegates to a chain of two agents: by token exchange, or (broken) agents calling downstream with their own tokens. */
  delegation: delegationMode.default('none'),
});
type Params = z.infer<typeof params>;
type Ctx = GrantContext<Params, IdpClient>;

const LOGIN_CLIENT = 'task-app';
const USER = 'task-user';

interface Login {
  realm: string;
  userId: string;
  password: string;
  accessToken?: string;
}

function login(ctx: Ctx): Login {
  const l = ctx.state.get('login') as Login | undefined;
  if (!l) throw new Error('no task user: setup did not run');
  return l;
}

export const userSessionSource: GrantSource<Params, IdpClient> = {
  title: "A task user's login session (password grant), ended by an admin logout",
  params,
  issues: ['bearer-token'],
  needs: [TERMS.realm, TERMS.audience],
  checks: (p) => ['reuse-denied', 'session-ended-with-task', ...(p.holderExtends ? ['holder-cannot-extend'] : []), ...(p.delegation === 'none' ? [] : ['derived-credentials-denied'])],
  remediation: {
    'session-ended-with-task': "End the task's sessions with an admin logout of the user (POST /admin/realms/<realm>/users/<id>/logout) when the task ends, and never give task logins offline_access",
    'reuse-denied': 'Log the user out when the task ends, keep access token lifespans within the approval window, and have resource servers introspect tokens rather than trust the JWT alone until exp',
    'no-residue': "Revoke the user's offline sessions (consents and offline tokens) as well as its online sessions when the task ends",
    'holder-cannot-extend':
      "Set the login client's Client Session Max and Idle (client.session.max.lifespan, client.session.idle.timeout), and the SSO Session Max and Idle it sits in, to the approval window, and remove offline_access from its client scopes so no offline token can be issued",
    'derived-credentials-denied':
      "Have agents obtain downstream tokens by token exchange of the task's token (standard.token.exchange.enabled on the agent's client), never with a service account of their own, so every delegated token belongs to the task's session",
  },

  async setup(ctx) {
    const realm = term(ctx, TERMS.realm);
    const { userId, password } = await createTaskUser(ctx, realm, USER);
    const p = ctx.params;
    const attributes: Record<string, string> = { 'access.token.lifespan': String(Math.round(p.ttlSeconds)) };
    if (p.sessionSeconds !== null) {
      // The user's SSO session too, not only the client's: a user session outliving its client
      // session would still log the task user in again without a new approval (and stays listed).
      // The realm is the scenario's own; Keycloak wants it set before a client's bound below it.
      const s = Math.round(p.sessionSeconds);
      await ctx.client.admin.call('PUT', `/${encodeURIComponent(realm)}`, { ssoSessionMaxLifespan: s, ssoSessionIdleTimeout: s });
      attributes['client.session.max.lifespan'] = String(Math.round(p.sessionSeconds));
      attributes['client.session.idle.timeout'] = String(Math.round(p.sessionSeconds));
    }
    // The first agent of a delegation chain must be in the user's token audience to exchange it.
    const named = [term(ctx, TERMS.audience), ...(p.delegation === 'none' ? [] : [AGENTS[0]])];
    const clientUuid = await createClient(ctx, realm, { clientId: LOGIN_CLIENT, directGrant: true, attributes, audiences: named });
    if (!p.offlineGrantable) await withoutOfflineScope(ctx, realm, clientUuid);
    if (p.delegation !== 'none') await createAgents(ctx, realm, p.delegation, p.ttlSeconds);
    ctx.state.set('login', { realm, userId, password } satisfies Login);
    ctx.evidence.record('task user and login client created', {
      user: USER,
      client: LOGIN_CLIENT,
      accessTokenLifespanSeconds: p.ttlSeconds,
      sessionLifespanSeconds: p.sessionSeconds ?? "the realm's",
      offlineAccessGrantable: p.offlineGrantable,
      audiences: named,
    });
    if (p.holderExtends && p.sessionSeconds === null) ctx.evidence.record("broken setup: the login client sets no session lifespan, so the realm's bounds every refresh");
    if (p.holderExtends && p.offlineGrantable) ctx.evidence.record("broken setup: the login client keeps offline_access among its optional scopes (Keycloak's default)");
  },

  // The login's sessions, online and offline, are read by the point of use from the realm's sessions; a consent is the user's own.
  entitlements: async (ctx) => {
    const l = ctx.state.get('login') as Login | undefined;
    return l ? userConsents(ctx.client, l.realm, l.userId, USER) : [];
  },

  async request(ctx) {
    const l = login(ctx);
    const tokens = await passwordLogin(ctx, l.realm, LOGIN_CLIENT, USER, l.password, ctx.params.offline ? 'openid offline_access' : 'openid');
    const refreshToken = tokens.refreshToken;
    if (refreshToken === undefined) throw new IdpAnswerError(200, undefined, "the task user's login answered without a refresh token");
    const credential = bornCredential(ctx.secrets, { type: 'bearer-token', token: tokens.accessToken });
    l.accessToken = credential.token;
    const claims = claimsOf(credential.token);
    const refreshClaims = claimsOf(refreshToken);
    const iat = claims.iat ?? Math.floor(Date.now() / 1000);
    const exp = claims.exp ?? null;
    ctx.evidence.record('access and refresh token claims (the tokens themselves are never recorded)', {
      jti: claims.jti ?? null,
      sub: claims.sub ?? null,
      sid: (claims.sid as string | undefined) ?? null,
      aud: audiences(claims),
      iat,
      exp,
      refreshTokenType: (refreshClaims.typ as string | undefined) ?? null,
      refreshTokenExp: refreshClaims.exp ?? null,
    });
    if (ctx.params.offline) ctx.evidence.record('broken setup: the login asked offline_access, so its refresh token is an offline token');
    const grant: Grant = {
      ...grantTimes(claims, ctx.params.ttlSeconds),
      attributes: { sub: claims.sub ?? null, sid: (claims.sid as string | undefined) ?? null, refreshTokenType: (refreshClaims.typ as string | undefined) ?? null },
      handles: [
        { name: 'access token introspected by the resource server', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) },
        {
          name: "the login's refresh token",
          check: 'session-ended-with-task',
          probe: async () => {
            const { outcome, at, detail, body: answer } = await refresh(ctx.client.base, l.realm, LOGIN_CLIENT, refreshToken);
            // A refresh that worked minted tokens: they are secrets like the rest.
            registerTokens(ctx, answer);
            return { outcome, at, detail };
          },
        },
      ],
      extensions: ctx.params.holderExtends ? sessionExtensions(ctx, { realm: l.realm, loginClient: LOGIN_CLIENT, username: USER, password: l.password, refreshToken }) : [],
      credential,
    };
    return grant;
  },

  async afterUse(ctx, grant) {
    if (ctx.params.delegation === 'none') return;
    const l = login(ctx);
    if (!l.accessToken) throw new Error('no access token to delegate: the login did not run');
    grant.handles.push(...(await delegate(ctx, l.accessToken)));
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const l = login(ctx);
    if (ctx.params.logoutAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
    } else {
      await ctx.client.admin.call('POST', `/${encodeURIComponent(l.realm)}/users/${l.userId}/logout`);
    }
    // What a resource server that never asks would do with the tokens from now on: evidence, never a verdict.
    if (l.accessToken) await recordLocalAfterEnd(ctx.evidence, l.accessToken, realmIssuer(ctx.client.base, l.realm), term(ctx, TERMS.audience), 'the access token');
    await recordLocalAcceptance(ctx);
  },

  // The user and its client live in the scenario's realm, which the point of use deletes.
  teardown: async () => [],
};
