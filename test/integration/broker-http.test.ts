/**
 * The reference HTTP broker (examples/brokers/http) as the grant source of a Vault scenario, on a
 * real OpenBao, through the engine: jitc submits the access request, polls it while the broker's
 * auto-approval rule still holds it pending, fetches the token and hands it to the `kv-secret`
 * point of use, which alone judges it. Conformant, the broker passes; started with each defect it
 * is reported fail on the check that defect breaks. Defects that only show at a revocation run in
 * revoke mode with a 30-second window; the others wait for a 5-second window to expire.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, TargetConnection } from '../../adapters/contract.ts';
import brokerAdapter from '../../adapters/broker/index.ts';
import { connectVault } from '../../adapters/vault/client.ts';
import vaultAdapter from '../../adapters/vault/index.ts';
import { runScenario } from '../../scenarios/engine.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { HTTP_BROKER_CASES, startHttpBrokerCase } from '../support/http-broker-cases.ts';
import { type AuditedBao, startAuditedBao } from '../support/audited-bao.ts';
import { testRunId } from '../support/run-id.ts';

let bao: AuditedBao;
const brokers = new Map<string, { stop(): Promise<void> }>();
const results = new Map<string, ScenarioResult>();
const secrets = new SecretRegistry();
const CASES = HTTP_BROKER_CASES;
/** The variable the example scenario names for the broker's bearer token (never the token itself). */
const BEARER_ENV = 'JITC_BROKER_TOKEN';

beforeAll(async () => {
  bao = await startAuditedBao();
  // Every broker accepts one bearer token, read by jitc from the variable the scenarios name.
  process.env[BEARER_ENV] = randomBytes(24).toString('base64url');
  const started = await Promise.all(CASES.map((c) => startHttpBrokerCase(c, { address: bao.address, token: bao.rootToken })));
  CASES.forEach((c, i) => brokers.set(c.id, started[i]!));
  const vault: TargetConnection = { adapter: 'vault', mode: 'external', address: bao.address, settings: { token: bao.rootToken }, secretSettings: ['token'], facts: {} };
  const broker = await brokerAdapter.targets.external!.connect({ runId: 'unused', workDir: '', projectRoot: '', config: {}, log: () => undefined });
  const targets = {
    vault: { adapter: vaultAdapter as Adapter, client: connectVault(vault), connection: vault },
    broker: { adapter: brokerAdapter as unknown as Adapter, client: await brokerAdapter.connect(broker), connection: broker },
  };
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const runId = testRunId();
  const ran = await Promise.all(started.map(({ scenario }) => runScenario(scenario, { runId, targets, signal, secrets })));
  for (const r of ran) results.set(r.id, r);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([...brokers.values()].map((b) => b.stop()));
  await bao?.stop();
  delete process.env[BEARER_ENV];
});

const why = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

function resultOf(id: string): ScenarioResult {
  const r = results.get(id);
  if (!r) throw new Error(`no result for ${id}`);
  return r;
}

describe('the reference HTTP broker on a real OpenBao', () => {
  for (const c of CASES.filter((x) => !x.defect)) {
    test(`conformant, in ${c.end.mode} mode, it passes: its token dies with the task and every claim holds`, () => {
      const r = resultOf(c.id);
      expect(r.verdict, why(r)).toBe('pass');
      expect(r.grant).toEqual({ adapter: 'broker', source: 'http' });
      const names = r.checks.map((x) => x.name);
      expect(names).toEqual(expect.arrayContaining(['unique-credential', 'renewal-needs-approval', 'broker-expiry-within-window', 'approval-chain-recorded', 'reuse-denied']));
      expect(names).toContain(c.end.mode === 'revoke' ? 'broker-end-honoured' : 'broker-expiry-honoured');
    });
  }

  for (const c of CASES.filter((x) => x.defect)) {
    test(`started with the defect ${c.defect}, it is reported fail on ${c.mustFail.join(', ')}`, () => {
      const r = resultOf(c.id);
      expect(r.verdict, why(r)).toBe('fail');
      const failed = r.checks.filter((x) => x.verdict === 'fail').map((x) => x.name);
      expect(failed, why(r)).toEqual(expect.arrayContaining(c.mustFail));
    });
  }

  test('the approval was polled: the broker still held the request pending when jitc first asked', () => {
    const r = resultOf('http-broker-revoke');
    const chain = r.checks.find((x) => x.name === 'approval-chain-recorded');
    expect(chain?.verdict, why(r)).toBe('pass');
    // Auto-approval comes 700 ms after submission: an approval time well after the request proves the wait.
    const requested = /requested (\S+),/.exec(chain!.detail)?.[1];
    const approved = / at (\S+), issued/.exec(chain!.detail)?.[1];
    expect(Date.parse(approved!) - Date.parse(requested!)).toBeGreaterThanOrEqual(500);
  });

  test('no token, bearer token or root token appears in any result', () => {
    const text = JSON.stringify([...results.values()]);
    const values = [...bao.issuedSecrets(), process.env[BEARER_ENV] ?? '', ...secrets.values()].filter((v) => v.length >= 8);
    expect(values.length).toBeGreaterThan(CASES.length);
    for (const value of values) expect(text.includes(value)).toBe(false);
  });
});
