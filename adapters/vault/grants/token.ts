/**
 * `token`: the broker creates a token carrying the resource's read policy with a TTL, capped at
 * the approval window by an explicit max TTL (and, as the scenario asks, the task makes a child
 * token with it). The target must deny it at its end, forget its accessor, take its children with
 * it, and let the holder stretch it no further than the window (extension.ts). Reuse of the token
 * and of its child is tried at the point of use; whether Vault still knows the accessor is asked
 * of Vault itself. With `boundCidrs:` the token is bound to the task's source addresses, through a
 * token role of the scenario's own, removed at teardown.
 *
 * With `role:` the scenario names a token role of the user's own configuration: the broker creates
 * the token with `auth/token/create/<role>`, asking only a TTL (the window unless ttlSeconds says
 * otherwise) and leaving policies, caps and period to the role, which is read, judged
 * (role-findings.ts: `role-within-window`, `role-trust-narrow`) and never changed. Nothing but the
 * token is created.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantSource } from '../../contract.ts';
import { lookupAccessor, type VaultClient } from '../client.ts';
import { mintedEntitlements, type VaultGrantContext } from '../extension.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { mountMaxTtl, readObject } from '../existing.ts';
import { judgeTokenRole } from '../role-findings.ts';
import { TERMS, term } from '../terms.ts';
import { tokenGrant } from '../token-grant.ts';
import { revokeTracked, tokenHandles, tokenMeta, trackAccessor, type VaultToken } from '../tokens.ts';

const params = z
  .strictObject({
    /**
     * An existing token role of the user's configuration: the token is created with it, and the
     * role's own settings decide its policies and caps. Nothing else is created or changed.
     */
    role: z.string().min(1).optional(),
    /** TTL the broker asks for; null asks none (the mount default applies). With `role`, absent asks the approval window. */
    ttlSeconds: seconds.nullable().optional(),
    /**
     * Upper bound no renewal can pass. Absent: the approval window, as a broker must cap a renewable
     * token; null (broken) sets none, so the holder renews up to the mount's max TTL (768 h by default).
     */
    explicitMaxTtlSeconds: seconds.nullable().optional(),
    /** A periodic token renews forever: the classic way to make a "temporary" token permanent. */
    periodSeconds: seconds.optional(),
    /**
     * Broken setup: the grant also lets its holder create tokens — children (auth/token/create) or
     * orphans (auth/token/create-orphan) — which the task does not need.
     */
    holderMayCreate: z.array(z.enum(['child', 'orphan'])).default([]),
    /** A child token the task makes with its JIT token, as a subprocess would. */
    child: z.strictObject({ orphan: z.boolean().default(false), ttlSeconds: seconds }).optional(),
    /**
     * How the broker ends the grant at task end: revoke the token (and its children), or — broken —
     * `orphan`: revoke-orphan, which ends the token but turns its children into orphans that live on
     * to their own TTL (a broker that picked the wrong endpoint), or `nothing`.
     */
    revokeAtEnd: z.enum(['token', 'orphan', 'nothing']).default('token'),
    /**
     * Bind the token to the task's source addresses: the broker creates it through a token role of
     * the scenario's own whose token_bound_cidrs names them, so Vault refuses it from anywhere else.
     */
    boundCidrs: z.array(z.union([z.cidrv4(), z.cidrv6()])).min(1).nullable().optional(),
  })
  .superRefine((p, issue) => {
    if (p.role === undefined && p.ttlSeconds === undefined) issue.addIssue({ code: 'custom', path: ['ttlSeconds'], message: 'required unless role names an existing token role' });
    if (p.role === undefined) return;
    // The role decides the token's policies and caps; a policy of the broker's own would change the target.
    const given = {
      explicitMaxTtlSeconds: p.explicitMaxTtlSeconds !== undefined,
      periodSeconds: p.periodSeconds !== undefined,
      child: p.child !== undefined,
      holderMayCreate: p.holderMayCreate.length > 0,
      boundCidrs: Boolean(p.boundCidrs),
    };
    for (const [key, set] of Object.entries(given)) {
      if (set) issue.addIssue({ code: 'custom', path: [key], message: 'not with role: an existing token role is judged by its own settings, and nothing but the token is created' });
    }
  });
type TokenParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<TokenParams>;

const CREATE_PATHS = { child: 'auth/token/create', orphan: 'auth/token/create-orphan' } as const;
/** The broker's own policy beside the resource's, for token creation the task (or a broken setup) needs. */
const holderPolicy = (ctx: Ctx): string => `${ctx.prefix}-holder`;
const HOLDER_POLICY = 'holderPolicy';
const JIT = 'jit';

function issued(ctx: Ctx): VaultToken {
  return ctx.state.get(JIT) as VaultToken;
}

const rolePath = (role: string): string => `auth/token/roles/${role}`;
/** The token role of the scenario's own that binds its token to CIDRs; set once created. */
const BOUND_ROLE = 'boundRole';

/** The cap no renewal passes: the approval window unless the scenario says otherwise; null sets none. */
const capOf = (ctx: Ctx): number | null => (ctx.params.explicitMaxTtlSeconds === undefined ? ctx.task.windowSeconds : ctx.params.explicitMaxTtlSeconds);

/**
 * Vault binds a token to source addresses only through a token role (auth/token/create ignores
 * bound_cidrs): one of the scenario's own, allowing exactly the policies the broker grants. The
 * role carries the cap as well: OpenBao renews a role's token by the role's own caps, whatever
 * explicit_max_ttl the token was created with.
 */
async function createBoundRole(ctx: Ctx, cidrs: string[]): Promise<void> {
  const extra = ctx.state.get(HOLDER_POLICY) as string | undefined;
  const cap = capOf(ctx);
  await ctx.client.api.call('POST', rolePath(ctx.prefix), {
    allowed_policies: [term(ctx, TERMS.policy), ...(extra ? [extra] : [])],
    token_bound_cidrs: cidrs,
    orphan: false,
    renewable: true,
    ...(cap === null ? {} : { token_explicit_max_ttl: `${cap}s` }),
  });
  ctx.state.set(BOUND_ROLE, ctx.prefix);
  ctx.evidence.record('token role created to bind the grant to its context', { role: ctx.prefix, tokenBoundCidrs: cidrs, tokenExplicitMaxTtlSeconds: cap });
}

/** Read the existing role and its mount's max TTL, report what they let a token become, and remember the role for teardown. */
async function judgeRole(ctx: Ctx, role: string): Promise<void> {
  const api = ctx.client.api;
  const settings = await useExisting(ctx, `token role ${role}`, () => readObject(api, rolePath(role), `token role ${role}`));
  for (const finding of judgeTokenRole(role, settings, await mountMaxTtl(api, 'token'), ctx.task.windowSeconds)) ctx.report(finding);
}

/** The token request: the broker's own policies and caps, or, with an existing role, only a TTL. */
function createCall(ctx: Ctx): { path: string; body: Record<string, unknown>; ttl: number | null; cap: number | null } {
  const p = ctx.params;
  const meta = { ...tokenMeta(ctx), jitc_task: ctx.task.id, jitc_approver: ctx.task.approver };
  if (p.role !== undefined) {
    const ttl = p.ttlSeconds === undefined ? ctx.task.windowSeconds : p.ttlSeconds;
    return { path: `auth/token/create/${p.role}`, body: { display_name: ctx.prefix, meta, ...(ttl === null ? {} : { ttl: `${ttl}s` }) }, ttl, cap: null };
  }
  const extra = ctx.state.get(HOLDER_POLICY) as string | undefined;
  const bound = ctx.state.get(BOUND_ROLE) as string | undefined;
  const body: Record<string, unknown> = { policies: [term(ctx, TERMS.policy), ...(extra ? [extra] : [])], display_name: ctx.prefix, meta, renewable: true };
  const ttl = p.ttlSeconds ?? null;
  if (ttl !== null) body.ttl = `${ttl}s`;
  const cap = capOf(ctx);
  if (cap !== null) body.explicit_max_ttl = `${cap}s`;
  if (p.periodSeconds !== undefined) body.period = `${p.periodSeconds}s`;
  return { path: bound === undefined ? 'auth/token/create' : `auth/token/create/${bound}`, body, ttl, cap };
}

/** The broker's own policy for token creation the task (or a broken setup) needs, when it needs any. */
async function setUpHolderPolicy(ctx: Ctx): Promise<void> {
  const may = new Set(ctx.params.holderMayCreate);
  if (ctx.params.child) may.add(ctx.params.child.orphan ? 'orphan' : 'child');
  if (may.size === 0) return;
  const hcl = [...may].map((kind) => `path "${CREATE_PATHS[kind]}" {\n  capabilities = ["update"]\n}\n`).join('');
  await ctx.client.api.call('PUT', `sys/policies/acl/${holderPolicy(ctx)}`, { policy: hcl });
  ctx.state.set(HOLDER_POLICY, holderPolicy(ctx));
  ctx.evidence.record('token-creation policy created for the grant', { policy: holderPolicy(ctx), paths: [...may].map((kind) => CREATE_PATHS[kind]) });
  if (ctx.params.holderMayCreate.length > 0) {
    ctx.evidence.record('broken setup: the grant\'s policy lets its holder create tokens', { may: ctx.params.holderMayCreate.map((kind) => CREATE_PATHS[kind]) });
  }
}

export const tokenSource: GrantSource<TokenParams, VaultClient> = {
  title: 'Token with a TTL created by the broker',
  params,
  issues: ['vault-token'],
  needs: [TERMS.policy],
  checks: (p) => ['reuse-denied', 'credential-invalidated', 'derived-credentials-denied', 'holder-cannot-extend', ...(p.role === undefined ? [] : ['role-within-window', 'role-trust-narrow'])],
  remediation: {
    'ttl-bounded': 'Create the task\'s token with ttl and explicit_max_ttl no longer than the approval window, and without a period',
    'reuse-denied': 'Revoke the token (auth/token/revoke-accessor) when the task ends, and give it a TTL that ends with the approval window',
    'credential-invalidated': 'Revoke the token at task end so that Vault forgets its accessor, rather than leaving it to live out its TTL',
    'derived-credentials-denied': 'End the grant with auth/token/revoke or revoke-accessor, never revoke-orphan, and keep auth/token/create-orphan out of its policies, so every child dies with its parent',
    'holder-cannot-extend': 'Set explicit_max_ttl on the token to the approval window, give it no period, and keep auth/token/create and create-orphan out of its policies',
    'no-residue': 'Revoke the task\'s token, with its children, when the task ends',
    'role-within-window': 'Set token_explicit_max_ttl on the token role to the approval window and give it no token_period, so no token of the role outlives the window',
    'role-trust-narrow': 'Bind the token role to the broker: token_bound_cidrs naming its addresses, no "*" in allowed_entity_aliases, and auth/token/create/<role> in the broker\'s policy only',
    'context-bound': "Create the task's token through a token role whose token_bound_cidrs names the workload's own addresses, so Vault refuses it from anywhere else",
  },

  async setup(ctx) {
    if (ctx.params.role !== undefined) return judgeRole(ctx, ctx.params.role);
    await setUpHolderPolicy(ctx);
    if (ctx.params.boundCidrs) await createBoundRole(ctx, ctx.params.boundCidrs);
  },

  // The JIT token and its children carry the read policy: the point of use lists them. A role's
  // token is listed by the point of use it was handed to; what its holder minted only here.
  entitlements: (ctx) => (ctx.params.role === undefined ? mintedEntitlements(ctx, term(ctx, TERMS.policy)) : mintedEntitlements(ctx)),

  async request(ctx) {
    const p = ctx.params;
    const { path, body, ttl, cap } = createCall(ctx);
    const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>('POST', path, body);
    const jit = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
    trackAccessor(ctx, jit.accessor);
    ctx.state.set(JIT, jit);
    const { grant } = await tokenGrant(ctx, jit, {
      ttlRequestedSeconds: ttl,
      handles: tokenHandles(ctx, jit, 'JIT token'),
      attributes: (info) => ({
        renewable: info.renewable,
        explicitMaxTtlSeconds: info.explicit_max_ttl,
        explicitMaxTtlAsked: cap,
        periodSeconds: info.period ?? 0,
        policies: info.policies.join(','),
        ...(p.role === undefined ? {} : { role: p.role }),
        ...(p.boundCidrs ? { boundCidrs: p.boundCidrs.join(',') } : {}),
      }),
    });
    return grant;
  },

  async afterUse(ctx, grant) {
    if (ctx.params.child) await makeChild(ctx, grant, ctx.params.child);
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    if (ctx.params.revokeAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
      return;
    }
    if (ctx.params.revokeAtEnd === 'orphan') {
      ctx.evidence.record('broken setup: the broker revokes with revoke-orphan, so children outlive the token');
      await ctx.client.api.call('POST', 'auth/token/revoke-orphan', { token: issued(ctx).token });
      return;
    }
    await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: issued(ctx).accessor });
  },

  async teardown(ctx) {
    const removed = await revokeTracked(ctx);
    await confirmUnchanged(ctx);
    const bound = ctx.state.get(BOUND_ROLE) as string | undefined;
    if (bound) {
      await ctx.client.api.call('DELETE', rolePath(bound));
      removed.push(`token role ${bound}`);
    }
    const extra = ctx.state.get(HOLDER_POLICY) as string | undefined;
    if (extra) {
      await ctx.client.api.call('DELETE', `sys/policies/acl/${extra}`);
      removed.push(`policy ${extra}`);
    }
    return removed;
  },
};

/** The task makes a child token with its JIT token; reuse must find it dead with its parent. */
async function makeChild(ctx: Ctx, grant: Grant, child: { orphan: boolean; ttlSeconds: number }): Promise<void> {
  const jit = issued(ctx);
  const path = child.orphan ? CREATE_PATHS.orphan : CREATE_PATHS.child;
  const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>(
    'POST',
    path,
    { policies: [term(ctx, TERMS.policy)], ttl: `${child.ttlSeconds}s`, display_name: `${ctx.prefix}-child` },
    jit.token,
  );
  const token = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, token.accessor);
  const info = await lookupAccessor(ctx.client.api, token.accessor);
  ctx.evidence.record(`child token made with the JIT token${info.orphan ? ' (orphan)' : ''}`, {
    accessor: token.accessor,
    orphan: info.orphan,
    ttl: info.ttl,
  });
  grant.handles.push({ name: 'child token', check: 'derived-credentials-denied', probe: (node) => ctx.pointOfUse.probe(token, node) });
}
