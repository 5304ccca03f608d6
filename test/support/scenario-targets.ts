/**
 * The real local targets a set of scenarios needs: the adapter's own, and that of every other half
 * they name (a broker's grant source beside a Vault point of use), started and connected together
 * and stopped together; a target the test session shares (test/support/session-targets.ts) is
 * taken from the session instead, and left running for the next file.
 */
import type { Adapter, StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import type { BoundTarget } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { targetsOf } from './bound.ts';
import { sessionTarget } from './session-targets.ts';

export interface ScenarioTargets {
  /** The adapter the scenarios belong to, its started target and client. */
  own: { adapter: Adapter; client: unknown; connection: TargetConnection; target: StartedTarget };
  /** Every connected target by adapter name, as the engine takes them. */
  targets: Record<string, BoundTarget>;
  /** Disconnect every client and stop every target, whatever happens. */
  stop(): Promise<void>;
}

export async function startScenarioTargets(adapterName: string, scenarios: readonly Scenario[], runId: string): Promise<ScenarioTargets> {
  const names = [...new Set([adapterName, ...scenarios.flatMap((s) => [s.grant.adapter, s.use.adapter])])];
  const adapters = await Promise.all(names.map((name) => getAdapter(name)));
  const shared = await Promise.all(names.map((name) => sessionTarget(name)));
  const own = adapters.filter((_, i) => !shared[i]);
  const startedOwn = await bringUp(own, { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  const started = shared.map((target) => target ?? startedOwn.shift()!);
  const stopAll = async (): Promise<void> => void (await Promise.allSettled(started.map((t) => t.stop())));
  try {
    const bound = await Promise.all(adapters.map(async (adapter, i) => ({ adapter, client: await adapter.connect(started[i]!.connection), connection: started[i]!.connection })));
    return {
      own: { ...bound[0]!, target: started[0]! },
      targets: Object.assign({}, ...bound.map((b) => targetsOf(b))) as Record<string, BoundTarget>,
      async stop() {
        await Promise.allSettled(bound.map((b) => b.adapter.disconnect?.(b.client)));
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
