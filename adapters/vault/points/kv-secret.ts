/**
 * `kv-secret`: the observer half every Vault grant is judged at. The resource is one KV v2 secret
 * and the ACL policy that reads it; the requester is a token holding only `default`. The privileged
 * action is reading the secret, with any Vault token, on a new connection each time (to a named
 * node when the scenario polls replicas). What reaches the resource, for residue, is read from the
 * grant's lineage, never by listing every token (audit-trail.ts): the tokens the point was handed
 * and what they led to in the target's audit log, each live one carrying the read policy, directly
 * or through its identity. Where the target's audit log is readable the grant's token must show
 * its issue, use and end there (`audit-trail`); where it is not, that check is not evidenced.
 *
 * With `existing:` the secret is the user's own and nothing is created (existing-secret.ts): the
 * requester's token comes from the environment, and what reaches the resource is read the same
 * way, without a policy to filter by.
 *
 * About a token it did not see issued (a user's broker issued it) the point asks Vault with the
 * token itself (lookup-self, token-facts.ts), and lets its holder try to stretch it as any Vault
 * token's holder would (extension.ts). A scenario naming the token's context has the read tried
 * from another source address as well (`drifted`, scenarios/drift.ts).
 */
import type { Credential, PointOfUse, ProbeResult } from '../../contract.ts';
import { z } from 'zod';
import { probe, readRefusal } from '../probes.ts';
import type { VaultClient } from '../client.ts';
import { closeTrail, judgeAuditTrail, openTrail, reachingTokens, recordResidueSearch, rememberGrant, rememberGrantWorked, rememberHanded } from '../audit-trail.ts';
import { existingEntitlements, existingRequester, noRequester, setUpExistingSecret, tearDownExistingSecret } from '../existing-secret.ts';
import { vaultTokenExtensions } from '../extension.ts';
import { createFixtures, fixtureParams, policyName, readSecret, removeFixtures, requesterOf, secretPath, taskSecretPath, type VaultContext } from '../fixtures.ts';
import { TERMS } from '../terms.ts';
import { tokenFacts } from '../token-facts.ts';

const params = fixtureParams.extend({
  /**
   * Judge the trail of another audit device of the target than the one its connection names (a
   * device a broken deployment keeps that records nothing): its log is where the target says it writes.
   */
  auditDevice: z.string().min(1).optional(),
});
type KvParams = z.infer<typeof params>;

/**
 * Read the secret with `credential`; a credential that is no Vault token is not a denial, it is
 * unknown. Every token read with is remembered: what reaches the resource is read from them.
 */
function readWith(ctx: VaultContext, credential: Credential, node?: string): Promise<ProbeResult> {
  if (credential.type !== 'vault-token') {
    return Promise.resolve({ outcome: 'unknown', at: new Date().toISOString(), detail: `a ${credential.type} credential is not a Vault token` });
  }
  rememberHanded(ctx, credential);
  return readSecret(ctx, credential.token, node);
}

export const kvSecretPoint: PointOfUse<KvParams, VaultClient> = {
  title: 'Read a KV v2 secret with a Vault token',
  params,
  accepts: ['vault-token'],
  offers: [TERMS.policy, TERMS.secretPath],
  // Beside the engine's own: the target's audit trail, emitted wherever the target has a readable one.
  checks: () => ['audit-trail'],
  remediation: {
    'zero-standing-privilege':
      "Keep the secret's path out of the default policy and out of the requester's own token policies: only a grant may carry the policy that reads it",
    'no-residue': "Revoke every token that carries the secret's read policy when the task ends, children and logins included",
    'audit-trail':
      'Declare a file audit device that records every request (no file_path = discard), keep its log readable by the reviewer (vault.auditLog), and end grants with a revoke call naming the token (revoke-accessor), so issue, use and end each leave a record',
  },

  async setup(ctx) {
    // Before anything is created: the log is read from here on, and the scenario's own tokens are in what follows.
    await openTrail(ctx, ctx.params.auditDevice);
    if (ctx.params.existing) return setUpExistingSecret(ctx);
    const requester = await createFixtures(ctx);
    return {
      description: `read secret ${secretPath(ctx)}`,
      terms: { [TERMS.policy]: policyName(ctx), [TERMS.secretPath]: secretPath(ctx) },
      requester,
    };
  },

  entitlements: (ctx) => (ctx.params.existing ? existingEntitlements(ctx) : reachingTokens(ctx, policyName(ctx))),

  async probeStanding(ctx) {
    if (!ctx.params.existing) return readSecret(ctx, requesterOf(ctx).token);
    const requester = existingRequester(ctx);
    return requester ? readSecret(ctx, requester.token) : noRequester(ctx);
  },

  probe: (ctx, credential, node) => readWith(ctx, credential, node),

  // The task's use is the privileged action itself; nothing is held open across the end.
  async use(ctx, credential) {
    if (credential.type === 'vault-token') rememberGrant(ctx, credential);
    const used = await readWith(ctx, credential);
    if (used.outcome === 'allowed') rememberGrantWorked(ctx);
    return used;
  },

  async inspect(ctx, credential) {
    if (credential.type !== 'vault-token') return undefined;
    let answer: unknown;
    try {
      // The token asks about itself, on a connection of its own: no admin token beside it.
      answer = await ctx.client.api.send('GET', 'auth/token/lookup-self', { token: credential.token });
    } catch (error) {
      throw new Error(`lookup-self with the token (accessor ${credential.accessor || 'none'}) did not answer with the token's data: ${readRefusal(error).detail}`);
    }
    return tokenFacts(answer, credential.accessor);
  },

  extensions(ctx, credential, grant) {
    if (credential.type !== 'vault-token') return [];
    // What the holder mints is probed here, at this point of use, like the grant itself.
    return vaultTokenExtensions({ ...ctx, pointOfUse: { probe: (minted, node) => readWith(ctx, minted, node) } }, credential, grant);
  },

  // The same read from another source address: a token bound to CIDRs (a role's token_bound_cidrs)
  // is refused there with Vault's own 403 permission denied, and only that counts (probes.ts).
  drifted(ctx, credential, from) {
    if (credential.type !== 'vault-token') return [];
    return [{ name: 'read the secret with the token', context: from, attempt: () => probe(() => ctx.client.api.send('GET', taskSecretPath(ctx), { token: credential.token, localAddress: from })) }];
  },

  async teardown(ctx) {
    recordResidueSearch(ctx);
    try {
      await judgeAuditTrail(ctx);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the audit log could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    } finally {
      closeTrail(ctx);
    }
    return ctx.params.existing ? tearDownExistingSecret(ctx) : removeFixtures(ctx);
  },
};
