/**
 * `kv-secret`: the observer half every Vault grant is judged at. The resource is one KV v2 secret
 * and the ACL policy that reads it; the requester is a token holding only `default`. The privileged
 * action is reading the secret, with any Vault token, on a new connection each time (to a named
 * node when the scenario polls replicas). What reaches the resource, for residue, is every live
 * token carrying the read policy, directly or through its identity.
 *
 * With `existing:` the secret is the user's own and nothing is created (existing-secret.ts): the
 * requester's token comes from the environment, and what reaches the resource is read from the
 * tokens the point was handed, never by listing every token.
 *
 * About a token it did not see issued (a user's broker issued it) the point asks Vault with the
 * token itself (lookup-self, token-facts.ts), and lets its holder try to stretch it as any Vault
 * token's holder would (extension.ts). A scenario naming the token's context has the read tried
 * from another source address as well (`drifted`, scenarios/drift.ts).
 */
import type { Credential, PointOfUse, ProbeResult } from '../../contract.ts';
import { probe, readRefusal } from '../probes.ts';
import { tokensHolding, type VaultClient } from '../client.ts';
import { existingEntitlements, existingRequester, noRequester, rememberHanded, setUpExistingSecret, tearDownExistingSecret } from '../existing-secret.ts';
import { vaultTokenExtensions } from '../extension.ts';
import { createFixtures, type FixtureParams, fixtureParams, policyName, readSecret, removeFixtures, requesterOf, secretPath, taskSecretPath, type VaultContext } from '../fixtures.ts';
import { TERMS } from '../terms.ts';
import { tokenFacts } from '../token-facts.ts';

/** Read the secret with `credential`; a credential that is no Vault token is not a denial, it is unknown. */
function readWith(ctx: VaultContext, credential: Credential, node?: string): Promise<ProbeResult> {
  if (credential.type !== 'vault-token') {
    return Promise.resolve({ outcome: 'unknown', at: new Date().toISOString(), detail: `a ${credential.type} credential is not a Vault token` });
  }
  return readSecret(ctx, credential.token, node);
}

export const kvSecretPoint: PointOfUse<FixtureParams, VaultClient> = {
  title: 'Read a KV v2 secret with a Vault token',
  params: fixtureParams,
  accepts: ['vault-token'],
  offers: [TERMS.policy, TERMS.secretPath],
  // Its only findings are the engine's own: standing privilege and residue.
  checks: () => [],
  remediation: {
    'zero-standing-privilege':
      "Keep the secret's path out of the default policy and out of the requester's own token policies: only a grant may carry the policy that reads it",
    'no-residue': "Revoke every token that carries the secret's read policy when the task ends, children and logins included",
  },

  async setup(ctx) {
    if (ctx.params.existing) return setUpExistingSecret(ctx);
    const requester = await createFixtures(ctx);
    return {
      description: `read secret ${secretPath(ctx)}`,
      terms: { [TERMS.policy]: policyName(ctx), [TERMS.secretPath]: secretPath(ctx) },
      requester,
    };
  },

  entitlements: (ctx) => (ctx.params.existing ? existingEntitlements(ctx) : tokensHolding(ctx.client.api, policyName(ctx))),

  async probeStanding(ctx) {
    if (!ctx.params.existing) return readSecret(ctx, requesterOf(ctx).token);
    const requester = existingRequester(ctx);
    return requester ? readSecret(ctx, requester.token) : noRequester(ctx);
  },

  probe: (ctx, credential, node) => readWith(ctx, credential, node),

  // The task's use is the privileged action itself; nothing is held open across the end.
  use(ctx, credential) {
    if (credential.type === 'vault-token') rememberHanded(ctx, credential);
    return readWith(ctx, credential);
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

  teardown: (ctx) => (ctx.params.existing ? tearDownExistingSecret(ctx) : removeFixtures(ctx)),
};
