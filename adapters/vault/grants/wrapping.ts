/**
 * `wrapped-response`: the broker hands the task a response-wrapping token around a token carrying
 * the resource's read policy. The task unwraps it once and uses what it unwrapped at the point of
 * use; the same wrapping token must never unwrap twice (tried at Vault's unwrap endpoint, where it
 * is redeemed). When the task ends it revokes the token it unwrapped, its own session. The broken
 * setup hands over a plain token instead, which can be redeemed — used — as often as one likes.
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantSource } from '../../contract.ts';
import { grantedCapabilities, lookupAccessor, type VaultClient } from '../client.ts';
import { mintedEntitlements, vaultTokenExtensions, type VaultGrantContext } from '../extension.ts';
import { GONE, probe, readRefusal, saysGone } from '../probes.ts';
import { TERMS, term } from '../terms.ts';
import { tokenGrant } from '../token-grant.ts';
import { revokeTracked, tokenMeta, trackAccessor, type VaultToken } from '../tokens.ts';

const params = z.strictObject({
  wrapTtlSeconds: seconds,
  /** `wrapped` hands over a single-use wrapping token; `plain-token` (broken) a reusable token. */
  deliver: z.enum(['wrapped', 'plain-token']).default('wrapped'),
});
type Params = z.infer<typeof params>;
type Ctx = VaultGrantContext<Params>;

const WRAP_ACCESSOR = 'wrapAccessor';
const UNWRAPPED = 'unwrapped';

/** Redeem a wrapping token (the task's one unwrap, or a reuse attempt), on a new connection (to `node` when given). */
function unwrap(ctx: Ctx, wrapping: VaultToken, node?: string): Promise<{ auth: { client_token: string; accessor: string } }> {
  return ctx.client.api.send('POST', 'sys/wrapping/unwrap', { body: {}, token: wrapping.token, ...(node ? { node } : {}) });
}

/** The token the task's grant carries, created by the broker; wrapped or handed over as it is. */
function tokenBody(ctx: Ctx): Record<string, unknown> {
  const body: Record<string, unknown> = { policies: [term(ctx, TERMS.policy)], display_name: ctx.prefix, meta: tokenMeta(ctx) };
  // A wrapped token lives no longer than the window; the broken plain token is handed over with the mount's defaults.
  if (ctx.params.deliver === 'wrapped') Object.assign(body, { ttl: `${ctx.task.windowSeconds}s`, explicit_max_ttl: `${ctx.task.windowSeconds}s` });
  return body;
}

async function wrapped(ctx: Ctx): Promise<Grant> {
  const api = ctx.client.api;
  const answer = await api.call<{ wrap_info: { token: string; accessor: string; ttl: number; creation_time: string } }>('POST', 'auth/token/create', tokenBody(ctx), undefined, {
    'X-Vault-Wrap-TTL': `${ctx.params.wrapTtlSeconds}s`,
  });
  const wrapping = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.wrap_info.token, accessor: answer.wrap_info.accessor });
  ctx.state.set(WRAP_ACCESSOR, wrapping.accessor);
  trackAccessor(ctx, wrapping.accessor);
  // The task redeems the wrapping token once; the token inside is what it uses, and ends, itself.
  let inner: VaultToken | undefined;
  const redeemed = await probe(async () => {
    const unwrapped = await unwrap(ctx, wrapping);
    inner = bornCredential(ctx.secrets, { type: 'vault-token', token: unwrapped.auth.client_token, accessor: unwrapped.auth.accessor });
  }, GONE.wrapping);
  if (!inner) throw new Error(`the task could not unwrap its wrapping token (${redeemed.outcome}: ${redeemed.detail})`);
  trackAccessor(ctx, inner.accessor);
  ctx.state.set(UNWRAPPED, inner);
  ctx.evidence.record('unwrapped the response: the task holds the token inside', { wrappingAccessor: wrapping.accessor, tokenAccessor: inner.accessor });
  const issuedAt = answer.wrap_info.creation_time;
  const ttl = answer.wrap_info.ttl;
  return {
    credentialId: `wrapping accessor ${wrapping.accessor}`,
    issuedAt,
    expiresAt: new Date(Date.parse(issuedAt) + ttl * 1000).toISOString(),
    ttlRequestedSeconds: ctx.params.wrapTtlSeconds,
    ttlGrantedSeconds: ttl,
    scopeGranted: await grantedCapabilities(api, [term(ctx, TERMS.policy)]),
    attributes: { delivery: 'wrapped' },
    handles: [{ name: 'handed-over credential (second redemption)', check: 'reuse-denied', probe: (node) => probe(() => unwrap(ctx, wrapping, node), GONE.wrapping) }],
    // The wrapping token is spent by the unwrap; what the holder could stretch is the token it unwrapped.
    extensions: vaultTokenExtensions(ctx, inner),
    credential: inner,
  };
}

async function plain(ctx: Ctx): Promise<Grant> {
  const api = ctx.client.api;
  const answer = await api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', tokenBody(ctx));
  const token = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, token.accessor);
  const { grant } = await tokenGrant(ctx, token, {
    ttlRequestedSeconds: ctx.params.wrapTtlSeconds,
    scopePolicies: [term(ctx, TERMS.policy)],
    attributes: () => ({ delivery: 'plain-token' }),
    // Redeeming a plain token is using it: a second redemption is a second use at the point of use.
    handles: [{ name: 'handed-over credential (second redemption)', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(token, node) }],
  });
  return grant;
}

export const wrappingSource: GrantSource<Params, VaultClient> = {
  title: 'Response-wrapped token handed to the task',
  params,
  issues: ['vault-token'],
  needs: [TERMS.policy],
  checks: () => ['reuse-denied', 'derived-credentials-denied', 'holder-cannot-extend'],
  remediation: {
    'ttl-bounded': 'Ask for a wrap TTL (X-Vault-Wrap-TTL) no longer than the approval window',
    'reuse-denied': 'Hand the task a response-wrapped token, which unwraps once, never a plain token it can use again',
    'derived-credentials-denied': 'Keep auth/token/create and create-orphan out of the policies of the token handed over, so its holder mints nothing',
    'holder-cannot-extend': 'Create the handed-over token with explicit_max_ttl no longer than the approval window and without token-creation rights',
    'no-residue': 'Hand over a response-wrapped token and revoke the token it unwrapped when the task ends',
  },

  // Nothing to prepare: the broker wraps a token carrying the resource's own read policy.
  async setup() {},

  /** A wrapping token Vault still knows, and what the holder minted; the unwrapped token carries the read policy, so the point of use lists it. */
  async entitlements(ctx) {
    const minted = await mintedEntitlements(ctx, term(ctx, TERMS.policy));
    const wrapAccessor = ctx.state.get(WRAP_ACCESSOR) as string | undefined;
    if (!wrapAccessor) return minted;
    try {
      await lookupAccessor(ctx.client.api, wrapAccessor);
      return [...minted, `wrapping-token:${wrapAccessor}`];
    } catch (error) {
      // Gone is gone; a lookup that failed otherwise says nothing, and is reported rather than read as gone.
      if (saysGone(error, GONE.accessor)) return minted;
      return [...minted, `unreadable wrapping-token:${wrapAccessor} (${readRefusal(error).detail})`];
    }
  },

  request: (ctx) => (ctx.params.deliver === 'wrapped' ? wrapped(ctx) : plain(ctx)),

  async end(ctx, _grant, mode) {
    // The task logs out of what it unwrapped; the handed-over credential is left to the target, whose job it is to refuse it again.
    const inner = ctx.state.get(UNWRAPPED) as VaultToken | undefined;
    if (inner && mode !== 'expire') await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor: inner.accessor });
  },

  teardown: (ctx) => revokeTracked(ctx),
};
