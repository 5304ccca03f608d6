/**
 * `token`: the broker creates a token carrying the scenario's read policy with a TTL, capped at the
 * approval window by an explicit max TTL (and, as the scenario asks, a child token made with it).
 * The target must deny it at its end, forget its accessor, take its children with it, and let the
 * holder stretch it no further than the window (extension.ts).
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import type { GrantRecord, Mechanism, ProbeResult, ReuseHandle } from '../../contract.ts';
import type { VaultClient } from '../client.ts';
import { grantedCapabilities, lookupAccessor, tokensHolding } from '../client.ts';
import {
  createFixtures,
  fixtureParams,
  policyName,
  readSecret,
  removeFixtures,
  tokenMeta,
  trackAccessor,
  type VaultContext,
} from '../fixtures.ts';
import { vaultTokenExtensions, withMinted } from '../extension.ts';
import { GONE, probe } from '../probes.ts';

const params = fixtureParams.extend({
  /** TTL the broker asks for; null asks none (the mount default applies). */
  ttlSeconds: seconds.nullable(),
  /**
   * Upper bound no renewal can pass. Absent: the approval window, as a broker must cap a renewable
   * token; null (broken) sets none, so the holder renews up to the mount's max TTL (768 h by default).
   */
  explicitMaxTtlSeconds: seconds.nullable().optional(),
  /** A periodic token renews forever: the classic way to make a "temporary" token permanent. */
  periodSeconds: seconds.optional(),
  /**
   * Broken setup: the grant's policy also lets its holder create tokens — children
   * (auth/token/create) or orphans (auth/token/create-orphan) — which the task does not need.
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
});
type TokenParams = z.infer<typeof params>;
type Ctx = VaultContext<TokenParams>;

interface Issued {
  token: string;
  accessor: string;
}

function issued(ctx: Ctx): Issued {
  return ctx.state.get('jit') as Issued;
}

export const tokenMechanism: Mechanism<TokenParams, VaultClient> = {
  title: 'Token with a TTL created by the broker',
  params,

  checks: () => ['reuse-denied', 'credential-invalidated', 'derived-credentials-denied', 'holder-cannot-extend'],

  async setup(ctx) {
    const may = new Set(ctx.params.holderMayCreate);
    if (ctx.params.child) may.add(ctx.params.child.orphan ? 'orphan' : 'child');
    const paths = { child: 'auth/token/create', orphan: 'auth/token/create-orphan' } as const;
    await createFixtures(ctx, [...may].map((kind) => `path "${paths[kind]}" {\n  capabilities = ["update"]\n}\n`).join(''));
    if (ctx.params.holderMayCreate.length > 0) {
      ctx.evidence.record('broken setup: the grant\'s policy lets its holder create tokens', { may: ctx.params.holderMayCreate.map((kind) => paths[kind]) });
    }
  },

  entitlements: async (ctx) => withMinted(ctx, await tokensHolding(ctx.client.api, policyName(ctx))),

  probeStanding: (ctx) => readSecret(ctx, ctx.state.get('requester') as string),

  async request(ctx) {
    const p = ctx.params;
    const body: Record<string, unknown> = {
      policies: [policyName(ctx)],
      display_name: ctx.prefix,
      meta: { ...tokenMeta(ctx), jitc_task: ctx.task.id, jitc_approver: ctx.task.approver },
      renewable: true,
    };
    if (p.ttlSeconds !== null) body.ttl = `${p.ttlSeconds}s`;
    const cap = p.explicitMaxTtlSeconds === undefined ? ctx.task.windowSeconds : p.explicitMaxTtlSeconds;
    if (cap !== null) body.explicit_max_ttl = `${cap}s`;
    if (p.periodSeconds !== undefined) body.period = `${p.periodSeconds}s`;
    const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', body);
    const jit = { token: answer.auth.client_token, accessor: answer.auth.accessor };
    ctx.secrets.add(jit.token);
    trackAccessor(ctx, jit.accessor);
    ctx.state.set('jit', jit);
    const info = await lookupAccessor(ctx.client.api, jit.accessor);
    const handles: ReuseHandle[] = [
      { name: 'JIT token', check: 'reuse-denied', probe: (node) => readSecret(ctx, jit.token, node) },
      {
        name: 'JIT token looked up by accessor',
        check: 'credential-invalidated',
        probe: (node) => probe(() => lookupAccessor(ctx.client.api, jit.accessor, { fresh: true, ...(node ? { node } : {}) }), GONE.accessor),
      },
    ];
    const record: GrantRecord = {
      credentialId: `accessor ${jit.accessor}`,
      issuedAt: info.issue_time,
      expiresAt: info.expire_time,
      ttlRequestedSeconds: p.ttlSeconds,
      ttlGrantedSeconds: info.expire_time === null ? null : info.creation_ttl,
      scopeGranted: await grantedCapabilities(ctx.client.api, info.policies),
      attributes: {
        renewable: info.renewable,
        explicitMaxTtlSeconds: info.explicit_max_ttl,
        explicitMaxTtlAsked: cap,
        periodSeconds: info.period ?? 0,
        policies: info.policies.join(','),
      },
      handles,
      extensions: [],
    };
    record.extensions = vaultTokenExtensions(ctx, jit, record);
    return record;
  },

  async use(ctx, grant) {
    const jit = issued(ctx);
    const used = await readSecret(ctx, jit.token);
    if (used.outcome !== 'allowed') return used;
    if (ctx.params.child) await makeChild(ctx, grant, ctx.params.child);
    return used;
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

  teardown: (ctx) => removeFixtures(ctx),
};

/** The task makes a child token with its JIT token; reuse must find it dead with its parent. */
async function makeChild(ctx: Ctx, grant: GrantRecord, child: { orphan: boolean; ttlSeconds: number }): Promise<void> {
  const jit = issued(ctx);
  const path = child.orphan ? 'auth/token/create-orphan' : 'auth/token/create';
  const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>(
    'POST',
    path,
    { policies: [policyName(ctx)], ttl: `${child.ttlSeconds}s`, display_name: `${ctx.prefix}-child` },
    jit.token,
  );
  const token = answer.auth.client_token;
  ctx.secrets.add(token);
  trackAccessor(ctx, answer.auth.accessor);
  const info = await lookupAccessor(ctx.client.api, answer.auth.accessor);
  ctx.evidence.record(`child token made with the JIT token${info.orphan ? ' (orphan)' : ''}`, {
    accessor: answer.auth.accessor,
    orphan: info.orphan,
    ttl: info.ttl,
  });
  const probeChild = (node?: string): Promise<ProbeResult> => readSecret(ctx, token, node);
  grant.handles.push({ name: 'child token', check: 'derived-credentials-denied', probe: probeChild });
}
