/**
 * The shape every adapter's integration test takes: start the adapter's real local target once,
 * run its built-in scenarios and their broken twins concurrently (waits overlap), then assert each
 * scenario's verdict, each twin's `fail`, and that the harness left nothing on the target.
 */
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import type { Verdict } from '../../scenarios/verdict.ts';
import { testRunId } from './run-id.ts';
import { loadTwins, type Twin } from './twins.ts';
import { type ScenarioTargets, startScenarioTargets } from './scenario-targets.ts';

export interface Expectation {
  verdict: Verdict;
  /** Checks that must be among the failed ones (for scenarios the target is known to fail). */
  failedChecks?: string[];
}

export interface ConformanceOptions {
  /** Built-in scenarios whose expected verdict is not `pass`, with the reason in the test name. */
  expected?: Record<string, Expectation & { because: string }>;
}

export interface ConformanceRun {
  adapter: Adapter;
  target: StartedTarget;
  /** Every target the scenarios needed, stopped together. */
  up: ScenarioTargets;
  runId: string;
  secrets: SecretRegistry;
  results: Map<string, ScenarioResult>;
}

export function checksWith(result: ScenarioResult, verdict: Verdict): string[] {
  return result.checks.filter((c) => c.verdict === verdict).map((c) => c.name);
}

export function describeConformance(adapterName: string, options: ConformanceOptions = {}): { run: () => ConformanceRun } {
  let run: ConformanceRun | undefined;
  const state = { run: (): ConformanceRun => run ?? expect.unreachable('target did not start') };

  describe(`${adapterName} against its real local target`, async () => {
    const scenarios = await loadBuiltinScenarios([adapterName]);
    const twins = await loadTwins(adapterName);

    beforeAll(async () => {
      const runId = testRunId();
      const all: Scenario[] = [...scenarios, ...twins.map((t) => t.scenario)];
      const up = await startScenarioTargets(adapterName, all, runId);
      const secrets = new SecretRegistry();
      const signal = new AbortController().signal;
      setMaxListeners(0, signal);
      const results = await Promise.all(all.map((scenario) => runScenario(scenario, { runId, targets: up.targets, signal, secrets })));
      run = { adapter: up.own.adapter, target: up.own.target, up, runId, secrets, results: new Map(results.map((r) => [r.id, r])) };
    }, 240_000);

    afterAll(async () => {
      await run?.up.stop();
    }, 60_000);

    for (const scenario of scenarios) {
      const expected = options.expected?.[scenario.id];
      const name = expected
        ? `${scenario.id} is reported ${expected.verdict}: ${expected.because}`
        : `${scenario.id} passes against the real target`;
      test(name, () => {
        const result = state.run().results.get(scenario.id);
        expect(result, 'scenario result').toBeDefined();
        const summary = result!.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
        expect(result!.verdict, summary).toBe(expected?.verdict ?? 'pass');
        for (const check of expected?.failedChecks ?? []) expect(checksWith(result!, 'fail'), summary).toContain(check);
      });
    }

    for (const twin of twins) {
      test(`broken twin of ${twin.of} (${twin.broken}) is reported fail on ${twin.failedChecks.join(', ')}`, () => {
        const result = state.run().results.get(twin.scenario.id);
        expect(result, 'twin result').toBeDefined();
        const summary = result!.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
        expect(result!.verdict, summary).toBe('fail');
        for (const check of twin.failedChecks) expect(checksWith(result!, 'fail'), summary).toContain(check);
      });
    }

    test('every built-in scenario has a broken twin', () => {
      const covered = new Set(twins.map((t: Twin) => t.of));
      expect(scenarios.map((s) => s.id).filter((id) => !covered.has(id))).toEqual([]);
    });

    test('the harness leaves nothing of its own on the target', async () => {
      const { adapter, target, runId } = state.run();
      const client = await adapter.connect(target.connection);
      const sweep = await adapter.cleanup(client, runId);
      await adapter.disconnect?.(client);
      expect(sweep.failed).toEqual([]);
      expect(sweep.removed).toEqual([]);
    });

    test('no secret value appears in any result', () => {
      const { secrets, results } = state.run();
      const text = JSON.stringify([...results.values()]);
      expect(secrets.size).toBeGreaterThan(0);
      for (const value of secrets.values()) expect(text.includes(value)).toBe(false);
    });
  });
  return state;
}
