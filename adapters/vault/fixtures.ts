/**
 * What the `kv-secret` point of use sets up before any grant: a secret only a grant may read, a
 * policy that reads it, and a requester identity holding just the `default` policy — or, as a
 * broken setup asks, standing privilege beside the grant. All of it is named with the scenario
 * prefix and tracked, so teardown removes exactly what this half created.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { envName } from '../param-fields.ts';
import { bornCredential, type ProbeResult, type ScenarioContext } from '../contract.ts';
import type { VaultApi } from './api.ts';
import type { VaultClient } from './client.ts';
import { probe } from './probes.ts';
import { revokeTracked, tokenMeta, trackAccessor, type VaultToken } from './tokens.ts';

/**
 * The point of use's parameters: broken setups of the resource and the requester, for
 * non-conformant twins; or an existing secret of the user's, which nothing is created beside.
 */
export const fixtureParams = z
  .strictObject({
    /** Broken setup: the `default` policy every token carries grants the secret (standing privilege). */
    defaultPolicyReadsSecret: z.boolean().default(false),
    /**
     * Broken setup: the requester's own token already carries the scenario's read policy — standing
     * privilege by a second path, beside the grant, that no change to `default` would show.
     */
    requesterHoldsReadPolicy: z.boolean().default(false),
    /** An existing KV v2 secret the task reads (existing-secret.ts): no fixture is created. */
    existing: z
      .strictObject({
        /** The secret's KV v2 data path: `secret/data/app/db`. */
        secretPath: z.string().regex(/^[^/\s]+(\/[^/\s]+)*\/data\/[^\s]+$/, 'a KV v2 data path such as secret/data/app/db'),
        /** The variable holding the requester's own token, for the standing probe; absent: that probe is inconclusive. */
        requesterTokenEnv: envName.optional(),
      })
      .optional(),
  })
  .superRefine((p, issue) => {
    if (!p.existing) return;
    for (const key of ['defaultPolicyReadsSecret', 'requesterHoldsReadPolicy'] as const) {
      if (p[key]) issue.addIssue({ code: 'custom', path: [key], message: 'not with existing: a broken setup changes the target, and nothing is created beside an existing secret' });
    }
  });
export type FixtureParams = z.infer<typeof fixtureParams>;

export type VaultContext<P = FixtureParams> = ScenarioContext<P, VaultClient>;

export const secretPath = (ctx: VaultContext<unknown>): string => `${ctx.client.kvMount}/data/jitc/${ctx.prefix}`;
export const policyName = (ctx: VaultContext<unknown>): string => `${ctx.prefix}-read`;
const metadataPath = (ctx: VaultContext<unknown>): string => `${ctx.client.kvMount}/metadata/jitc/${ctx.prefix}`;

const REQUESTER = 'requester';

/** Create the secret, its read policy and the requester; returns the requester's own credential. */
export async function createFixtures(ctx: VaultContext): Promise<VaultToken> {
  const api = ctx.client.api;
  const value = randomBytes(16).toString('hex');
  ctx.secrets.add(value);
  await api.call('POST', secretPath(ctx), { data: { value } });
  await api.call('PUT', `sys/policies/acl/${policyName(ctx)}`, { policy: `path "${secretPath(ctx)}" {\n  capabilities = ["read"]\n}\n` });
  ctx.evidence.record('fixtures created', { secret: secretPath(ctx), policy: policyName(ctx) });
  if (ctx.params.defaultPolicyReadsSecret) await grantDefaultPolicy(ctx);
  // The requester: who asks for the grant. It lives as long as the scenario could, no longer.
  const ttl = Math.ceil(ctx.task.windowSeconds + 120);
  const answer = await api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', {
    policies: ctx.params.requesterHoldsReadPolicy ? ['default', policyName(ctx)] : ['default'],
    ttl: `${ttl}s`,
    display_name: `${ctx.prefix}-requester`,
    meta: { ...tokenMeta(ctx), jitc_role: 'requester' },
  });
  const requester = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  trackAccessor(ctx, requester.accessor);
  ctx.state.set(REQUESTER, requester);
  ctx.evidence.record(
    ctx.params.requesterHoldsReadPolicy ? 'broken setup: requester identity created holding the read policy itself' : 'requester identity created with the default policy only',
    { accessor: requester.accessor },
  );
  return requester;
}

/** The requester's own token, made by {@link createFixtures}. */
export function requesterOf(ctx: VaultContext): VaultToken {
  const requester = ctx.state.get(REQUESTER) as VaultToken | undefined;
  if (!requester) throw new Error('the kv-secret point of use has no requester: setup did not run');
  return requester;
}

const marker = (ctx: VaultContext, edge: 'begin' | 'end'): string => `# ${ctx.prefix} ${edge}`;

async function grantDefaultPolicy(ctx: VaultContext): Promise<void> {
  const api = ctx.client.api;
  const current = await api.call<{ data: { policy: string } }>('GET', 'sys/policies/acl/default');
  const block = `\n${marker(ctx, 'begin')}\npath "${secretPath(ctx)}" {\n  capabilities = ["read"]\n}\n${marker(ctx, 'end')}\n`;
  await api.call('PUT', 'sys/policies/acl/default', { policy: current.data.policy + block });
  ctx.state.set('defaultPolicyEdited', true);
  ctx.evidence.record('broken setup: default policy grants the secret');
}

/** Remove every block a jitc run (or this run only) appended to the default policy. */
export async function restoreDefaultPolicy(api: VaultApi, prefixPattern: string): Promise<boolean> {
  const current = await api.call<{ data: { policy: string } }>('GET', 'sys/policies/acl/default');
  const block = new RegExp(`\\n# (${prefixPattern}) begin\\n[\\s\\S]*?\\n# \\1 end\\n`, 'g');
  const cleaned = current.data.policy.replace(block, '');
  if (cleaned === current.data.policy) return false;
  await api.call('PUT', 'sys/policies/acl/default', { policy: cleaned });
  return true;
}

/** The secret the task reads: the user's existing one, or the scenario's own. */
export const taskSecretPath = (ctx: VaultContext): string => ctx.params.existing?.secretPath ?? secretPath(ctx);

/** The privileged action: read the task's secret with a token, on a new connection (to `node` when given). */
export function readSecret(ctx: VaultContext, token: string, node?: string): Promise<ProbeResult> {
  return probe(() => ctx.client.api.send('GET', taskSecretPath(ctx), { token, ...(node ? { node } : {}) }));
}

export async function removeFixtures(ctx: VaultContext): Promise<string[]> {
  const api = ctx.client.api;
  const removed = await revokeTracked(ctx);
  if (ctx.state.get('defaultPolicyEdited') && (await restoreDefaultPolicy(api, escapeRegExp(ctx.prefix)))) {
    removed.push('default policy block');
  }
  await api.call('DELETE', `sys/policies/acl/${policyName(ctx)}`);
  removed.push(`policy ${policyName(ctx)}`);
  await api.call('DELETE', metadataPath(ctx));
  removed.push(`secret ${secretPath(ctx)}`);
  return removed;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
