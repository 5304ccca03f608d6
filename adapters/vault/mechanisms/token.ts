/**
 * `token`: the broker creates a token carrying the scenario's read policy with a TTL (and, as the
 * scenario asks, an explicit max TTL, renewals during use, a child token made with it). The
 * target must deny it at its end, forget its accessor, and take its children with it.
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
import { GONE, probe } from '../probes.ts';

const params = fixtureParams.extend({
  /** TTL the broker asks for; null asks none (the mount default applies). */
  ttlSeconds: seconds.nullable(),
  /** Upper bound renewals cannot pass; null or absent sets none. */
  explicitMaxTtlSeconds: seconds.nullable().optional(),
  /** A periodic token renews forever: the classic way to make a "temporary" token permanent. */
  periodSeconds: seconds.optional(),
  /** Renewals the task attempts during use, each asking for `incrementSeconds`. */
  renew: z.strictObject({ times: z.number().int().min(1).max(10), incrementSeconds: seconds }).optional(),
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

  async setup(ctx) {
    const childPolicy = ctx.params.child
      ? ctx.params.child.orphan
        ? 'path "auth/token/create-orphan" {\n  capabilities = ["update"]\n}\n'
        : 'path "auth/token/create" {\n  capabilities = ["update"]\n}\n'
      : '';
    await createFixtures(ctx, childPolicy);
  },

  entitlements: (ctx) => tokensHolding(ctx.client.api, policyName(ctx)),

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
    if (p.explicitMaxTtlSeconds != null) body.explicit_max_ttl = `${p.explicitMaxTtlSeconds}s`;
    if (p.periodSeconds !== undefined) body.period = `${p.periodSeconds}s`;
    const answer = await ctx.client.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', body);
    const jit = { token: answer.auth.client_token, accessor: answer.auth.accessor };
    ctx.secrets.add(jit.token);
    trackAccessor(ctx, jit.accessor);
    ctx.state.set('jit', jit);
    const info = await lookupAccessor(ctx.client.api, jit.accessor);
    const handles: ReuseHandle[] = [
      { name: 'JIT token', check: 'reuse-denied', probe: () => readSecret(ctx, jit.token) },
      {
        name: 'JIT token looked up by accessor',
        check: 'credential-invalidated',
        probe: () => probe(() => lookupAccessor(ctx.client.api, jit.accessor), GONE.accessor),
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
        periodSeconds: info.period ?? 0,
        policies: info.policies.join(','),
      },
      handles,
    };
    return record;
  },

  async use(ctx, grant) {
    const jit = issued(ctx);
    const used = await readSecret(ctx, jit.token);
    if (used.outcome !== 'allowed') return used;
    if (ctx.params.renew) await renewDuringUse(ctx, grant, ctx.params.renew);
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

/** Renew as the task would and judge whether any renewal reached past the explicit maximum. */
async function renewDuringUse(ctx: Ctx, grant: GrantRecord, renew: { times: number; incrementSeconds: number }): Promise<void> {
  const jit = issued(ctx);
  const cap = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
  let furthest = grant.expiresAt ? Date.parse(grant.expiresAt) : Number.POSITIVE_INFINITY;
  for (let i = 1; i <= renew.times; i++) {
    const answer = await ctx.client.api.call<{ auth: { lease_duration: number } }>(
      'POST',
      'auth/token/renew-self',
      { increment: `${renew.incrementSeconds}s` },
      jit.token,
    );
    const info = await lookupAccessor(ctx.client.api, jit.accessor);
    const expires = info.expire_time ? Date.parse(info.expire_time) : Number.POSITIVE_INFINITY;
    furthest = Math.max(furthest, expires);
    ctx.evidence.record(`renewal ${i}: asked ${renew.incrementSeconds} s, granted ${answer.auth.lease_duration} s`, {
      expiresAt: info.expire_time,
      approvedUntil: new Date(cap).toISOString(),
    });
  }
  // Renewals within the cap legitimately move the expiry: the engine judges the end from it.
  grant.expiresAt = Number.isFinite(furthest) ? new Date(furthest).toISOString() : null;
  grant.attributes.expiresAfterRenewals = grant.expiresAt;
  const overrunMs = furthest - cap;
  ctx.report({
    check: 'renewal-capped',
    verdict: overrunMs <= 1000 ? 'pass' : 'fail',
    detail:
      overrunMs <= 1000
        ? `after ${renew.times} renewals of ${renew.incrementSeconds} s the token still ends by its approved maximum`
        : `renewals carried the token ${Number.isFinite(overrunMs) ? `${Math.round(overrunMs / 1000)} s` : 'indefinitely'} past its approved maximum of ${ctx.task.windowSeconds} s`,
  });
}

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
  const probeChild = (): Promise<ProbeResult> => readSecret(ctx, token);
  grant.handles.push({ name: 'child token', check: 'derived-credentials-denied', probe: probeChild });
}
