/**
 * The two contexts of a native pair, built by the engine's own `halfContexts`, for tests that drive
 * a point of use and a grant source by hand. The pair's one params block is split by key and parsed
 * by each half's schema, as a scenario file's would be. `grantCtx.resource` is empty until the
 * caller sets it from `point.setup`.
 */
import { type Adapter, type GrantContext, type GrantSource, ownEntry, type PointOfUse, type ScenarioContext, type TargetConnection, type TaskSpec } from '../../adapters/contract.ts';
import { halfContexts } from '../../scenarios/engine.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { pick } from '../../scenarios/load.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';

export interface PairContexts<C> {
  point: PointOfUse<unknown, C>;
  source: GrantSource<unknown, C>;
  useCtx: ScenarioContext<unknown, C>;
  grantCtx: GrantContext<unknown, C>;
}

export interface PairContextOptions {
  runId: string;
  scenarioId: string;
  /** The pair's params, as a scenario file's `params:` block: each half takes the keys its schema declares. */
  params: Record<string, unknown>;
  /** The task; its id is `<runId>/<scenarioId>`. */
  task: Omit<TaskSpec, 'id'>;
}

export function pairContexts<C>(adapter: Adapter<C>, pairName: string, client: C, connection: TargetConnection, options: PairContextOptions): PairContexts<C> {
  const pair = ownEntry(adapter.pairs, pairName);
  if (!pair) throw new Error(`adapter ${adapter.name} has no pair ${pairName}`);
  const point: PointOfUse<unknown, C> | undefined = ownEntry(adapter.pointsOfUse, pair.pointOfUse);
  const source: GrantSource<unknown, C> | undefined = ownEntry(adapter.grantSources, pair.source);
  if (!point || !source) throw new Error(`adapter ${adapter.name} pairs ${pairName} with a half it does not have`);
  for (const key of Object.keys(options.params)) {
    if (!(key in point.params.shape) && !(key in source.params.shape)) throw new Error(`pair ${pairName} has no param ${key}`);
  }
  const target = { adapter: adapter as unknown as Adapter, client, connection };
  const secrets = new SecretRegistry();
  const scenario = {
    id: options.scenarioId,
    dir: PROJECT_ROOT,
    task: options.task,
    grant: { adapter: adapter.name, name: pair.source, params: source.params.parse(pick(options.params, source.params.shape)) },
    use: { adapter: adapter.name, name: pair.pointOfUse, params: point.params.parse(pick(options.params, point.params.shape)) },
  };
  const { useCtx, grantCtx } = halfContexts(
    scenario,
    { point: point as PointOfUse, pointName: `${adapter.name}/${pair.pointOfUse}`, useTarget: target, grantTarget: target },
    { runId: options.runId, evidence: new Evidence(secrets), secrets, signal: new AbortController().signal, report: () => undefined },
  );
  // The engine's contexts are untyped over the client; this pair's client is C throughout.
  return { point, source, useCtx: useCtx as ScenarioContext<unknown, C>, grantCtx: grantCtx as GrantContext<unknown, C> };
}
