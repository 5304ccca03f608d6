/**
 * `wrapped-response`: the broker hands the task a response-wrapping token around the secret.
 * It unwraps once; the same wrapping token must never unwrap twice. The broken setup hands over
 * a plain token instead, which can be redeemed as often as one likes.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import type { GrantRecord, Mechanism, ProbeResult } from '../../contract.ts';
import type { VaultClient } from '../client.ts';
import { grantedCapabilities, lookupAccessor, tokensHolding } from '../client.ts';
import { createFixtures, fixtureParams, policyName, readSecret, removeFixtures, secretPath, tokenMeta, trackAccessor, type VaultContext } from '../fixtures.ts';
import { vaultTokenExtensions, withMinted } from '../extension.ts';
import { GONE, probe, readRefusal, saysGone } from '../probes.ts';

const params = fixtureParams.extend({
  wrapTtlSeconds: seconds,
  /** `wrapped` hands over a single-use wrapping token; `plain-token` (broken) a reusable token. */
  deliver: z.enum(['wrapped', 'plain-token']).default('wrapped'),
});
type Params = z.infer<typeof params>;
type Ctx = VaultContext<Params>;

function redeem(ctx: Ctx, handedOver: string, node?: string): Promise<ProbeResult> {
  if (ctx.params.deliver === 'plain-token') return readSecret(ctx, handedOver, node);
  return probe(() => ctx.client.api.send('POST', 'sys/wrapping/unwrap', { body: {}, token: handedOver, ...(node ? { node } : {}) }), GONE.wrapping);
}

export const wrappingMechanism: Mechanism<Params, VaultClient> = {
  title: 'Response-wrapped secret handed to the task',
  params,
  checks: () => ['reuse-denied', 'derived-credentials-denied', 'holder-cannot-extend'],

  setup: (ctx) => createFixtures(ctx),

  async entitlements(ctx) {
    const tokens = await withMinted(ctx, await tokensHolding(ctx.client.api, policyName(ctx)));
    const wrapAccessor = ctx.state.get('wrapAccessor') as string | undefined;
    if (!wrapAccessor) return tokens;
    try {
      await lookupAccessor(ctx.client.api, wrapAccessor);
      return [...tokens, `wrapping-token:${wrapAccessor}`];
    } catch (error) {
      // Gone is gone; a lookup that failed otherwise says nothing, and is reported rather than read as gone.
      if (saysGone(error, GONE.accessor)) return tokens;
      return [...tokens, `unreadable wrapping-token:${wrapAccessor} (${readRefusal(error).detail})`];
    }
  },

  probeStanding: (ctx) => readSecret(ctx, ctx.state.get('requester') as string),

  async request(ctx) {
    const api = ctx.client.api;
    let handedOver: string;
    let accessor: string;
    let credentialId: string;
    let issuedAt: string;
    let expiresAt: string | null;
    let ttl: number | null;
    if (ctx.params.deliver === 'wrapped') {
      const answer = await api.call<{ wrap_info: { token: string; accessor: string; ttl: number; creation_time: string } }>(
        'GET',
        secretPath(ctx),
        undefined,
        undefined,
        { 'X-Vault-Wrap-TTL': `${ctx.params.wrapTtlSeconds}s` },
      );
      handedOver = answer.wrap_info.token;
      accessor = answer.wrap_info.accessor;
      ctx.state.set('wrapAccessor', answer.wrap_info.accessor);
      trackAccessor(ctx, answer.wrap_info.accessor);
      credentialId = `wrapping accessor ${answer.wrap_info.accessor}`;
      issuedAt = answer.wrap_info.creation_time;
      ttl = answer.wrap_info.ttl;
      expiresAt = new Date(Date.parse(issuedAt) + ttl * 1000).toISOString();
    } else {
      const answer = await api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', {
        policies: [policyName(ctx)],
        display_name: ctx.prefix,
        meta: tokenMeta(ctx),
      });
      handedOver = answer.auth.client_token;
      accessor = answer.auth.accessor;
      trackAccessor(ctx, answer.auth.accessor);
      const info = await lookupAccessor(api, answer.auth.accessor);
      credentialId = `accessor ${answer.auth.accessor}`;
      issuedAt = info.issue_time;
      expiresAt = info.expire_time;
      ttl = info.expire_time === null ? null : info.creation_ttl;
    }
    ctx.secrets.add(handedOver);
    ctx.state.set('handedOver', handedOver);
    const record: GrantRecord = {
      credentialId,
      issuedAt,
      expiresAt,
      ttlRequestedSeconds: ctx.params.wrapTtlSeconds,
      ttlGrantedSeconds: ttl,
      scopeGranted: ctx.params.deliver === 'wrapped' ? [`read ${secretPath(ctx)}`] : await grantedCapabilities(api, [policyName(ctx)]),
      attributes: { delivery: ctx.params.deliver },
      handles: [{ name: 'handed-over credential (second redemption)', check: 'reuse-denied', probe: (node) => redeem(ctx, handedOver, node) }],
      // What the task holds is a Vault token either way (a wrapping token, or the broken plain one).
      extensions: [],
    };
    record.extensions = vaultTokenExtensions(ctx, { token: handedOver, accessor }, record);
    return record;
  },

  use: (ctx) => redeem(ctx, ctx.state.get('handedOver') as string),

  // Redeeming was the task; the target alone must make the handed-over credential worthless.
  async end() {},

  teardown: (ctx) => removeFixtures(ctx),
};
