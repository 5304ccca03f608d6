/**
 * `kv-secret`: the observer half every Vault grant is judged at. The resource is one KV v2 secret
 * and the ACL policy that reads it; the requester is a token holding only `default`. The privileged
 * action is reading the secret, with any Vault token, on a new connection each time (to a named
 * node when the scenario polls replicas). What reaches the resource, for residue, is every live
 * token carrying the read policy, directly or through its identity.
 */
import type { Credential, PointOfUse, ProbeResult } from '../../contract.ts';
import { tokensHolding, type VaultClient } from '../client.ts';
import { createFixtures, type FixtureParams, fixtureParams, policyName, readSecret, removeFixtures, requesterOf, secretPath, type VaultContext } from '../fixtures.ts';
import { TERMS } from '../terms.ts';

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
    const requester = await createFixtures(ctx);
    return {
      description: `read secret ${secretPath(ctx)}`,
      terms: { [TERMS.policy]: policyName(ctx), [TERMS.secretPath]: secretPath(ctx) },
      requester,
    };
  },

  entitlements: (ctx) => tokensHolding(ctx.client.api, policyName(ctx)),

  probeStanding: (ctx) => readSecret(ctx, requesterOf(ctx).token),

  probe: (ctx, credential, node) => readWith(ctx, credential, node),

  // The task's use is the privileged action itself; nothing is held open across the end.
  use: (ctx, credential) => readWith(ctx, credential),

  teardown: (ctx) => removeFixtures(ctx),
};
