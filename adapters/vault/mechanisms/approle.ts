/**
 * `approle-secret-id`: the broker issues an AppRole secret_id limited in uses and time. The task
 * logs in once; a second login with the same secret_id must be refused, and no secret_id may be
 * left listed under the role.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import type { Mechanism } from '../../contract.ts';
import type { VaultClient } from '../client.ts';
import { grantedCapabilities, tokensHolding } from '../client.ts';
import { createFixtures, fixtureParams, policyName, readSecret, removeFixtures, trackAccessor, type VaultContext } from '../fixtures.ts';
import { describeVaultError } from '../api.ts';
import { GONE, probe } from '../probes.ts';

const params = fixtureParams.extend({
  /** Logins the secret_id allows; 0 means unlimited (a broken setup). */
  secretIdNumUses: z.number().int().min(0),
  secretIdTtlSeconds: seconds,
  /** TTL of the token a login yields (the task's session). */
  tokenTtlSeconds: seconds,
  /**
   * The task logs out (revokes its login token) when it ends; false (broken) leaves the login
   * token to live out its own TTL — a session that outlasts the task.
   */
  logoutAtEnd: z.boolean().default(true),
});
type Params = z.infer<typeof params>;
type Ctx = VaultContext<Params>;

const roleName = (ctx: Ctx): string => ctx.prefix;
const rolePath = (ctx: Ctx): string => `auth/${ctx.client.approleMount}/role/${roleName(ctx)}`;

interface Credentials {
  roleId: string;
  secretId: string;
  secretIdAccessor: string;
}

async function login(ctx: Ctx, creds: Credentials): Promise<{ token: string; accessor: string }> {
  const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>(
    'POST',
    `auth/${ctx.client.approleMount}/login`,
    { role_id: creds.roleId, secret_id: creds.secretId },
    '',
  );
  ctx.secrets.add(answer.auth.client_token);
  trackAccessor(ctx, answer.auth.accessor);
  return { token: answer.auth.client_token, accessor: answer.auth.accessor };
}

export const approleMechanism: Mechanism<Params, VaultClient> = {
  title: 'AppRole secret_id with limited uses and TTL',
  params,

  async setup(ctx) {
    await createFixtures(ctx);
    const api = ctx.client.api;
    try {
      await api.call('POST', `sys/auth/${ctx.client.approleMount}`, { type: 'approle' });
    } catch (error) {
      // Concurrent scenarios enable it too; "already in use" is the answer we want.
      if (!/already in use/i.test(describeVaultError(error).message)) throw error;
    }
    await api.call('POST', rolePath(ctx), {
      token_policies: [policyName(ctx)],
      token_ttl: `${ctx.params.tokenTtlSeconds}s`,
      token_max_ttl: `${ctx.params.tokenTtlSeconds}s`,
      secret_id_num_uses: ctx.params.secretIdNumUses,
      secret_id_ttl: `${ctx.params.secretIdTtlSeconds}s`,
    });
    const roleId = await api.call<{ data: { role_id: string } }>('GET', `${rolePath(ctx)}/role-id`);
    ctx.state.set('roleId', roleId.data.role_id);
    ctx.evidence.record('approle role created', { role: roleName(ctx) });
  },

  async entitlements(ctx) {
    const tokens = await tokensHolding(ctx.client.api, policyName(ctx));
    let accessors: string[] = [];
    try {
      const listed = await ctx.client.api.call<{ data: { keys: string[] } }>('LIST', `${rolePath(ctx)}/secret-id`);
      accessors = listed.data.keys;
    } catch (error) {
      // An empty list is a 404, not an error.
      if (describeVaultError(error).status !== 404) throw error;
    }
    return [...tokens, ...accessors.map((a) => `secret-id:${a}`)];
  },

  probeStanding: (ctx) => readSecret(ctx, ctx.state.get('requester') as string),

  async request(ctx) {
    const answer = await ctx.client.api.call<{ data: { secret_id: string; secret_id_accessor: string; secret_id_ttl: number; secret_id_num_uses: number } }>(
      'POST',
      `${rolePath(ctx)}/secret-id`,
      { metadata: JSON.stringify({ jitc_run: ctx.runId, jitc_task: ctx.task.id }) },
    );
    const creds: Credentials = {
      roleId: ctx.state.get('roleId') as string,
      secretId: answer.data.secret_id,
      secretIdAccessor: answer.data.secret_id_accessor,
    };
    ctx.secrets.add(creds.secretId);
    ctx.state.set('creds', creds);
    const info = await ctx.client.api.call<{ data: { creation_time: string; expiration_time: string } }>(
      'POST',
      `${rolePath(ctx)}/secret-id-accessor/lookup`,
      { secret_id_accessor: creds.secretIdAccessor },
    );
    const noExpiry = answer.data.secret_id_ttl === 0;
    return {
      credentialId: `secret_id accessor ${creds.secretIdAccessor}`,
      issuedAt: info.data.creation_time,
      expiresAt: noExpiry ? null : info.data.expiration_time,
      ttlRequestedSeconds: ctx.params.secretIdTtlSeconds,
      ttlGrantedSeconds: noExpiry ? null : answer.data.secret_id_ttl,
      scopeGranted: await grantedCapabilities(ctx.client.api, [policyName(ctx)]),
      attributes: { numUses: answer.data.secret_id_num_uses, role: roleName(ctx) },
      handles: [{ name: 'secret_id (second login)', check: 'reuse-denied', probe: () => probe(() => login(ctx, creds), GONE.secretId) }],
    };
  },

  async use(ctx, grant) {
    const creds = ctx.state.get('creds') as Credentials;
    let session: { token: string; accessor: string } | undefined;
    const loggedIn = await probe(async () => {
      session = await login(ctx, creds);
    }, GONE.secretId);
    if (!session) return loggedIn;
    const active = session;
    ctx.state.set('session', active);
    ctx.evidence.record('logged in with the secret_id', { tokenAccessor: active.accessor });
    grant.handles.push({ name: 'login token after the task', check: 'session-ended-with-task', probe: () => readSecret(ctx, active.token) });
    return readSecret(ctx, active.token);
  },

  async end(ctx) {
    // The task is over: it logs out. The secret_id is not touched: its single use must be enforced by the target.
    const session = ctx.state.get('session') as { accessor: string } | undefined;
    if (!ctx.params.logoutAtEnd) {
      ctx.evidence.record('broken setup: the task never logs out; its login token lives to its own TTL', { tokenTtlSeconds: ctx.params.tokenTtlSeconds });
      return;
    }
    if (session) await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: session.accessor });
  },

  async teardown(ctx) {
    const removed = await removeFixtures(ctx);
    await ctx.client.api.call('DELETE', rolePath(ctx));
    return [...removed, `approle role ${roleName(ctx)}`];
  },
};
