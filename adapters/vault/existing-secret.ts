/**
 * The `kv-secret` point of use over a secret of the user's own (`existing:`): nothing is created.
 * The secret's metadata is read before and after (existing.ts) — never its value — the requester's
 * own token comes from the variable the scenario names, and what reaches the resource is read from
 * the grant, never by listing every token: the tokens the point was handed for the task and what
 * they led to (audit-trail.ts), and what their holders minted with them here, while Vault still knows them.
 */
import type { ProbeResult, Resource } from '../contract.ts';
import { bornCredential } from '../contract.ts';
import { reachingTokens } from './audit-trail.ts';
import { confirmUnchanged, useExisting } from '../existing-objects.ts';
import { readObject } from './existing.ts';
import { mintedEntitlements } from './extension.ts';
import type { VaultContext } from './fixtures.ts';
import { readRefusal } from './probes.ts';
import { TERMS } from './terms.ts';
import { revokeTracked, type VaultToken } from './tokens.ts';

type Existing = NonNullable<VaultContext['params']['existing']>;

const REQUESTER = 'existingRequester';

function existingOf(ctx: VaultContext): Existing {
  const existing = ctx.params.existing;
  if (!existing) throw new Error('the kv-secret point of use names no existing secret');
  return existing;
}

/** `secret/data/app/db` → `secret/metadata/app/db`: what Vault keeps about the secret, without its value. */
export function metadataPathOf(dataPath: string): string {
  return dataPath.replace('/data/', '/metadata/');
}

/** Only what says whether the secret was written: versions and times, no custom metadata. */
async function secretMetadata(ctx: VaultContext, path: string): Promise<Record<string, unknown>> {
  const m = await readObject(ctx.client.api, metadataPathOf(path), `secret ${path}`);
  const { current_version, oldest_version, created_time, updated_time, max_versions, cas_required, delete_version_after } = m;
  return { current_version, oldest_version, created_time, updated_time, max_versions, cas_required, delete_version_after };
}

/** The requester's own token from the variable named, born as a credential before anything can record it. */
async function requesterFromEnv(ctx: VaultContext, variable: string): Promise<VaultToken | undefined> {
  const token = process.env[variable];
  if (!token) {
    ctx.evidence.record(`the variable ${variable} named by requesterTokenEnv is empty or unset: no requester credential`);
    return undefined;
  }
  ctx.secrets.add(token);
  let accessor = '';
  try {
    const self = await ctx.client.api.send<{ data: { accessor?: string } }>('GET', 'auth/token/lookup-self', { token });
    accessor = self.data.accessor ?? '';
  } catch (error) {
    ctx.evidence.record(`the requester's own token (from ${variable}) could not look itself up: ${readRefusal(error).detail}`);
  }
  return bornCredential(ctx.secrets, { type: 'vault-token', token, accessor });
}

export async function setUpExistingSecret(ctx: VaultContext): Promise<Resource> {
  const existing = existingOf(ctx);
  await useExisting(ctx, `secret ${existing.secretPath}`, () => secretMetadata(ctx, existing.secretPath));
  const requester = existing.requesterTokenEnv ? await requesterFromEnv(ctx, existing.requesterTokenEnv) : undefined;
  if (requester) {
    ctx.state.set(REQUESTER, requester);
    ctx.evidence.record(`requester identity: the existing token in ${existing.requesterTokenEnv}`, { accessor: requester.accessor });
  }
  return {
    description: `read secret ${existing.secretPath}`,
    // Which policy reads the secret is the grant's business (an existing role names its own): none is offered.
    terms: { [TERMS.policy]: '', [TERMS.secretPath]: existing.secretPath },
    ...(requester ? { requester } : {}),
  };
}

export function existingRequester(ctx: VaultContext): VaultToken | undefined {
  return ctx.state.get(REQUESTER) as VaultToken | undefined;
}

/** Without the requester's own token nothing was asked: inconclusive, saying which parameter to set. */
export function noRequester(ctx: VaultContext): ProbeResult {
  const variable = existingOf(ctx).requesterTokenEnv;
  return {
    outcome: 'unknown',
    at: new Date().toISOString(),
    detail: variable
      ? `the variable ${variable} named by existing.requesterTokenEnv holds no token, so the requester's standing privilege was not probed`
      : "no requester credential: set existing.requesterTokenEnv to the name of a variable holding the requester's own token to probe its standing privilege",
  };
}

/** The handed tokens Vault still knows, what they led to, and what their holders minted here; an unreadable one is named, never dropped. */
export async function existingEntitlements(ctx: VaultContext): Promise<string[]> {
  // Which policy reads the user's secret is the grant's business: every live token of the lineage counts.
  return [...new Set([...(await reachingTokens(ctx, '')), ...(await mintedEntitlements(ctx))])].sort();
}

/** Nothing of the user's is removed: only what holders minted here, then the secret is checked unchanged. */
export async function tearDownExistingSecret(ctx: VaultContext): Promise<string[]> {
  const removed = await revokeTracked(ctx);
  await confirmUnchanged(ctx);
  return removed;
}
