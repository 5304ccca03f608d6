/**
 * A directory behind several addresses (`reuse.nodes`): every credential probe goes to the node it
 * is given, on a connection of its own, and a node that does not answer never lets reuse pass.
 * Run against a real slapd reached through counting relays that stand for the nodes.
 */
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import { freePort } from '../../adapters/local-process.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { testRunId } from '../support/run-id.ts';
import { CountingRelay } from '../support/counting-relay.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { targetsOf } from '../support/bound.ts';

const runId = testRunId();
let target: StartedTarget | undefined;
const relays: CountingRelay[] = [];
const results = new Map<string, ScenarioResult>();

async function withNodes(id: string, nodes: string[]): Promise<Scenario> {
  const base = (await loadBuiltinScenarios(['ldap'])).find((s) => s.id === 'temporary-group-membership') ?? expect.unreachable('no built-in temporary-group-membership');
  return { ...base, id, reuse: { ...base.reuse, nodes } };
}

beforeAll(async () => {
  const adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
  [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  if (!target) throw new Error('the local slapd did not start');
  const port = Number(new URL(target.connection.settings.url ?? '').port);
  relays.push(await new CountingRelay(port).start(), await new CountingRelay(port).start(), await new CountingRelay(await freePort()).start());
  const client = await adapter.connect(target.connection);
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const scenarios = [await withNodes('two-nodes', [relays[0]!.url, relays[1]!.url]), await withNodes('one-node-dark', [relays[0]!.url, relays[2]!.url])];
  for (const result of await Promise.all(scenarios.map((s) => runScenario(s, { runId, targets: targetsOf({ adapter, client, connection: target!.connection }), signal })))) results.set(result.id, result);
  await adapter.disconnect?.(client);
}, 120_000);

afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await target?.stop();
});

/** Probes sent to a node: the reuse attempts and the last look before teardown, each its own connection. */
const attemptsAt = (result: ScenarioResult, node: string): number =>
  result.evidence.filter((e) => /^(reuse attempt \d+|last probe before teardown) with /.test(e.event) && e.event.includes(` at ${node}:`)).length;

describe('probes per node', () => {
  test('every reuse probe of the credential reaches the node it names, each on a new connection; the open session is probed once, not per node', () => {
    const result = results.get('two-nodes') ?? expect.unreachable('no result');
    const summary = result.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
    expect(result.verdict, summary).toBe('pass');
    const [a, b] = relays;
    // Both scenarios probe node a; only this one probes node b.
    expect(attemptsAt(result, b!.url)).toBeGreaterThanOrEqual(3);
    expect(b!.accepted).toBe(attemptsAt(result, b!.url));
    expect(a!.accepted).toBe(attemptsAt(result, a!.url) + attemptsAt(results.get('one-node-dark') ?? expect.unreachable('no result'), a!.url));
    expect(result.evidence.some((e) => /^reuse attempt \d+ with LDAP connection bound during the task \(protected read\): /.test(e.event))).toBe(true);
    expect(result.evidence.some((e) => /^reuse attempt \d+ with LDAP connection bound during the task .* at ldap:/.test(e.event))).toBe(false);
  });

  test('a node that does not answer leaves reuse-denied inconclusive, never passed', () => {
    const result = results.get('one-node-dark') ?? expect.unreachable('no result');
    const reuse = result.checks.find((c) => c.name === 'reuse-denied');
    expect(reuse?.verdict, reuse?.detail).toBe('inconclusive');
    expect(reuse?.detail).toContain(relays[2]!.url);
  });
});
