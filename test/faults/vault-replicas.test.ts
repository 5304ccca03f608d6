/**
 * A revocation the target made, seen through a front that does not pass it on faithfully: a stale
 * replica behind round-robin balancing that still honours the revoked token, and a front that keeps
 * answering "allowed" for a while after the target refused. Real OpenBao behind the fault proxy,
 * the real engine in front of it. A credential some node still honours past the deadline is a
 * fail; a front that converges before the deadline is reported and passes.
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TargetConnection } from '../../adapters/contract.ts';
import vaultAdapter from '../../adapters/vault/index.ts';
import { VaultApi } from '../../adapters/vault/api.ts';
import { connectVault } from '../../adapters/vault/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { type AuditedBao, startAuditedBao } from '../support/audited-bao.ts';
import { FaultProxy, type FaultMode, type FaultProxyOptions } from '../support/fault-proxy.ts';
import { testRunId } from '../support/run-id.ts';
import { targetsOf } from '../support/bound.ts';

/** Only the privileged read is answered from memory: the replica is stale about the secret, not about everything. */
const SECRET_READS = /^\/v1\/secret\/data\//;

let bao: AuditedBao;
let revokeAtTaskEnd: Scenario;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  bao = await startAuditedBao();
  const builtins = await loadBuiltinScenarios(['vault']);
  revokeAtTaskEnd = builtins.find((s) => s.id === 'token-revoke-at-task-end')!;
}, 60_000);

afterAll(async () => {
  for (const proxy of proxies) await proxy.stop();
  await bao?.stop();
});

async function proxied(mode: FaultMode, options: FaultProxyOptions): Promise<{ proxy: FaultProxy; address: string }> {
  const proxy = new FaultProxy(Number(new URL(bao.address).port), options);
  proxies.push(proxy);
  proxy.setMode(mode);
  return { proxy, address: `http://127.0.0.1:${await proxy.start()}` };
}

/** token-revoke-at-task-end through the proxy, with its own id and deadline (and the nodes to poll). */
async function runThrough(address: string, id: string, deadlineSeconds: number, nodes?: string[]): Promise<ScenarioResult> {
  const connection: TargetConnection = { adapter: 'vault', mode: 'external', address, settings: { token: bao.rootToken }, secretSettings: ['token'], facts: {} };
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const scenario: Scenario = { ...revokeAtTaskEnd, id, reuse: { deadlineSeconds, ...(nodes ? { nodes } : {}) } };
  return runScenario(scenario, { runId: testRunId(), targets: targetsOf({ adapter: vaultAdapter, client: connectVault(connection), connection }), signal, secrets: new SecretRegistry() });
}

const reuseOf = (result: ScenarioResult) => result.checks.find((c) => c.name === 'reuse-denied');
const summary = (result: ScenarioResult): string => result.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

describe('a revoked token behind a round-robin front with a stale replica', () => {
  test('is reported fail on reuse-denied when the replica keeps honouring it: allowed again after a denial', async () => {
    const { proxy, address } = await proxied('flap', { replayPaths: SECRET_READS });
    const result = await runThrough(address, 'flap-never-converges', 1);
    expect(proxy.replayed, 'the stale replica answered').toBeGreaterThan(0);
    expect(result.verdict, summary(result)).toBe('fail');
    expect(reuseOf(result)?.verdict, summary(result)).toBe('fail');
    expect(reuseOf(result)?.detail).toMatch(/^JIT token allowed again \d+ ms after a denial \(unstable revocation\), \d+ ms after the end, past the 1000 ms deadline \(HTTP 200\)/);
  }, 60_000);

  test('passes, and says it converged, when the replica catches up before the deadline', async () => {
    const { proxy, address } = await proxied('flap', { replayPaths: SECRET_READS, lagMs: 800 });
    const result = await runThrough(address, 'flap-converges', 4);
    expect(proxy.replayed, 'the stale replica answered').toBeGreaterThan(0);
    expect(reuseOf(result)?.verdict, summary(result)).toBe('pass');
    expect(reuseOf(result)?.detail).toMatch(/converged before the deadline: allowed again \d+ ms after a first denial/);
    expect(result.verdict, summary(result)).toBe('pass');
  }, 60_000);

  test('is seen on one node only by a client that keeps its connection, and on both by jitc\'s probes', async () => {
    const { proxy, address } = await proxied('flap', {});
    const admin = new VaultApi(bao.address, bao.rootToken);
    const { auth } = await admin.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies: ['default'], ttl: '60s' });
    // Remembered while valid, then revoked on the target itself.
    const viaProxy = new VaultApi(address, bao.rootToken);
    await viaProxy.send('GET', 'auth/token/lookup-self', { token: auth.client_token });
    await admin.call('POST', 'auth/token/revoke-accessor', { accessor: auth.accessor });

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const keptAlive: number[] = [];
    for (let i = 0; i < 6; i++) {
      keptAlive.push(
        await new Promise<number>((resolve, reject) => {
          const req = request(`${address}/v1/auth/token/lookup-self`, { agent, headers: { 'X-Vault-Token': auth.client_token } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        }),
      );
    }
    agent.destroy();
    expect(new Set(keptAlive), 'one connection, one node: always the live refusal').toEqual(new Set([403]));

    const fresh: string[] = [];
    for (let i = 0; i < 6; i++) {
      fresh.push(await viaProxy.send('GET', 'auth/token/lookup-self', { token: auth.client_token }).then(() => 'allowed', () => 'denied'));
    }
    expect(new Set(fresh), 'a new connection per probe reaches both nodes').toEqual(new Set(['allowed', 'denied']));
    expect(proxy.replayed).toBeGreaterThan(0);
  }, 30_000);
});

describe('a revoked token behind a front that passes the revocation on late', () => {
  test('is reported fail on reuse-denied when the front lags past the deadline', async () => {
    const { proxy, address } = await proxied('lagging', { replayPaths: SECRET_READS, lagMs: 3000 });
    const result = await runThrough(address, 'lag-past-deadline', 1);
    expect(proxy.replayed).toBeGreaterThan(0);
    expect(result.verdict, summary(result)).toBe('fail');
    expect(reuseOf(result)?.verdict, summary(result)).toBe('fail');
    expect(reuseOf(result)?.detail).toMatch(/^JIT token still usable \d+ ms after the end, past the 1000 ms deadline/);
  }, 60_000);

  test('passes when the front catches up before the deadline, with the latency it really took', async () => {
    const { proxy, address } = await proxied('lagging', { replayPaths: SECRET_READS, lagMs: 1000 });
    const result = await runThrough(address, 'lag-within-deadline', 4);
    expect(proxy.replayed).toBeGreaterThan(0);
    expect(reuseOf(result)?.verdict, summary(result)).toBe('pass');
    const latency = Number(/^JIT token denied (\d+) ms after the end/.exec(reuseOf(result)?.detail ?? '')?.[1]);
    expect(latency).toBeGreaterThanOrEqual(1000);
    expect(result.verdict, summary(result)).toBe('pass');
  }, 60_000);
});

describe('a revoked token polled on each node the scenario lists', () => {
  test('is reported fail on reuse-denied for the one node that still honours it, named, while the other passes', async () => {
    // The task runs through a front that never passes the revocation on; the target itself is the other node.
    const { address } = await proxied('lagging', { replayPaths: SECRET_READS, lagMs: 3_600_000 });
    const result = await runThrough(address, 'node-still-honours', 1, [bao.address, address]);
    const reuse = reuseOf(result);
    expect(reuse?.verdict, summary(result)).toBe('fail');
    expect(reuse?.detail).toContain(`JIT token at ${address} still usable`);
    expect(reuse?.detail).toMatch(new RegExp(`JIT token at ${bao.address.replace(/[.]/g, '\\.')} denied \\d+ ms after the end`));
  }, 60_000);
});
