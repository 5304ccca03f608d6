/**
 * The Vault token's extension attempts, the residue reads and the external connect check, against
 * a real OpenBao dev server: what the holder can stretch with its own token, how far Vault says it
 * then reaches, what it minted and whether that stays visible, and what is refused.
 */
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ExtensionAttempt, type ExtensionResult } from '../../adapters/contract.ts';
import { VaultApi } from '../../adapters/vault/api.ts';
import { reachingTokens, rememberHanded } from '../../adapters/vault/audit-trail.ts';
import { connectVault, listTokens, type VaultClient } from '../../adapters/vault/client.ts';
import { extensionSeconds, mintedEntitlements, type VaultGrantContext, vaultTokenExtensions } from '../../adapters/vault/extension.ts';
import { policyName, removeFixtures, type VaultContext } from '../../adapters/vault/fixtures.ts';
import vaultAdapter from '../../adapters/vault/index.ts';
import { kvSecretPoint } from '../../adapters/vault/points/kv-secret.ts';
import { TERMS } from '../../adapters/vault/terms.ts';
import { vaultTargets } from '../../adapters/vault/targets.ts';
import { type AuditedBao, startAuditedBao } from '../support/audited-bao.ts';
import { jitc } from '../support/cli.ts';
import { pairContexts } from '../support/half-contexts.ts';
import { testRunId } from '../support/run-id.ts';
import { InputError } from '../../scenarios/input.ts';

const WINDOW_SECONDS = 20;
let bao: AuditedBao;
let client: VaultClient;
let admin: VaultApi;
/** A grant source's context over the kv-secret point of use, with that point's own context; `mint` names the grant's extra policy. */
type Scenario = VaultGrantContext & { use: VaultContext; mint?: string };
const contexts: Scenario[] = [];

beforeAll(async () => {
  bao = await startAuditedBao();
  client = connectVault({ adapter: 'vault', mode: 'external', address: bao.address, settings: { token: bao.rootToken }, secretSettings: ['token'], facts: {} });
  admin = client.api;
}, 60_000);

afterAll(async () => {
  for (const ctx of contexts) {
    await removeFixtures(ctx.use).catch(() => undefined);
    if (ctx.mint) await admin.call('DELETE', `sys/policies/acl/${ctx.mint}`).catch(() => undefined);
  }
  await bao?.stop();
});

/**
 * A scenario's fixtures (secret, read policy, requester) set up by the kv-secret point of use, and
 * the token grant source's context over it, as the engine gives one; `extraPolicy`, when given, is
 * a policy of the grant's own that the issued token carries beside the read policy.
 */
async function scenario(name: string, extraPolicy = ''): Promise<Scenario> {
  // The server's own audit log, so the point of use reads residue from lineage as on the local target.
  const settings = { token: bao.rootToken, auditLog: bao.auditLog, auditDevice: 'raw' };
  const connection = { adapter: 'vault', mode: 'external' as const, address: bao.address, settings, secretSettings: ['token'], facts: {} };
  const { useCtx, grantCtx } = pairContexts(vaultAdapter, 'token', client, connection, {
    runId: testRunId(),
    scenarioId: name,
    params: { ttlSeconds: null },
    task: { windowSeconds: WINDOW_SECONDS, approver: 'test', needs: ['read the task secret'] },
  });
  setMaxListeners(0, grantCtx.signal);
  const ctx: Scenario = Object.assign(grantCtx, { use: useCtx as VaultContext });
  contexts.push(ctx);
  ctx.resource = await kvSecretPoint.setup(ctx.use);
  if (extraPolicy) {
    ctx.mint = `${ctx.prefix}-mint`;
    await admin.call('PUT', `sys/policies/acl/${ctx.mint}`, { policy: extraPolicy });
  }
  return ctx;
}

interface Issued {
  token: string;
  accessor: string;
  issuedAt: number;
}

async function issue(ctx: Scenario, body: Record<string, unknown>): Promise<Issued> {
  const policies = [ctx.resource.terms[TERMS.policy]!, ...(ctx.mint ? [ctx.mint] : [])];
  const answer = await admin.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies, display_name: ctx.prefix, ...body });
  ctx.secrets.add(answer.auth.client_token);
  return { token: answer.auth.client_token, accessor: answer.auth.accessor, issuedAt: Date.now() };
}

const byName = (attempts: ExtensionAttempt[], start: string): ExtensionAttempt => attempts.find((a) => a.name.startsWith(start))!;
const reach = (r: ExtensionResult): number => (r.reachesUntil ? Date.parse(r.reachesUntil) : Number.POSITIVE_INFINITY);
const ORPHAN_POLICY = 'path "auth/token/create-orphan" {\n  capabilities = ["update"]\n}\n';
const CHILD_POLICY = 'path "auth/token/create" {\n  capabilities = ["update"]\n}\n';

describe('a Vault token capped at the approval window', () => {
  test('renews itself no further than the window, as Vault states it', async () => {
    const ctx = await scenario('capped');
    const held = await issue(ctx, { ttl: '5s', explicit_max_ttl: `${WINDOW_SECONDS}s` });
    const result = await byName(vaultTokenExtensions(ctx, held), 'renew-self').attempt('inside-window');
    expect(result.outcome, result.detail).toBe('extended');
    expect(result.detail).toMatch(new RegExp(`asked ${extensionSeconds(WINDOW_SECONDS)} s, granted \\d+ s`));
    expect(reach(result)).toBeLessThanOrEqual(held.issuedAt + WINDOW_SECONDS * 1000 + 1000);
  });

  test('cannot mint a child or an orphan without a policy that allows it: Vault refuses', async () => {
    const ctx = await scenario('no-mint');
    const held = await issue(ctx, { ttl: '5s', explicit_max_ttl: `${WINDOW_SECONDS}s` });
    const attempts = vaultTokenExtensions(ctx, held);
    for (const name of ['child token', 'orphan token']) {
      const result = await byName(attempts, name).attempt('inside-window');
      expect(result, name).toMatchObject({ outcome: 'refused', detail: 'HTTP 403 permission denied' });
    }
  });

  test('a child it mints is bound to it: it reaches no further than its parent and dies with it', async () => {
    const ctx = await scenario('child', CHILD_POLICY);
    const held = await issue(ctx, { ttl: '5s', explicit_max_ttl: `${WINDOW_SECONDS}s` });
    const result = await byName(vaultTokenExtensions(ctx, held), 'child token').attempt('inside-window');
    expect(result.outcome, result.detail).toBe('extended');
    expect(reach(result)).toBeLessThanOrEqual(held.issuedAt + WINDOW_SECONDS * 1000 + 1000);
    const [minted] = result.minted ?? [];
    expect((await minted!.probe()).outcome).toBe('allowed');
    expect(await mintedEntitlements(ctx)).toHaveLength(1);
    await admin.call('POST', 'auth/token/revoke-accessor', { accessor: held.accessor });
    expect((await minted!.probe()).outcome).toBe('denied');
    expect(await mintedEntitlements(ctx)).toEqual([]);
  });

  test('an orphan it may mint reaches a day past the window, outlives its revocation and stays visible as residue', async () => {
    const ctx = await scenario('orphan', ORPHAN_POLICY);
    const held = await issue(ctx, { ttl: '5s', explicit_max_ttl: `${WINDOW_SECONDS}s` });
    const result = await byName(vaultTokenExtensions(ctx, held), 'orphan token').attempt('inside-window');
    expect(result.outcome, result.detail).toBe('extended');
    expect(reach(result)).toBeGreaterThan(Date.now() + 86_000_000);
    const [minted] = result.minted ?? [];
    expect(minted?.check).toBe('derived-credentials-denied');
    await admin.call('POST', 'auth/token/revoke-accessor', { accessor: held.accessor });
    expect((await minted!.probe()).outcome).toBe('allowed');
    const visible = await mintedEntitlements(ctx);
    expect(visible).toEqual([expect.stringMatching(/^token:/)]);
    // The point of use finds it too, from lineage in the audit log: minted with a token carrying its policy.
    expect(await kvSecretPoint.entitlements(ctx.use)).toEqual(expect.arrayContaining(visible));
    // No secret in what the attempt says about itself.
    expect(JSON.stringify(result.detail)).not.toContain(held.token);
  });

  test('after it was revoked every attempt is refused by Vault', async () => {
    const ctx = await scenario('after-end', ORPHAN_POLICY + CHILD_POLICY);
    const held = await issue(ctx, { ttl: '5s', explicit_max_ttl: `${WINDOW_SECONDS}s` });
    await admin.call('POST', 'auth/token/revoke-accessor', { accessor: held.accessor });
    for (const attempt of vaultTokenExtensions(ctx, held)) {
      expect(await attempt.attempt('after-end'), attempt.name).toMatchObject({ outcome: 'refused', detail: 'HTTP 403 permission denied' });
    }
  });
});

describe('a Vault token the broker did not cap', () => {
  test('renews itself a day past the window on default mount settings', async () => {
    const ctx = await scenario('uncapped');
    const held = await issue(ctx, { ttl: '5s' });
    const result = await byName(vaultTokenExtensions(ctx, held), 'renew-self').attempt('inside-window');
    expect(result.outcome, result.detail).toBe('extended');
    expect(reach(result)).toBeGreaterThan(Date.now() + 86_000_000);
  });

  test('a periodic one is stated to reach with no end', async () => {
    const ctx = await scenario('periodic');
    const held = await issue(ctx, { period: '60s' });
    const result = await byName(vaultTokenExtensions(ctx, held), 'renew-self').attempt('inside-window');
    expect(result).toMatchObject({ outcome: 'extended', reachesUntil: null });
  });

  test('a batch token cannot be renewed or mint: refused with Vault\'s own reason', async () => {
    const ctx = await scenario('batch', CHILD_POLICY);
    const answer = await admin.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies: [policyName(ctx.use), ctx.mint!], ttl: '60s', type: 'batch' });
    const held = { token: answer.auth.client_token, accessor: answer.auth.accessor };
    expect(held.accessor).toBe('');
    const attempts = vaultTokenExtensions(ctx, held);
    expect(await byName(attempts, 'renew-self').attempt('inside-window')).toMatchObject({ outcome: 'refused', detail: 'HTTP 400 batch tokens cannot be renewed' });
    expect(await byName(attempts, 'child token').attempt('inside-window')).toMatchObject({ outcome: 'refused', detail: 'HTTP 400 batch tokens cannot create more tokens' });
  });
});

describe('residue read from Vault', () => {
  test('sees a token holding the policy through its identity (a group of its entity), not only its own policies', async () => {
    const ctx = await scenario('identity');
    const policy = policyName(ctx.use);
    const role = `${ctx.prefix}-role`;
    const alias = `${ctx.prefix}-alias`;
    await admin.call('POST', `auth/token/roles/${role}`, { allowed_entity_aliases: [alias], allowed_policies: ['default'] });
    const created = await admin.call<{ auth: { client_token: string; accessor: string; entity_id: string } }>('POST', `auth/token/create/${role}`, { entity_alias: alias, policies: ['default'], ttl: '60s' });
    ctx.secrets.add(created.auth.client_token);
    const group = await admin.call<{ data: { id: string } }>('POST', 'identity/group', { name: `${ctx.prefix}-group`, policies: [policy], member_entity_ids: [created.auth.entity_id] });
    try {
      rememberHanded(ctx.use, { type: 'vault-token', token: created.auth.client_token, accessor: created.auth.accessor });
      expect(await kvSecretPoint.entitlements(ctx.use)).toContain(`token:${created.auth.accessor}`);
    } finally {
      await admin.call('DELETE', `identity/group/id/${group.data.id}`);
      await admin.call('DELETE', `identity/entity/id/${created.auth.entity_id}`);
      await admin.call('POST', 'auth/token/revoke-accessor', { accessor: created.auth.accessor });
      await admin.call('DELETE', `auth/token/roles/${role}`);
    }
  });

  test('reports tokens it could not read instead of leaving them out', async () => {
    const ctx = await scenario('unreadable');
    const name = `${ctx.prefix}-list-only`;
    await admin.call('PUT', `sys/policies/acl/${name}`, { policy: 'path "auth/token/accessors" {\n  capabilities = ["list", "sudo"]\n}\n' });
    const lister = await admin.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies: [name], ttl: '60s', no_default_policy: true });
    ctx.secrets.add(lister.auth.client_token);
    try {
      const listOnly = new VaultApi(bao.address, lister.auth.client_token);
      const readable = await issue(ctx, { ttl: '60s' });
      rememberHanded(ctx.use, { type: 'vault-token', ...readable });
      const held = await reachingTokens({ ...ctx.use, client: { ...client, api: listOnly } }, policyName(ctx.use));
      expect(held.length).toBeGreaterThan(0);
      expect(held.every((e) => /^unreadable token:\S+ \(HTTP 403 permission denied\)$/.test(e)), held.join('\n')).toBe(true);
      await expect(listTokens(listOnly)).rejects.toThrow(/^could not read \d+ listed token\(s\): accessor \S+ \(HTTP 403 permission denied\)/);
    } finally {
      await admin.call('POST', 'auth/token/revoke-accessor', { accessor: lister.auth.accessor });
      await admin.call('DELETE', `sys/policies/acl/${name}`);
    }
  });
});

describe('an external Vault target', () => {
  const connect = (env: Record<string, string | undefined>) => {
    const saved = { VAULT_ADDR: process.env.VAULT_ADDR, VAULT_TOKEN: process.env.VAULT_TOKEN, BAO_ADDR: process.env.BAO_ADDR, BAO_TOKEN: process.env.BAO_TOKEN };
    Object.assign(process.env, { BAO_ADDR: '', BAO_TOKEN: '' }, env);
    return vaultTargets.external!.connect({ runId: 'x', workDir: '/tmp', projectRoot: '/tmp', config: {}, log: () => undefined }).finally(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
  };
  const GARBAGE = 'garbage-token-value-123456';

  test('with a token Vault does not accept is bad input naming the variable, never its value', async () => {
    const error = await connect({ VAULT_ADDR: bao.address, VAULT_TOKEN: GARBAGE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(`external vault target ${bao.address}: Vault does not accept the token in VAULT_TOKEN (HTTP 403 permission denied); set VAULT_TOKEN to a valid token`);
  });

  test('with a valid token connects, its token marked secret', async () => {
    const connection = await connect({ VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken });
    expect(connection.secretSettings).toEqual(['token']);
  });

  test('jitc run with a bad VAULT_TOKEN stops with one line and exit 2, before anything runs', () => {
    const result = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', `/tmp/jitc-bad-token-${testRunId()}`], { VAULT_ADDR: bao.address, VAULT_TOKEN: GARBAGE });
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/Vault does not accept the token in VAULT_TOKEN/);
    expect(result.stdout + result.stderr).not.toContain(GARBAGE);
  }, 60_000);
});
