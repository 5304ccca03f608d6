/**
 * One adapter's suite: its built-in scenarios as concurrent vitest tests against the target the
 * CLI brought up. Each test runs the lifecycle once, shows its phases as Allure steps, writes the
 * redacted evidence file, and ends as the verdict says: pass passes, fail fails, inconclusive
 * breaks, waived is skipped with its waiver attached.
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter } from '../adapters/contract.ts';
import { getAdapter } from '../adapters/registry.ts';
import { allurePhase, labelScenario, reportResult } from '../reports/writers/allure.ts';
import { applyWaiver } from '../reports/waivers.ts';
import { type BoundTarget, runScenario } from '../scenarios/engine.ts';
import { loadBuiltinScenarios, loadScenarioFile } from '../scenarios/load.ts';
import { formatMs } from '../scenarios/durations.ts';
import { post, runChannel } from './channel.ts';
import { readRunContext } from './run-context.ts';
import { evidenceDir } from '../reports/outputs/artifacts.ts';

export function defineSuite(adapterName: string): void {
  const run = readRunContext();
  if (!run || !run.connections[adapterName]) {
    describe.skip(`${adapterName} (runs through \`jitc run\`, which brings up its target)`, () => {
      test('skipped outside jitc run', () => undefined);
    });
    return;
  }

  const channel = runChannel(run.runId);
  const controller = new AbortController();
  // Every waiting scenario listens on this one signal; dozens of listeners are expected here.
  setMaxListeners(0, controller.signal);
  channel.onmessage = (event) => {
    const message = (event as MessageEvent).data as { type: string; reason?: string };
    if (message.type === 'abort') controller.abort(message.reason);
  };
  (channel as unknown as { unref(): void }).unref();

  describe.concurrent(adapterName, async () => {
    const adapter: Adapter = await getAdapter(adapterName);
    const builtin = (await loadBuiltinScenarios([adapterName])).filter((s) => run.scenarios.length === 0 || run.scenarios.includes(`${adapterName}/${s.id}`));
    const extra = (await Promise.all(run.scenarioFiles.map((f) => loadScenarioFile(f)))).filter((s) => s.adapter === adapterName);
    const scenarios = [...builtin, ...extra];
    // This suite's own target, and the target of every grant source its scenarios name.
    const needed = [...new Set([adapterName, ...scenarios.map((s) => s.grant.adapter)])];
    const targets: Record<string, BoundTarget> = {};

    beforeAll(async () => {
      for (const name of needed) {
        const connection = run.connections[name];
        if (!connection) throw new Error(`the run brought up no target of adapter ${name}, which a scenario of suite ${adapterName} needs`);
        const needs = await getAdapter(name);
        targets[name] = { adapter: needs, client: await needs.connect(connection), connection };
      }
    });
    afterAll(async () => {
      for (const target of Object.values(targets)) await target.adapter.disconnect?.(target.client);
      channel.close();
    });

    for (const scenario of scenarios) {
      test(scenario.id, async (context) => {
        await labelScenario(scenario, adapter.title);
        const result = await runScenario(scenario, {
          runId: run.runId,
          targets,
          signal: controller.signal,
          phase: allurePhase,
          onWait: (what, msLeft) => post(channel, { type: 'wait', scenario: `${adapterName}/${scenario.id}`, what, msLeft }),
        });
        applyWaiver(result, run.waivers, new Date());
        mkdirSync(evidenceDir(run.outDir), { recursive: true });
        writeFileSync(join(evidenceDir(run.outDir), `${adapterName}.${scenario.id}.json`), JSON.stringify(result, null, 2));
        await reportResult(result);
        post(channel, { type: 'finished', scenario: `${adapterName}/${scenario.id}`, verdict: result.verdict });

        const failed = result.checks.filter((c) => c.verdict !== 'pass');
        const why = failed.map((c) => `${c.name} ${c.verdict}: ${c.detail}`).join('\n');
        if (result.verdict === 'waived') context.skip(`waived by ${result.waiver?.id}: ${result.waiver?.justification}`);
        if (result.verdict === 'inconclusive') throw new Error(`inconclusive: ${why}`);
        expect(result.verdict, `${scenario.id}: ${why}`).toBe('pass');
        context.annotate(`revocation latency ${result.metrics.revocationLatencyMs === null ? 'n/a' : formatMs(result.metrics.revocationLatencyMs)}`);
      });
    }
  });
}
