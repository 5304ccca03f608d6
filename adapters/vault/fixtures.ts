/**
 * What every Vault scenario needs before its grant: a secret only the grant may read, a policy
 * that reads it, and a requester identity holding just the `default` policy. All of it is named
 * with the scenario prefix and tracked so teardown removes exactly what this scenario created.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ProbeResult, ScenarioContext } from '../contract.ts';
import type { VaultApi } from './api.ts';
import { probe } from './probes.ts';
import type { VaultClient } from './client.ts';

/** Parameters every Vault mechanism accepts, for its non-conformant twins. */
export const fixtureParams = z.strictObject({
  /** Broken setup: the `default` policy every token carries grants the secret (standing privilege). */
  defaultPolicyReadsSecret: z.boolean().default(false),
  /**
   * Broken setup: the requester's own token already carries the scenario's read policy — standing
   * privilege by a second path, beside the grant, that no change to `default` would show.
   */
  requesterHoldsReadPolicy: z.boolean().default(false),
});
export type FixtureParams = z.infer<typeof fixtureParams>;

export type VaultContext<P extends FixtureParams = FixtureParams> = ScenarioContext<P, VaultClient>;

export const secretPath = (ctx: VaultContext): string => `${ctx.client.kvMount}/data/jitc/${ctx.prefix}`;
export const policyName = (ctx: VaultContext): string => `${ctx.prefix}-read`;
const metadataPath = (ctx: VaultContext): string => `${ctx.client.kvMount}/metadata/jitc/${ctx.prefix}`;

export function tokenMeta(ctx: VaultContext): Record<string, string> {
  return { jitc_run: ctx.runId, jitc_scenario: ctx.scenarioId };
}

/** Accessors of every token this scenario created, so teardown can revoke them. */
export function trackAccessor(ctx: VaultContext, accessor: string): void {
  // A batch token has no accessor: nothing to revoke by (the mechanism reports that it cannot be ended).
  if (accessor === '') return;
  const list = (ctx.state.get('accessors') as string[] | undefined) ?? [];
  list.push(accessor);
  ctx.state.set('accessors', list);
}

export function policyHcl(ctx: VaultContext, extra = ''): string {
  return `path "${secretPath(ctx)}" {\n  capabilities = ["read"]\n}\n${extra}`;
}

export async function createFixtures(ctx: VaultContext, extraPolicy = ''): Promise<void> {
  const api = ctx.client.api;
  const value = randomBytes(16).toString('hex');
  ctx.secrets.add(value);
  await api.call('POST', secretPath(ctx), { data: { value } });
  await api.call('PUT', `sys/policies/acl/${policyName(ctx)}`, { policy: policyHcl(ctx, extraPolicy) });
  ctx.evidence.record('fixtures created', { secret: secretPath(ctx), policy: policyName(ctx) });
  if (ctx.params.defaultPolicyReadsSecret) await grantDefaultPolicy(ctx);
  // The requester: who asks for the grant. It lives as long as the scenario could, no longer.
  const ttl = Math.ceil(ctx.task.windowSeconds + 120);
  const requester = await api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', {
    policies: ctx.params.requesterHoldsReadPolicy ? ['default', policyName(ctx)] : ['default'],
    ttl: `${ttl}s`,
    display_name: `${ctx.prefix}-requester`,
    meta: { ...tokenMeta(ctx), jitc_role: 'requester' },
  });
  ctx.secrets.add(requester.auth.client_token);
  trackAccessor(ctx, requester.auth.accessor);
  ctx.state.set('requester', requester.auth.client_token);
  ctx.evidence.record(
    ctx.params.requesterHoldsReadPolicy ? 'broken setup: requester identity created holding the read policy itself' : 'requester identity created with the default policy only',
    { accessor: requester.auth.accessor },
  );
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

/** The privileged action: read the scenario's secret with a token, on a new connection (to `node` when given). */
export function readSecret(ctx: VaultContext, token: string, node?: string): Promise<ProbeResult> {
  return probe(() => ctx.client.api.send('GET', secretPath(ctx), { token, ...(node ? { node } : {}) }));
}

export async function removeFixtures(ctx: VaultContext): Promise<string[]> {
  const api = ctx.client.api;
  const removed: string[] = [];
  for (const accessor of (ctx.state.get('accessors') as string[] | undefined) ?? []) {
    try {
      await api.call('POST', 'auth/token/revoke-accessor', { accessor });
      removed.push(`token ${accessor}`);
    } catch {
      // Already expired or revoked: nothing left to remove.
    }
  }
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
