/**
 * The split between the broker half and the observer half is real: a grant source that belongs to
 * no built-in adapter — a test-only broker that mints Vault tokens with plain HTTP calls of its own,
 * as a user's access-request bot would — is paired with the Vault adapter's `kv-secret` point of
 * use on a real OpenBao. The point of use alone judges the credential it is handed: a token that
 * dies at its TTL passes; the same broker handing out a token without a TTL is reported as fail.
 */
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { type Adapter, bornCredential, type Grant, type GrantSource, type TargetConnection } from '../../adapters/contract.ts';
import { connectVault } from '../../adapters/vault/client.ts';
import vaultAdapter from '../../adapters/vault/index.ts';
import { runScenario } from '../../scenarios/engine.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { type AuditedBao, startAuditedBao } from '../support/audited-bao.ts';
import { testRunId } from '../support/run-id.ts';

/** The test broker's own client: where its API is and the credential it acts with. */
interface BrokerClient {
  address: string;
  token: string;
}

async function brokerCall<T>(client: BrokerClient, method: string, path: string, body?: unknown): Promise<T> {
  const answer = await fetch(`${client.address}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': client.token, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!answer.ok) throw new Error(`broker ${method} ${path}: HTTP ${answer.status}`);
  return (answer.status === 204 ? undefined : await answer.json()) as T;
}

const brokerParams = z.strictObject({
  ttlSeconds: z.number().positive().nullable(),
  /** Broken: the broker answers that it revoked the token at task end, and does nothing. */
  claimsRevokeOnly: z.boolean().default(false),
});
type BrokerParams = z.infer<typeof brokerParams>;

/** A broker that issues a token carrying the resource's policy, with the TTL it is told (or none), and revokes it at task end. */
const byHand: GrantSource<BrokerParams, BrokerClient> = {
  title: 'A test-only broker minting Vault tokens over plain HTTP',
  params: brokerParams,
  issues: ['vault-token'],
  needs: ['vault.policy'],
  checks: () => ['reuse-denied'],
  setup: async () => undefined,
  entitlements: async () => [],
  async request(ctx): Promise<Grant> {
    const policy = ctx.resource.terms['vault.policy']!;
    const body = { policies: [policy], display_name: `${ctx.prefix}-by-hand`, meta: { jitc_run: ctx.runId }, ...(ctx.params.ttlSeconds === null ? {} : { ttl: `${ctx.params.ttlSeconds}s` }) };
    const answer = await brokerCall<{ auth: { client_token: string; accessor: string } }>(ctx.client, 'POST', 'auth/token/create', body);
    const credential = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
    ctx.state.set('accessor', credential.accessor);
    const info = await brokerCall<{ data: { issue_time: string; expire_time: string | null; creation_ttl: number } }>(ctx.client, 'POST', 'auth/token/lookup-accessor', { accessor: credential.accessor });
    return {
      credentialId: `accessor ${credential.accessor}`,
      issuedAt: info.data.issue_time,
      expiresAt: info.data.expire_time,
      ttlRequestedSeconds: ctx.params.ttlSeconds,
      ttlGrantedSeconds: info.data.expire_time === null ? null : info.data.creation_ttl,
      scopeGranted: [`policy ${policy}`],
      attributes: {},
      handles: [{ name: 'token from the test broker', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) }],
      extensions: [],
      credential,
    };
  },
  async end(ctx, _grant, mode) {
    if (mode === 'revoke' && ctx.params.claimsRevokeOnly) ctx.evidence.record('broker: "revoked"');
    else if (mode === 'revoke') await brokerCall(ctx.client, 'POST', 'auth/token/revoke-accessor', { accessor: ctx.state.get('accessor') });
  },
  async teardown(ctx) {
    const accessor = ctx.state.get('accessor') as string | undefined;
    if (accessor === undefined) return [];
    await brokerCall(ctx.client, 'POST', 'auth/token/revoke-accessor', { accessor }).catch(() => undefined);
    return [`token ${accessor}`];
  },
};

const testBroker: Adapter<BrokerClient> = {
  name: 'test-broker',
  title: 'Test-only broker',
  products: ['none'],
  targets: {},
  connect: async (connection) => ({ address: connection.address, token: connection.settings.token! }),
  grantSources: { 'token-by-hand': byHand },
  pointsOfUse: {},
  pairs: {},
  cleanup: async () => ({ removed: [], failed: [] }),
  leftovers: async () => [],
  longWait: { scenario: 'none', ttlParam: 'ttlSeconds' },
};

let bao: AuditedBao;
beforeAll(async () => {
  bao = await startAuditedBao();
}, 60_000);
afterAll(async () => {
  await bao?.stop();
});

function scenario(id: string, ttlSeconds: number | null, end: Scenario['end'] = { mode: 'expire', graceSeconds: 1 }, claimsRevokeOnly = false, windowSeconds = 2): Scenario {
  return {
    id,
    title: 'A token from a broker of its own, judged where it is used',
    proves: 'the point of use judges a credential whatever issued it',
    adapter: 'vault',
    grant: { adapter: 'test-broker', name: 'token-by-hand', params: { ttlSeconds, claimsRevokeOnly } },
    use: { adapter: 'vault', name: 'kv-secret', params: vaultAdapter.pointsOfUse['kv-secret']!.params.parse({}) },
    severity: 'high',
    task: { windowSeconds, approver: 'jitc-change-approval', needs: ['read the task secret'] },
    end,
    reuse: { deadlineSeconds: 2 },
    source: 'test/integration/split-halves.test.ts',
    dir: process.cwd(),
  };
}

async function run(s: Scenario): Promise<ScenarioResult> {
  const vault: TargetConnection = { adapter: 'vault', mode: 'external', address: bao.address, settings: { token: bao.rootToken }, secretSettings: ['token'], facts: {} };
  const broker: TargetConnection = { ...vault, adapter: 'test-broker' };
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return runScenario(s, {
    runId: testRunId(),
    targets: {
      vault: { adapter: vaultAdapter as Adapter, client: connectVault(vault), connection: vault },
      'test-broker': { adapter: testBroker as unknown as Adapter, client: await testBroker.connect(broker), connection: broker },
    },
    signal,
  });
}

const why = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

describe.concurrent('a grant source of one adapter and a point of use of another', () => {
  test('a token from the test broker that dies at its TTL passes on the Vault point of use, and the result names both halves', async () => {
    const result = await run(scenario('split-by-hand', 2));
    expect(result.verdict, why(result)).toBe('pass');
    expect(result.adapter).toBe('vault');
    expect(result.pointOfUse).toBe('kv-secret');
    expect(result.grant).toEqual({ adapter: 'test-broker', source: 'token-by-hand' });
    expect(result.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['zero-standing-privilege', 'ttl-bounded', 'grant-usable', 'reuse-denied', 'no-residue']));
  });

  test('the same broker handing out a token without a TTL is reported as fail: ttl-bounded and reuse-denied', async () => {
    const result = await run(scenario('split-by-hand-twin', null));
    expect(result.verdict, why(result)).toBe('fail');
    const failed = result.checks.filter((c) => c.verdict === 'fail').map((c) => c.name);
    expect(failed).toEqual(expect.arrayContaining(['ttl-bounded', 'reuse-denied']));
  });

  test('a broker that answers "revoked" at task end and does nothing is reported as fail on reuse-denied, judged at the point of use', async () => {
    const honest = await run(scenario('split-revokes', 30, { mode: 'revoke' }, false, 30));
    expect(honest.verdict, why(honest)).toBe('pass');
    const result = await run(scenario('split-claims-revoke', 30, { mode: 'revoke' }, true, 30));
    expect(result.verdict, why(result)).toBe('fail');
    expect(result.checks.find((c) => c.name === 'reuse-denied')?.verdict).toBe('fail');
  });
});
