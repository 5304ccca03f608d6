/**
 * `break-glass`: the emergency path, kept apart from the routine one. The path is a token role of
 * its own whose use (`auth/token/create/<role>`) only the break-glass identity's policy grants; the
 * emergency grant is a token created through it, bounded by the role's token_explicit_max_ttl.
 *
 * What it proves beside the lifecycle the engine runs on every grant:
 * - the routine JIT identity is refused on the break-glass path (`break-glass-isolated`): it tries
 *   to create a token through the role, and only Vault's own permission denied counts;
 * - the break-glass identity has no standing privilege: outside an emergency its own token cannot
 *   read the secret (the engine judges it as `zero-standing-privilege`);
 * - after the first use, a second emergency grant is requested while the first is open, and
 *   recorded as such in the evidence; with `maxOpen` the path must refuse grants beyond it
 *   (`break-glass-one-open`). A
 *   token role has no cap of its own on live tokens, so a bare Vault role fails that check: only a
 *   broker in front of the role (or a single-use credential) can keep one emergency grant open.
 *
 * With `existing:` the role, the break-glass identity and the routine identity are the user's own
 * (their tokens come from the variables named): nothing but the grants is created, and the role is
 * read before and after, never written. Every grant the scenario obtains is an emergency use on
 * that path: the scenario is opt-in in scheduled runs (README, "Break-glass").
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { askWhileOpen, type FurtherGrants, reportIsolation } from '../../break-glass.ts';
import { bornCredential, type GrantSource, type ProbeResult } from '../../contract.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { envName } from '../../param-fields.ts';
import { probeWith } from '../../probe-shell.ts';
import { lookupAccessor, type VaultClient } from '../client.ts';
import { readObject } from '../existing.ts';
import { mintedEntitlements, type VaultGrantContext } from '../extension.ts';
import { GONE, probe, readRefusal, saysGone } from '../probes.ts';
import { TERMS, term } from '../terms.ts';
import { tokenGrant } from '../token-grant.ts';
import { revokeTracked, tokenHandles, tokenMeta, trackAccessor, type VaultToken } from '../tokens.ts';

const params = z
  .strictObject({
    /**
     * The user's own break-glass path: its token role, and the variables holding the break-glass
     * identity's token and (for the isolation check) the routine JIT identity's token.
     */
    existing: z
      .strictObject({
        role: z.string().min(1),
        identityTokenEnv: envName,
        /** Absent: the routine identity is not tried, and `break-glass-isolated` is inconclusive. */
        routineTokenEnv: envName.optional(),
      })
      .optional(),
    /** TTL the emergency request asks for; absent: the approval window; null asks none. */
    ttlSeconds: seconds.nullable().optional(),
    /** The scenario's own role's token_explicit_max_ttl; absent: the approval window. Null (broken) sets none. */
    roleMaxTtlSeconds: seconds.nullable().optional(),
    /** Broken setup: the routine identity's policy grants every token role, the break-glass one included. */
    routineMayUseBreakGlass: z.boolean().default(false),
    /** Emergency grants the path may have open at once; absent: a second one is only recorded. */
    maxOpen: z.number().int().min(1).max(3).optional(),
  })
  .superRefine((p, issue) => {
    if (!p.existing) return;
    for (const key of ['roleMaxTtlSeconds', 'routineMayUseBreakGlass'] as const) {
      if (p[key] !== undefined && p[key] !== false) issue.addIssue({ code: 'custom', path: [key], message: 'not with existing: the role and the routine policy are the user\'s own and are never changed' });
    }
  });
type BreakGlassParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<BreakGlassParams>;

const IDENTITY = 'breakGlassIdentity';
const ROUTINE = 'routineIdentity';
const CREATED = 'createdObjects';
const EMERGENCY = 'emergencyGrant';

const roleOf = (ctx: Ctx): string => ctx.params.existing?.role ?? `${ctx.prefix}-bg`;
const rolePath = (role: string): string => `auth/token/roles/${role}`;
const createPath = (ctx: Ctx): string => `auth/token/create/${roleOf(ctx)}`;

interface Created {
  policies: string[];
  role?: string;
}

function created(ctx: Ctx): Created {
  let c = ctx.state.get(CREATED) as Created | undefined;
  if (!c) ctx.state.set(CREATED, (c = { policies: [] }));
  return c;
}

async function putPolicy(ctx: Ctx, name: string, paths: string[]): Promise<void> {
  const hcl = paths.map((path) => `path "${path}" {\n  capabilities = ["update"]\n}\n`).join('');
  await ctx.client.api.call('PUT', `sys/policies/acl/${name}`, { policy: hcl });
  created(ctx).policies.push(name);
}

/** A token of the scenario's own for an identity, living as long as the scenario could. */
async function identityToken(ctx: Ctx, policy: string, role: string): Promise<VaultToken> {
  const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', {
    policies: [policy],
    ttl: `${Math.ceil(ctx.task.windowSeconds + 120)}s`,
    display_name: `${ctx.prefix}-${role}`,
    meta: { ...tokenMeta(ctx), jitc_role: role },
  });
  const token = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, token.accessor);
  return token;
}

/** The local path: the role, the break-glass identity's policy and token, the routine identity's policy and token. */
async function createLocalPath(ctx: Ctx): Promise<void> {
  const p = ctx.params;
  const role = roleOf(ctx);
  const cap = p.roleMaxTtlSeconds === undefined ? ctx.task.windowSeconds : p.roleMaxTtlSeconds;
  await ctx.client.api.call('POST', rolePath(role), {
    allowed_policies: [term(ctx, TERMS.policy)],
    orphan: false,
    renewable: true,
    ...(cap === null ? {} : { token_explicit_max_ttl: `${cap}s` }),
  });
  created(ctx).role = role;
  const usePolicy = `${ctx.prefix}-bg-use`;
  await putPolicy(ctx, usePolicy, [createPath(ctx)]);
  // The routine broker creates its tokens through its own path; a wildcard over token roles is the
  // classic way the break-glass role ends up inside the routine channel.
  const routinePolicy = `${ctx.prefix}-routine`;
  await putPolicy(ctx, routinePolicy, ['auth/token/create', ...(p.routineMayUseBreakGlass ? ['auth/token/create/*'] : [])]);
  ctx.state.set(IDENTITY, await identityToken(ctx, usePolicy, 'break-glass-identity'));
  ctx.state.set(ROUTINE, await identityToken(ctx, routinePolicy, 'routine-jit-identity'));
  ctx.evidence.record('break-glass path created, apart from the routine JIT path', {
    role,
    tokenExplicitMaxTtlSeconds: cap,
    breakGlassPolicy: usePolicy,
    routinePolicy,
    breakGlassIdentity: (ctx.state.get(IDENTITY) as VaultToken).accessor,
    routineIdentity: (ctx.state.get(ROUTINE) as VaultToken).accessor,
  });
  if (cap === null) ctx.evidence.record('broken setup: the break-glass role sets no token_explicit_max_ttl');
  if (p.routineMayUseBreakGlass) ctx.evidence.record('broken setup: the routine identity\'s policy grants auth/token/create/*, the break-glass role included');
}

/** A token of the user's own from the variable named, born as a credential before anything can record it. */
async function tokenFromEnv(ctx: Ctx, variable: string, who: string): Promise<VaultToken | undefined> {
  const token = process.env[variable];
  if (!token) {
    ctx.evidence.record(`the variable ${variable} naming the ${who}'s token is empty or unset`);
    return undefined;
  }
  ctx.secrets.add(token);
  let accessor = '';
  try {
    accessor = (await ctx.client.api.send<{ data: { accessor?: string } }>('GET', 'auth/token/lookup-self', { token })).data.accessor ?? '';
  } catch (error) {
    ctx.evidence.record(`the ${who}'s token (from ${variable}) could not look itself up: ${readRefusal(error).detail}`);
  }
  return bornCredential(ctx.secrets, { type: 'vault-token', token, accessor });
}

async function useExistingPath(ctx: Ctx, existing: NonNullable<BreakGlassParams['existing']>): Promise<void> {
  await useExisting(ctx, `token role ${existing.role}`, () => readObject(ctx.client.api, rolePath(existing.role), `token role ${existing.role}`));
  const identity = await tokenFromEnv(ctx, existing.identityTokenEnv, 'break-glass identity');
  if (!identity) throw new Error(`existing.identityTokenEnv: the variable ${existing.identityTokenEnv} holds no token: the break-glass identity cannot be used`);
  ctx.state.set(IDENTITY, identity);
  const routine = existing.routineTokenEnv ? await tokenFromEnv(ctx, existing.routineTokenEnv, 'routine JIT identity') : undefined;
  if (routine) ctx.state.set(ROUTINE, routine);
  ctx.evidence.record('break-glass path: the user\'s own role and identities, used as they are', { role: existing.role, breakGlassIdentity: identity.accessor, routineIdentity: routine?.accessor ?? null });
}

const identity = (ctx: Ctx): VaultToken => ctx.state.get(IDENTITY) as VaultToken;

/** The TTL an emergency request asks for: the window unless the scenario says otherwise. */
const askedTtl = (ctx: Ctx): number | null => (ctx.params.ttlSeconds === undefined ? ctx.task.windowSeconds : ctx.params.ttlSeconds);

/**
 * One emergency request through the path with `holder`'s token. The token it yields (if any) is
 * tracked at once, so teardown revokes it whatever happens next.
 */
async function requestThroughPath(ctx: Ctx, holder: VaultToken, why: string): Promise<{ result: ProbeResult; made?: VaultToken }> {
  let made: VaultToken | undefined;
  const ttl = askedTtl(ctx);
  const result = await probeWith(
    async () => {
      const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>(
        'POST',
        createPath(ctx),
        { display_name: ctx.prefix, meta: { ...tokenMeta(ctx), jitc_task: ctx.task.id, jitc_break_glass: why }, ...(ttl === null ? {} : { ttl: `${ttl}s` }) },
        holder.token,
      );
      made = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
      trackAccessor(ctx, made.accessor);
      return `token created, accessor ${made.accessor}`;
    },
    (error) => {
      const reading = readRefusal(error);
      return { outcome: reading.denied ? 'denied' : 'unknown', detail: reading.detail };
    },
  );
  return { result, ...(made ? { made } : {}) };
}

async function revokeNow(ctx: Ctx, token: VaultToken): Promise<void> {
  try {
    await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: token.accessor });
  } catch (error) {
    ctx.evidence.record(`token ${token.accessor} could not be revoked at once (teardown tries again): ${readRefusal(error).detail}`);
  }
}

/** The routine JIT identity tries the break-glass path: only Vault's own refusal passes. */
async function judgeIsolation(ctx: Ctx): Promise<void> {
  const routine = ctx.state.get(ROUTINE) as VaultToken | undefined;
  let attempt: ProbeResult | undefined;
  if (routine) {
    const { result, made } = await requestThroughPath(ctx, routine, 'routine identity on the break-glass path');
    ctx.evidence.record(`routine JIT identity on the break-glass path (${createPath(ctx)}): ${result.outcome}`, { routineIdentity: routine.accessor, answer: result.detail, ...(made ? { madeAccessor: made.accessor } : {}) }, new Date(result.at));
    if (made) await revokeNow(ctx, made);
    attempt = result;
  }
  reportIsolation(ctx, createPath(ctx), attempt, 'no routine JIT identity to try the break-glass path with: set existing.routineTokenEnv to the variable holding its token');
}

/** Whether Vault still knows a token: a grant counts as open only while it does. */
async function stillOpen(ctx: Ctx, token: VaultToken): Promise<boolean | undefined> {
  try {
    await lookupAccessor(ctx.client.api, token.accessor, { fresh: true });
    return true;
  } catch (error) {
    return saysGone(error, GONE.accessor) ? false : undefined;
  }
}

/** Further emergency grants through the same path while the first is open (a grant counts as open while Vault knows it). */
function furtherGrants(ctx: Ctx): FurtherGrants<VaultToken> {
  const first = ctx.state.get(EMERGENCY) as VaultToken;
  return {
    path: createPath(ctx),
    maxOpen: ctx.params.maxOpen,
    request: () => requestThroughPath(ctx, identity(ctx), 'further grant while one is open'),
    firstOpen: () => stillOpen(ctx, first),
    release: (token) => revokeNow(ctx, token),
    describe: (token) => ({ accessor: token.accessor }),
  };
}

export const breakGlassSource: GrantSource<BreakGlassParams, VaultClient> = {
  title: 'Emergency token through a break-glass token role only its own identity may use',
  params,
  issues: ['vault-token'],
  needs: [TERMS.policy],
  checks: (p) => ['break-glass-isolated', 'reuse-denied', 'credential-invalidated', 'holder-cannot-extend', ...(p.maxOpen === undefined ? [] : ['break-glass-one-open'])],
  remediation: {
    'ttl-bounded': 'Set token_explicit_max_ttl on the break-glass token role to the emergency window: an emergency grant expires like any other',
    'zero-standing-privilege': "Give the break-glass identity only auth/token/create/<break-glass role>: outside an emergency it must reach nothing",
    'break-glass-isolated': "Keep auth/token/create/<break-glass role> (and wildcards over auth/token/create/*) out of the routine JIT identity's policies: grant it to the break-glass identity's own policy only",
    'break-glass-one-open': 'A token role cannot cap its live tokens: put a broker in front of the break-glass role that refuses a second emergency grant while one is open, or hand out a single-use credential per emergency',
    'reuse-denied': 'Let the emergency token expire at the role\'s bound, or revoke it (auth/token/revoke-accessor) when the emergency ends',
    'holder-cannot-extend': 'Set token_explicit_max_ttl on the break-glass role and keep auth/token/create out of the policies it allows',
  },

  async setup(ctx) {
    if (ctx.params.existing) return useExistingPath(ctx, ctx.params.existing);
    await createLocalPath(ctx);
  },

  // The emergency token carries the read policy: the point of use lists it. What its holder minted, only here.
  entitlements: (ctx) => mintedEntitlements(ctx),

  // Outside an emergency: the routine identity is refused on the path, and the break-glass
  // identity's own token reaches nothing (its standing privilege, judged by the engine).
  async probeStanding(ctx) {
    await judgeIsolation(ctx);
    const standing = await probe(() => ctx.client.api.send('GET', ctx.resource.terms[TERMS.secretPath] ?? '', { token: identity(ctx).token }));
    ctx.evidence.record(`break-glass identity outside an emergency reads the secret with its own token: ${standing.outcome}`, { breakGlassIdentity: identity(ctx).accessor, answer: standing.detail }, new Date(standing.at));
    return standing;
  },

  async request(ctx) {
    const { result, made } = await requestThroughPath(ctx, identity(ctx), 'emergency grant');
    if (!made) throw new Error(`the break-glass identity could not obtain an emergency grant through ${createPath(ctx)}: ${result.outcome} (${result.detail})`);
    ctx.state.set(EMERGENCY, made);
    const { grant, info } = await tokenGrant(ctx, made, {
      ttlRequestedSeconds: askedTtl(ctx),
      handles: tokenHandles(ctx, made, 'emergency token'),
      attributes: (info) => ({
        breakGlass: true,
        role: roleOf(ctx),
        breakGlassIdentity: identity(ctx).accessor,
        renewable: info.renewable,
        explicitMaxTtlSeconds: info.explicit_max_ttl,
        policies: info.policies.join(','),
      }),
    });
    ctx.evidence.record('emergency grant issued through the break-glass path', { accessor: made.accessor, role: roleOf(ctx), breakGlassIdentity: identity(ctx).accessor, expiresAt: info.expire_time });
    return grant;
  },

  // Before the first grant ends: a further emergency request while it is open.
  // Asked after the first use, so it never delays it.
  afterUse: (ctx, grant) => askWhileOpen(ctx, grant, furtherGrants(ctx)),

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: (ctx.state.get(EMERGENCY) as VaultToken).accessor });
  },

  async teardown(ctx) {
    // Tracked: the emergency grants and, on the local path, the two identities; never a user's own token.
    const removed = await revokeTracked(ctx);
    await confirmUnchanged(ctx);
    const c = created(ctx);
    if (c.role) {
      await ctx.client.api.call('DELETE', rolePath(c.role));
      removed.push(`token role ${c.role}`);
    }
    for (const policy of c.policies) {
      await ctx.client.api.call('DELETE', `sys/policies/acl/${policy}`);
      removed.push(`policy ${policy}`);
    }
    return removed;
  },
};
