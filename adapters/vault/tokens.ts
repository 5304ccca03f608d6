/**
 * Tokens a half creates on Vault: the metadata that marks them as jitc's (so `jitc cleanup` finds
 * them after a killed run), tracking by accessor in the half's own state, and revoking what was
 * tracked at teardown. Each half tracks and removes only what it created itself.
 */
import type { CredentialOf, GrantContext, ReuseHandle, ScenarioContext } from '../contract.ts';
import { lookupAccessor, type VaultClient } from './client.ts';
import { GONE, probe } from './probes.ts';

/** A Vault token as its holder holds it. Batch tokens have no accessor (''). */
export type VaultToken = CredentialOf<'vault-token'>;

export function tokenMeta(ctx: ScenarioContext<unknown, unknown>): Record<string, string> {
  return { jitc_run: ctx.runId, jitc_scenario: ctx.scenarioId };
}

const TRACKED = 'accessors';

/** Remember a token this half created, so its teardown revokes it. */
export function trackAccessor(ctx: ScenarioContext<unknown, unknown>, accessor: string): void {
  // A batch token has no accessor: nothing to revoke by (the grant source reports that it cannot be ended).
  if (accessor === '') return;
  ctx.state.set(TRACKED, [...((ctx.state.get(TRACKED) as string[] | undefined) ?? []), accessor]);
}

/** Revoke every token this half tracked; one already gone is not an error. Returns what was revoked. */
export async function revokeTracked(ctx: ScenarioContext<unknown, VaultClient>): Promise<string[]> {
  const removed: string[] = [];
  for (const accessor of (ctx.state.get(TRACKED) as string[] | undefined) ?? []) {
    try {
      await ctx.client.api.call('POST', 'auth/token/revoke-accessor', { accessor });
      removed.push(`token ${accessor}`);
    } catch {
      // Already expired or revoked: nothing left to remove.
    }
  }
  return removed;
}

/** A granted token's reuse handles: the token itself at the point of use, and its accessor at Vault's own lookup. */
export function tokenHandles(ctx: GrantContext<unknown, VaultClient>, token: VaultToken, name: string): ReuseHandle[] {
  return [
    { name, check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(token, node) },
    {
      name: `${name} looked up by accessor`,
      check: 'credential-invalidated',
      probe: (node) => probe(() => lookupAccessor(ctx.client.api, token.accessor, { fresh: true, ...(node ? { node } : {}) }), GONE.accessor),
    },
  ];
}
