/**
 * `federated-vault`: a task user's Keycloak login bought a Vault token. The holder logs in to the
 * task realm (password grant) and presents the access token to a `jwt` auth method of Vault or
 * OpenBao (adapters/vault/jwt-login.ts) whose role trusts the realm by OIDC discovery, is bound to
 * the audience the login client names, and gives its tokens the task's read policy. What the
 * point of use is handed is that Vault token.
 *
 * The classic federation gap: the identity provider never hears of the Vault token again. When
 * the task ends its IdP session (the admin logout), the Vault token lives on until its own TTL,
 * which only the jwt role decides. So this grant ends like an expiry on the Vault side: the token
 * must be refused by the end of the approval window (+ grace) because the role's `token_ttl` and
 * `token_explicit_max_ttl` are bound to it, and how long it outlived the IdP session is recorded
 * as `session-outlived-ttl` evidence. The IdP token itself is tried again after the end: the
 * method accepts it until its `exp` plus the role's leeways (150 s and 60 s of clock skew unless
 * the role sets them), buying a fresh Vault token each time.
 *
 * With `existing:` the federation is the user's own (external mode): their jwt mount and role on
 * the Vault, the realm it trusts, a login client there and a task user whose password comes from
 * the environment. The role is read and recorded, and read again at teardown to show it unchanged;
 * nothing is created on either target, and teardown revokes only the Vault tokens the task bought.
 * The role's own policies must read the point of use's secret, so the point names an existing
 * secret too (`use.params.existing`).
 *
 * Broken setups for twins and mutants: a role whose tokens live an hour with no cap, a role left
 * with Vault's default leeways.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantContext, type GrantSource, type ProbeResult, UNREADABLE } from '../../contract.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { VaultApi } from '../../vault/api.ts';
import { grantedCapabilities, lookupAccessor } from '../../vault/client.ts';
import { disableJwtMount, enableJwtMount, JWT_REFUSED, jwtLogin, jwtMountFor, readJwtRole, writeJwtRole } from '../../vault/jwt-login.ts';
import { GONE, readRefusal, saysGone } from '../../vault/probes.ts';
import { TERMS as VAULT_TERMS, term as vaultTerm } from '../../vault/terms.ts';
import { probeWith } from '../../probe-shell.ts';
import { isNotFound, type IdpClient } from '../client.ts';
import { createClient, createRealm, createTaskUser, deleteRealm, passwordLogin } from '../fixtures.ts';
import { audiences, claimsOf, realmIssuer, recordLocalAfterEnd } from '../jwt.ts';

/** Federation the user already runs, named instead of fixtures: read and recorded, never created or changed. */
const existing = z.strictObject({
  /** The jwt auth method's mount path on the Vault (`jwt`, `keycloak`). */
  mount: z.string().min(1),
  /** Its role the task logs in with: its own settings decide the Vault token's policies and lifetime. */
  role: z.string().min(1),
  /** The realm the role trusts. */
  realm: z.string().min(1),
  /** A client of that realm with direct access grants whose tokens name the role's bound audience. */
  client: z.string().min(1),
  /** The task user who logs in there, and the environment variable holding its password. */
  user: z.string().min(1),
  passwordEnv: z.string().min(1),
});

const params = z
  .strictObject({
    /** Federation the user already runs (external mode): nothing is created on either target. */
    existing: existing.optional(),
    /** Lifespan of the Keycloak access token the holder presents to Vault. */
    ttlSeconds: seconds.optional(),
    /** The jwt role's token_ttl: how long the Vault token lives. */
    vaultTtlSeconds: seconds.optional(),
    /** The jwt role's token_explicit_max_ttl. Absent: the approval window; null (broken) sets none, so renewals run to the mount's max TTL. */
    vaultMaxTtlSeconds: seconds.nullable().optional(),
    /** The role's leeway past the IdP token's exp and for clock skew; null (broken) leaves Vault's defaults, 150 s and 60 s. */
    leewaySeconds: seconds.nullable().optional(),
  })
  .superRefine((p, issue) => {
    for (const key of ['ttlSeconds', 'vaultTtlSeconds'] as const) {
      if (!p.existing && p[key] === undefined) issue.addIssue({ code: 'custom', path: [key], message: 'required unless existing names the federation to judge' });
    }
    for (const key of ['ttlSeconds', 'vaultTtlSeconds', 'vaultMaxTtlSeconds', 'leewaySeconds'] as const) {
      if (p.existing && p[key] !== undefined) issue.addIssue({ code: 'custom', path: [key], message: 'not with existing: the role and the realm are judged by their own settings, and nothing is created' });
    }
  });
type Params = z.infer<typeof params>;
type Ctx = GrantContext<Params, IdpClient>;

const LOGIN_CLIENT = 'task-app';
/** The client id the Vault role is bound to as audience: the login client's tokens name it. */
const VAULT_AUDIENCE = 'openbao';
const USER = 'task-user';
const ROLE = 'task';

interface Federation {
  realm: string;
  issuer: string;
  client: string;
  user: string;
  userId: string;
  password: string;
  vault: VaultApi;
  mount: string;
  role: string;
  /** The mount and realm are the scenario's own (removed at teardown), not the user's. */
  owned: boolean;
  /** The IdP token the holder logged in with (a secret). */
  jwt?: string;
  /** Every Vault token the IdP token bought, by accessor: the grant's, then any after the end (residue while they live). */
  bought: string[];
}

function federation(ctx: Ctx): Federation {
  const f = ctx.state.get('federation') as Federation | undefined;
  if (!f) throw new Error('no federation set up: setup did not run');
  return f;
}

/** The point of use's Vault, reached with the admin token its adapter hands on. */
function vaultOfPointOfUse(ctx: Ctx): VaultApi {
  const env = ctx.pointOfUse.targetEnvironment();
  const address = env.VAULT_ADDR ?? env.BAO_ADDR;
  const token = env.VAULT_TOKEN ?? env.BAO_TOKEN;
  if (!address || !token) throw new Error(`the point of use ${ctx.pointOfUse.name} is no Vault: it names no VAULT_ADDR and VAULT_TOKEN`);
  return new VaultApi(address, token);
}

/** The IdP token logs in to Vault again: a Vault token bought is `allowed`; the method's own refusal of the token is `denied`. */
function loginAgain(ctx: Ctx, f: Federation, jwt: string): Promise<ProbeResult> {
  return probeWith(
    async () => {
      const bought = await jwtLogin(f.vault, f.mount, f.role, jwt);
      ctx.secrets.add(bought.token);
      f.bought.push(bought.accessor);
      return `HTTP 200: a Vault token (accessor ${bought.accessor}) for ${bought.leaseSeconds} s`;
    },
    (error) => {
      const reading = readRefusal(error, JWT_REFUSED);
      return { outcome: reading.denied ? 'denied' : 'unknown', detail: reading.detail };
    },
  );
}

/** The scenario's own realm, task user and login client, and a jwt method trusting the realm, its role bound to the window. */
async function setUpOwn(ctx: Ctx, vault: VaultApi, p: Params & { ttlSeconds: number; vaultTtlSeconds: number }): Promise<Federation> {
  const realm = ctx.prefix;
  await createRealm(ctx, realm);
  const { userId, password } = await createTaskUser(ctx, realm, USER);
  await createClient(ctx, realm, { clientId: VAULT_AUDIENCE });
  await createClient(ctx, realm, { clientId: LOGIN_CLIENT, directGrant: true, attributes: { 'access.token.lifespan': String(Math.round(p.ttlSeconds)) }, audiences: [VAULT_AUDIENCE] });
  const f: Federation = { realm, issuer: realmIssuer(ctx.client.base, realm), client: LOGIN_CLIENT, user: USER, userId, password, vault, mount: jwtMountFor(ctx.prefix), role: ROLE, owned: true, bought: [] };
  ctx.state.set('federation', f);
  await enableJwtMount(vault, f.mount, f.issuer);
  const maxTtl = p.vaultMaxTtlSeconds === undefined ? ctx.task.windowSeconds : p.vaultMaxTtlSeconds;
  const leeway = p.leewaySeconds === undefined ? 0 : p.leewaySeconds;
  await writeJwtRole(vault, f.mount, ROLE, {
    audience: VAULT_AUDIENCE,
    userClaim: 'sub',
    policies: [vaultTerm(ctx, VAULT_TERMS.policy)],
    ttlSeconds: Math.round(p.vaultTtlSeconds),
    explicitMaxTtlSeconds: maxTtl === null ? null : Math.round(maxTtl),
    leewaySeconds: leeway === null ? null : Math.round(leeway),
  });
  ctx.evidence.record('task realm, user and login client created; Vault jwt auth method trusts the realm', {
    realm,
    user: USER,
    loginClient: LOGIN_CLIENT,
    accessTokenLifespanSeconds: p.ttlSeconds,
    audience: VAULT_AUDIENCE,
    jwtMount: f.mount,
    role: ROLE,
    roleAsVaultStatesIt: await readJwtRole(vault, f.mount, ROLE),
  });
  if (maxTtl === null) ctx.evidence.record('broken setup: the jwt role caps no renewal (no token_explicit_max_ttl)');
  if (leeway === null) ctx.evidence.record("broken setup: the jwt role keeps Vault's default leeways (150 s past exp, 60 s of clock skew)");
  return f;
}

/** The user's own federation: its role read and remembered, its task user found by name; nothing created. */
async function useOwn(ctx: Ctx, vault: VaultApi, e: z.infer<typeof existing>): Promise<Federation> {
  const password = process.env[e.passwordEnv];
  if (!password) throw new Error(`existing.passwordEnv: ${e.passwordEnv} is not set: the task user's password is read from it`);
  ctx.secrets.add(password);
  await useExisting(ctx, `jwt role ${e.mount}/${e.role}`, () => readJwtRole(vault, e.mount, e.role));
  const users = await ctx.client.admin.call<{ id: string; username: string }[]>('GET', `/${encodeURIComponent(e.realm)}/users?username=${encodeURIComponent(e.user)}&exact=true`);
  const userId = users.find((u) => u.username === e.user)?.id;
  if (!userId) throw new Error(`existing.user: realm ${e.realm} has no user ${e.user}`);
  const f: Federation = { realm: e.realm, issuer: realmIssuer(ctx.client.base, e.realm), client: e.client, user: e.user, userId, password, vault, mount: e.mount, role: e.role, owned: false, bought: [] };
  ctx.state.set('federation', f);
  return f;
}

export const federatedVaultSource: GrantSource<Params, IdpClient> = {
  title: "A Keycloak login traded for a Vault token at Vault's jwt auth method",
  params,
  issues: ['vault-token'],
  needs: [VAULT_TERMS.policy],
  checks: () => ['reuse-denied', 'holder-cannot-extend'],
  remediation: {
    'ttl-bounded': "Set the jwt role's token_ttl and token_explicit_max_ttl to the approval window: the identity provider's logout never reaches the Vault token",
    'reuse-denied':
      "Bound the jwt role's token_ttl and token_explicit_max_ttl by the approval window, set its expiration_leeway and clock_skew_leeway to a few seconds (the defaults accept an IdP token 150 s past its exp), keep IdP access token lifespans within the window, and revoke the Vault token when the task ends",
    'holder-cannot-extend': 'Set token_explicit_max_ttl on the jwt role to the approval window, so no renewal reaches past it',
    'no-residue': "Revoke the Vault tokens a task's IdP login bought when the task ends (or bound their TTL by the window), and end the task user's IdP sessions",
  },

  async setup(ctx) {
    const p = ctx.params;
    const vault = vaultOfPointOfUse(ctx);
    if (p.existing) await useOwn(ctx, vault, p.existing);
    else if (p.ttlSeconds !== undefined && p.vaultTtlSeconds !== undefined) await setUpOwn(ctx, vault, { ...p, ttlSeconds: p.ttlSeconds, vaultTtlSeconds: p.vaultTtlSeconds });
  },

  // The task user's IdP sessions, and the Vault tokens its IdP token bought that still live
  // beyond the grant's own (which the point of use follows).
  async entitlements(ctx) {
    const f = ctx.state.get('federation') as Federation | undefined;
    if (!f) return [];
    const found = (await userSessions(ctx.client, f.realm, f.userId)).map((id) => `session ${id} of ${f.user}`);
    for (const accessor of f.bought.slice(1)) {
      try {
        await lookupAccessor(f.vault, accessor);
        found.push(`token ${accessor} (bought with the IdP token after the end)`);
      } catch (error) {
        if (!saysGone(error, GONE.accessor)) found.push(`${UNREADABLE}token:${accessor} (${readRefusal(error).detail})`);
      }
    }
    return found;
  },

  async request(ctx) {
    const f = federation(ctx);
    const jwt = (await passwordLogin(ctx, f.realm, f.client, f.user, f.password)).accessToken;
    f.jwt = jwt;
    const claims = claimsOf(jwt);
    const login = await jwtLogin(f.vault, f.mount, f.role, jwt);
    const credential = bornCredential(ctx.secrets, { type: 'vault-token', token: login.token, accessor: login.accessor });
    f.bought.push(login.accessor);
    // Vault's own statement of the token, asked with the token itself.
    const facts = await ctx.pointOfUse.inspect(credential);
    if (!facts) throw new Error(`the point of use ${ctx.pointOfUse.name} states nothing about a Vault token`);
    ctx.evidence.record('IdP token traded for a Vault token (neither token is recorded)', {
      idpToken: { jti: claims.jti ?? null, sub: claims.sub ?? null, aud: claims.aud ?? null, iat: claims.iat ?? null, exp: claims.exp ?? null },
      vaultToken: { accessor: login.accessor, leaseSeconds: login.leaseSeconds, renewable: login.renewable, policies: login.policies, facts: facts.detail },
    });
    const grant: Grant = {
      credentialId: `accessor ${login.accessor}`,
      issuedAt: facts.issuedAt ?? new Date().toISOString(),
      expiresAt: facts.expiresAt,
      // With an existing role nothing is asked: the role decides.
      ttlRequestedSeconds: ctx.params.vaultTtlSeconds ?? null,
      ttlGrantedSeconds: facts.ttlSeconds,
      scopeGranted: await grantedCapabilities(f.vault, login.policies),
      attributes: { ...facts.attributes, idpSubject: claims.sub ?? null, idpTokenExp: claims.exp ?? null },
      handles: [
        { name: 'Vault token bought with the IdP token', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) },
        { name: "the task's IdP token logging in to Vault again", check: 'reuse-denied', probe: () => loginAgain(ctx, f, jwt) },
      ],
      extensions: [],
      credential,
    };
    grant.extensions = ctx.pointOfUse.extensions(credential, grant);
    return grant;
  },

  // The task's end is the end of its IdP session; the Vault token is judged by its own expiry.
  async end(ctx, grant) {
    const f = federation(ctx);
    const loggedOutAt = Date.now();
    await ctx.client.admin.call('POST', `/${encodeURIComponent(f.realm)}/users/${f.userId}/logout`);
    ctx.evidence.record("IdP session ended: the task user's sessions logged out", { realm: f.realm, user: f.user }, new Date(loggedOutAt));
    await recordVaultTokenAfterLogout(ctx, grant, loggedOutAt);
    if (f.jwt) {
      const audience = audiences(claimsOf(f.jwt)).find((a) => a !== 'account') ?? VAULT_AUDIENCE;
      await recordLocalAfterEnd(ctx.evidence, f.jwt, f.issuer, audience, 'the IdP token');
    }
  },

  async teardown(ctx) {
    const f = ctx.state.get('federation') as Federation | undefined;
    if (!f) return [];
    // Unmounting revokes every token the method issued: the grant's and any bought after the end.
    if (f.owned) return [...(await disableJwtMount(f.vault, f.mount)), ...(await deleteRealm(ctx.client, f.realm))];
    // The user's own method stays; only the tokens the task bought with it go.
    const removed: string[] = [];
    for (const accessor of f.bought) {
      try {
        await f.vault.call('POST', 'auth/token/revoke-accessor', { accessor });
        removed.push(`token ${accessor}`);
      } catch (error) {
        if (!saysGone(error, GONE.accessor)) throw error;
      }
    }
    await confirmUnchanged(ctx);
    return removed;
  },
};

/**
 * The task user's sessions, read from the user alone: the realm may be the user's own and hold
 * many. The login asks no offline_access, so an online session is all it opens.
 */
async function userSessions(client: IdpClient, realm: string, userId: string): Promise<string[]> {
  try {
    return (await client.admin.call<{ id: string }[]>('GET', `/${encodeURIComponent(realm)}/users/${userId}/sessions`)).map((s) => s.id);
  } catch (error) {
    // The realm or the user is gone (teardown ran): it holds nothing.
    if (isNotFound(error)) return [];
    throw error;
  }
}

/**
 * The federation gap as evidence: how long Vault says the token still lives once the IdP session
 * is over. The token is asked about itself; a refusal means it had already ended.
 */
async function recordVaultTokenAfterLogout(ctx: Ctx, grant: Grant, loggedOutAt: number): Promise<void> {
  let expiresAt: string | null;
  try {
    const facts = await ctx.pointOfUse.inspect(grant.credential);
    expiresAt = facts?.expiresAt ?? null;
  } catch (error) {
    ctx.evidence.record('Vault no longer answers the token about itself when the IdP session ends: it had ended first', { answer: error instanceof Error ? error.message : String(error) });
    return;
  }
  const outlivedMs = expiresAt === null ? null : Math.max(0, Date.parse(expiresAt) - loggedOutAt);
  ctx.evidence.record(
    outlivedMs === 0
      ? 'the Vault token ends with the IdP session'
      : `session-outlived-ttl (evidence): the Vault token bought with the IdP token outlives the IdP session ${outlivedMs === null ? 'without end' : `by ${outlivedMs} ms`}, until its own expiry`,
    { vaultStatedExpiry: expiresAt, idpSessionEndedAt: new Date(loggedOutAt).toISOString(), outlivedMs },
  );
}
