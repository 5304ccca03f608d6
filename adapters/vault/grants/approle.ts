/**
 * `approle-secret-id`: the broker issues an AppRole secret_id limited in uses and time, and the
 * task logs in with it once: the token that login yields is the credential used at the point of
 * use. A second login with the same secret_id must be refused (tried at Vault's login endpoint,
 * where the secret_id is redeemed), the login token must be dead once the task has logged out
 * (tried at the point of use), and no secret_id may be left listed under the role. The role caps
 * its login tokens at the approval window, and the holder of a login token may stretch it no
 * further (extension.ts). A role handing out batch tokens, which Vault cannot revoke, cannot end
 * the task's session when the task ends. The role may bind its secret_ids and its login tokens to
 * the task's source addresses (`secretIdBoundCidrs`, `tokenBoundCidrs`).
 *
 * With `role:` the scenario names an AppRole role of the user's own configuration (under `mount:`,
 * default the target's AppRole mount): the secret_id the broker generates for it is the grant, the
 * role's own settings decide its TTL, uses and login tokens, and the role is read, judged
 * (role-findings.ts: `role-within-window`, `role-trust-narrow`) and never changed. At a revoke the
 * broker destroys that secret_id by its accessor and the task logs out; nothing else is created.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { fingerprint } from '../../../scenarios/secrets.ts';
import { bornCredential, type Grant, type GrantSource } from '../../contract.ts';
import { describeVaultError } from '../api.ts';
import { grantedCapabilities, type VaultClient } from '../client.ts';
import { mintedEntitlements, vaultTokenExtensions, type VaultGrantContext } from '../extension.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { mountMaxTtl, readObject } from '../existing.ts';
import { GONE, probe, readRefusal } from '../probes.ts';
import { judgeAppRole } from '../role-findings.ts';
import { TERMS, term } from '../terms.ts';
import { revokeTracked, trackAccessor, type VaultToken } from '../tokens.ts';

const params = z
  .strictObject({
    /** An existing AppRole role of the user's configuration: its secret_id is the grant. Nothing else is created or changed. */
    role: z.string().min(1).optional(),
    /** The AppRole mount the existing role lives under; absent: the target's AppRole mount. */
    mount: z.string().min(1).optional(),
    /** Logins the secret_id allows; 0 means unlimited (a broken setup). */
    secretIdNumUses: z.number().int().min(0).optional(),
    secretIdTtlSeconds: seconds.optional(),
    /** TTL of the token a login yields (the task's session). */
    tokenTtlSeconds: seconds.optional(),
    /**
     * The task logs out (revokes its login token) when it ends; false (broken) leaves the login
     * token to live out its own TTL — a session that outlasts the task.
     */
    logoutAtEnd: z.boolean().default(true),
    /**
     * The role's token_explicit_max_ttl: the cap no renewal of a login token passes. Absent: the
     * approval window; null (broken) sets none.
     */
    tokenExplicitMaxTtlSeconds: seconds.nullable().optional(),
    /** `batch` (broken where the session must end with the task): tokens Vault cannot revoke. */
    tokenType: z.enum(['service', 'batch']).optional(),
    /** The role's secret_id_bound_cidrs: where a login with its secret_ids may come from. */
    secretIdBoundCidrs: z.array(z.union([z.cidrv4(), z.cidrv6()])).min(1).nullable().optional(),
    /** The role's token_bound_cidrs: where its login tokens may be used from; absent, anywhere. */
    tokenBoundCidrs: z.array(z.union([z.cidrv4(), z.cidrv6()])).min(1).nullable().optional(),
  })
  .superRefine((p, issue) => {
    if (p.role === undefined) {
      for (const key of ['secretIdNumUses', 'secretIdTtlSeconds', 'tokenTtlSeconds'] as const) {
        if (p[key] === undefined) issue.addIssue({ code: 'custom', path: [key], message: 'required unless role names an existing AppRole role' });
      }
      if (p.mount !== undefined) issue.addIssue({ code: 'custom', path: ['mount'], message: 'names the mount of an existing AppRole role: give role too' });
      return;
    }
    // The role's own settings are what is judged; setting any of them would change the target.
    for (const key of ['secretIdNumUses', 'secretIdTtlSeconds', 'tokenTtlSeconds', 'tokenExplicitMaxTtlSeconds', 'tokenType', 'secretIdBoundCidrs', 'tokenBoundCidrs'] as const) {
      if (p[key] !== undefined) issue.addIssue({ code: 'custom', path: [key], message: 'not with role: an existing AppRole role is judged by its own settings, and nothing but the secret_id is created' });
    }
  });
type Params = z.infer<typeof params>;
type Ctx = VaultGrantContext<Params>;

const mountOf = (ctx: Ctx): string => ctx.params.mount ?? ctx.client.approleMount;
const roleName = (ctx: Ctx): string => ctx.params.role ?? ctx.prefix;
const rolePath = (ctx: Ctx): string => `auth/${mountOf(ctx)}/role/${roleName(ctx)}`;

/** A fixture parameter; present whenever no role is named (the schema says so). */
function fixture<K extends 'secretIdNumUses' | 'secretIdTtlSeconds' | 'tokenTtlSeconds'>(ctx: Ctx, key: K): NonNullable<Params[K]> {
  const value = ctx.params[key];
  if (value === undefined || value === null) throw new Error(`approle-secret-id: ${key} is required without role`);
  return value as NonNullable<Params[K]>;
}

const SECRET_ID_ACCESSOR = 'secretIdAccessor';
const ROLE_POLICIES = 'rolePolicies';

/** The policies a login carries: the resource's, or those an existing role names. */
function grantedPolicies(ctx: Ctx): string[] {
  if (ctx.params.role === undefined) return [term(ctx, TERMS.policy)];
  return [...new Set((ctx.state.get(ROLE_POLICIES) as string[] | undefined) ?? [])];
}

/** Is our own secret_id still listed under the role? Looked up by its accessor, never by listing the role's others. */
async function ownSecretIdLives(ctx: Ctx, accessor: string): Promise<boolean> {
  try {
    await ctx.client.api.call('POST', `${rolePath(ctx)}/secret-id-accessor/lookup`, { secret_id_accessor: accessor });
    return true;
  } catch (error) {
    const e = describeVaultError(error);
    // Vault answers an unknown accessor with 404, or (older servers) with an error naming it.
    if (e.status === 404 || /failed to find accessor entry|not found|invalid secret id accessor/i.test(e.message)) return false;
    throw error;
  }
}

async function destroySecretId(ctx: Ctx, accessor: string): Promise<boolean> {
  if (!(await ownSecretIdLives(ctx, accessor))) return false;
  await ctx.client.api.call('POST', `${rolePath(ctx)}/secret-id-accessor/destroy`, { secret_id_accessor: accessor });
  return true;
}

/**
 * Secret_ids the role still lists for the task: every one under a role of the scenario's own, only
 * the task's own under an existing role (whose other secret_ids are the user's business).
 */
async function secretIdsHeld(ctx: Ctx): Promise<string[]> {
  if (ctx.params.role !== undefined) {
    const accessor = ctx.state.get(SECRET_ID_ACCESSOR) as string | undefined;
    return accessor && (await ownSecretIdLives(ctx, accessor)) ? [accessor] : [];
  }
  try {
    return (await ctx.client.api.call<{ data: { keys: string[] } }>('LIST', `${rolePath(ctx)}/secret-id`)).data.keys;
  } catch (error) {
    // An empty list is a 404, not an error.
    if (describeVaultError(error).status !== 404) throw error;
    return [];
  }
}

/** Read the existing role and its mount's max TTL, report what they let a grant become, and keep its role_id for the logins. */
async function judgeRole(ctx: Ctx, role: string): Promise<void> {
  const api = ctx.client.api;
  const what = `AppRole role ${role} (auth/${mountOf(ctx)})`;
  const settings = await useExisting(ctx, what, () => readObject(api, rolePath(ctx), what));
  ctx.state.set(ROLE_POLICIES, [settings.token_policies, settings.policies].flatMap((p) => (Array.isArray(p) ? p.filter((v): v is string => typeof v === 'string') : [])));
  for (const finding of judgeAppRole(role, settings, await mountMaxTtl(api, mountOf(ctx)), ctx.task.windowSeconds)) ctx.report(finding);
  const roleId = await api.call<{ data: { role_id: string } }>('GET', `${rolePath(ctx)}/role-id`);
  ctx.state.set('roleId', roleId.data.role_id);
}

interface SecretId {
  roleId: string;
  secretId: string;
  secretIdAccessor: string;
}

/** The task's login: its token, and whether Vault made it a batch token (no accessor, not revocable). */
interface Session {
  token: VaultToken;
  batch: boolean;
}

const SESSION = 'session';

async function login(ctx: Ctx, creds: SecretId, node?: string): Promise<Session> {
  const answer = await ctx.client.api.send<{ auth: { client_token: string; accessor: string; token_type?: string } }>('POST', `auth/${mountOf(ctx)}/login`, {
    body: { role_id: creds.roleId, secret_id: creds.secretId },
    token: '',
    ...(node ? { node } : {}),
  });
  const token = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, token.accessor);
  return { token, batch: answer.auth.token_type === 'batch' || token.accessor === '' };
}

/** A batch token is listed nowhere: ask Vault about it by the token itself (admin lookup, no use of it). */
async function batchTokenExpiry(ctx: Ctx, session: Session): Promise<{ alive: true; expiresAt: string | null } | { alive: false }> {
  try {
    const info = await ctx.client.api.send<{ data: { expire_time: string | null } }>('POST', 'auth/token/lookup', { body: { token: session.token.token } });
    return { alive: true, expiresAt: info.data.expire_time };
  } catch (error) {
    if (readRefusal(error).denied) return { alive: false };
    throw error;
  }
}

export const approleSource: GrantSource<Params, VaultClient> = {
  title: 'AppRole secret_id with limited uses and TTL',
  params,
  issues: ['vault-token'],
  needs: [TERMS.policy],
  checks: (p) => [
    'reuse-denied',
    'session-ended-with-task',
    'derived-credentials-denied',
    'holder-cannot-extend',
    ...(p.role === undefined ? [] : ['role-within-window', 'role-trust-narrow']),
  ],
  remediation: {
    'ttl-bounded': 'Set secret_id_ttl on the AppRole role no longer than the approval window',
    'reuse-denied': 'Set secret_id_num_uses to 1 on the AppRole role, so that a secret_id logs in once',
    'session-ended-with-task':
      'Have the role hand out service tokens (token_type service), cap token_ttl and token_explicit_max_ttl at the approval window, and revoke the login token when the task ends',
    'derived-credentials-denied': 'Keep auth/token/create and create-orphan out of the role\'s token_policies, so a login token mints nothing that outlives it',
    'holder-cannot-extend': 'Set token_explicit_max_ttl on the AppRole role to the approval window and keep token creation out of its token_policies',
    'no-residue': 'Issue single-use secret_ids and revoke the login token at task end, so that nothing stays listed under the role',
    'role-within-window': 'Set secret_id_ttl, token_max_ttl and token_explicit_max_ttl on the AppRole role no longer than the approval window, and give it no token_period',
    'context-bound': "Set token_bound_cidrs (and secret_id_bound_cidrs) on the AppRole role to the workload's own addresses, so its login tokens are refused from anywhere else",
    'role-trust-narrow': 'Keep bind_secret_id on, so only a secret_id the broker generates logs in, and bind secret_ids and tokens to the broker\'s addresses (secret_id_bound_cidrs, token_bound_cidrs)',
  },

  async setup(ctx) {
    if (ctx.params.role !== undefined) return judgeRole(ctx, ctx.params.role);
    const api = ctx.client.api;
    try {
      await api.call('POST', `sys/auth/${ctx.client.approleMount}`, { type: 'approle' });
    } catch (error) {
      // Concurrent scenarios enable it too; "already in use" is the answer we want.
      if (!/already in use/i.test(describeVaultError(error).message)) throw error;
    }
    const cap = ctx.params.tokenExplicitMaxTtlSeconds === undefined ? ctx.task.windowSeconds : ctx.params.tokenExplicitMaxTtlSeconds;
    const tokenType = ctx.params.tokenType ?? 'service';
    await api.call('POST', rolePath(ctx), {
      token_policies: [term(ctx, TERMS.policy)],
      token_ttl: `${fixture(ctx, 'tokenTtlSeconds')}s`,
      token_max_ttl: `${fixture(ctx, 'tokenTtlSeconds')}s`,
      // 0 is Vault's "no cap".
      token_explicit_max_ttl: cap === null ? 0 : `${cap}s`,
      token_type: tokenType,
      secret_id_num_uses: fixture(ctx, 'secretIdNumUses'),
      secret_id_ttl: `${fixture(ctx, 'secretIdTtlSeconds')}s`,
      ...(ctx.params.secretIdBoundCidrs ? { secret_id_bound_cidrs: ctx.params.secretIdBoundCidrs } : {}),
      ...(ctx.params.tokenBoundCidrs ? { token_bound_cidrs: ctx.params.tokenBoundCidrs } : {}),
    });
    const roleId = await api.call<{ data: { role_id: string } }>('GET', `${rolePath(ctx)}/role-id`);
    ctx.state.set('roleId', roleId.data.role_id);
    ctx.evidence.record(tokenType === 'batch' ? 'broken setup: approle role created handing out batch tokens, which cannot be revoked' : 'approle role created', {
      role: roleName(ctx),
      tokenExplicitMaxTtlSeconds: cap,
      tokenType,
      secretIdBoundCidrs: ctx.params.secretIdBoundCidrs ?? null,
      tokenBoundCidrs: ctx.params.tokenBoundCidrs ?? null,
    });
  },

  /** Secret_ids still listed under the role, a batch login token Vault still knows, and what the holder minted. */
  async entitlements(ctx) {
    const held = (await secretIdsHeld(ctx)).map((a) => `secret-id:${a}`);
    // A service login token carries the read policy, so the point of use lists it; a batch one is in no listing.
    const session = ctx.state.get(SESSION) as Session | undefined;
    if (session?.batch && (await batchTokenExpiry(ctx, session)).alive) held.push(`batch token:${fingerprint(session.token.token)} (cannot be revoked)`);
    // A role's login tokens are listed by the point of use they were handed to; what their holder minted only here.
    const minted = ctx.params.role === undefined ? await mintedEntitlements(ctx, term(ctx, TERMS.policy)) : await mintedEntitlements(ctx);
    return [...held, ...minted].sort();
  },

  async request(ctx) {
    const answer = await ctx.client.api.call<{ data: { secret_id: string; secret_id_accessor: string; secret_id_ttl: number; secret_id_num_uses: number } }>(
      'POST',
      `${rolePath(ctx)}/secret-id`,
      { metadata: JSON.stringify({ jitc_run: ctx.runId, jitc_task: ctx.task.id }) },
    );
    const creds: SecretId = {
      roleId: ctx.state.get('roleId') as string,
      secretId: answer.data.secret_id,
      secretIdAccessor: answer.data.secret_id_accessor,
    };
    ctx.secrets.add(creds.secretId);
    ctx.state.set(SECRET_ID_ACCESSOR, creds.secretIdAccessor);
    const info = await ctx.client.api.call<{ data: { creation_time: string; expiration_time: string } }>(
      'POST',
      `${rolePath(ctx)}/secret-id-accessor/lookup`,
      { secret_id_accessor: creds.secretIdAccessor },
    );
    // The task's first use of its secret_id is the login; the token it yields is what the point of use is handed.
    let session: Session | undefined;
    const loggedIn = await probe(async () => {
      session = await login(ctx, creds);
    }, GONE.secretId);
    if (!session) throw new Error(`the task could not log in with its fresh secret_id (${loggedIn.outcome}: ${loggedIn.detail})`);
    const active = session;
    ctx.state.set(SESSION, active);
    ctx.evidence.record(active.batch ? 'logged in with the secret_id: Vault issued a batch token (no accessor)' : 'logged in with the secret_id', {
      tokenAccessor: active.batch ? null : active.token.accessor,
      tokenFingerprint: fingerprint(active.token.token),
    });
    const noExpiry = answer.data.secret_id_ttl === 0;
    return {
      credentialId: `secret_id accessor ${creds.secretIdAccessor}`,
      issuedAt: info.data.creation_time,
      expiresAt: noExpiry ? null : info.data.expiration_time,
      // An existing role is asked nothing: its own secret_id_ttl is what is judged.
      ttlRequestedSeconds: ctx.params.secretIdTtlSeconds ?? null,
      ttlGrantedSeconds: noExpiry ? null : answer.data.secret_id_ttl,
      scopeGranted: await grantedCapabilities(ctx.client.api, grantedPolicies(ctx)),
      attributes: { numUses: answer.data.secret_id_num_uses, role: roleName(ctx) },
      handles: [
        { name: 'secret_id (second login)', check: 'reuse-denied', probe: (node) => probe(() => login(ctx, creds, node), GONE.secretId) },
        { name: 'login token after the task', check: 'session-ended-with-task', probe: (node) => ctx.pointOfUse.probe(active.token, node) },
      ],
      // The secret_id itself cannot be stretched (its reuse is the first handle); the login token it yielded can.
      extensions: vaultTokenExtensions(ctx, active.token),
      credential: active.token,
    };
  },

  async end(ctx, grant, mode) {
    // With an existing role the broker's revoke destroys the secret_id it generated; otherwise the
    // secret_id is not touched: its single use (and TTL) must be enforced by the target.
    const accessor = ctx.state.get(SECRET_ID_ACCESSOR) as string | undefined;
    if (ctx.params.role !== undefined && mode === 'revoke' && accessor && (await destroySecretId(ctx, accessor))) {
      ctx.evidence.record('the broker destroyed the secret_id it generated', { secretIdAccessor: accessor });
    }
    // The task is over: it logs out.
    const session = ctx.state.get(SESSION) as Session | undefined;
    if (session?.batch) {
      await judgeBatchSession(ctx, grant, session);
      return;
    }
    if (!ctx.params.logoutAtEnd) {
      ctx.evidence.record('broken setup: the task never logs out; its login token lives to its own TTL', { tokenTtlSeconds: ctx.params.tokenTtlSeconds });
      return;
    }
    if (session) await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: session.token.accessor });
  },

  async teardown(ctx) {
    const removed = await revokeTracked(ctx);
    if (ctx.params.role === undefined) {
      await ctx.client.api.call('DELETE', rolePath(ctx));
      return [...removed, `approle role ${roleName(ctx)}`];
    }
    // An existing role stays; only the secret_id generated for the task goes.
    const accessor = ctx.state.get(SECRET_ID_ACCESSOR) as string | undefined;
    if (accessor && (await destroySecretId(ctx, accessor))) removed.push(`secret_id ${accessor} of approle role ${roleName(ctx)}`);
    await confirmUnchanged(ctx);
    return removed;
  },
};

/**
 * Vault cannot revoke a batch token: it lives to its TTL whatever the task does. Where the task's
 * end is a logout, or the token outlives the approval window, the session cannot end with the
 * task: a fail that names why, never a revoke call failing on an empty accessor.
 */
async function judgeBatchSession(ctx: Ctx, grant: Grant, session: Session): Promise<void> {
  const state = await batchTokenExpiry(ctx, session);
  if (!state.alive) {
    ctx.evidence.record('the batch login token is already gone at the end of the task');
    return;
  }
  const windowEnd = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
  const outlives = state.expiresAt === null || Date.parse(state.expiresAt) > windowEnd + 1000;
  const until = state.expiresAt === null ? 'with no stated expiry' : `until ${state.expiresAt}`;
  ctx.evidence.record('the task\'s login token is a batch token, which Vault cannot revoke', { expiresAt: state.expiresAt, approvalWindowEnds: new Date(windowEnd).toISOString() });
  if (ctx.params.logoutAtEnd || outlives) {
    ctx.report({
      check: 'session-ended-with-task',
      verdict: 'fail',
      detail: `the AppRole role hands out batch tokens, which Vault cannot revoke: the task's login token stays usable ${until}${outlives ? `, past the approval window of ${ctx.task.windowSeconds} s` : ''}, whatever the task does at its end`,
    });
  }
}
