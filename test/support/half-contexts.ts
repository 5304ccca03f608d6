/**
 * The two contexts of a native pair, built as the engine builds them (scenarios/engine.ts), for
 * tests that drive a point of use and a grant source by hand: a point-of-use context, and a grant
 * context whose `pointOfUse.probe` is the point's own probe with that context. Both share the
 * scenario's evidence, secrets and task; each half keeps its own state. The pair's one params
 * block is split by key and parsed by each half's schema, as a scenario file's would be
 * (scenarios/load.ts). `grantCtx.resource` is empty until the caller sets it from `point.setup`.
 */
import {
  type Adapter,
  type GrantContext,
  type GrantSource,
  ownEntry,
  type PointOfUse,
  type ScenarioContext,
  type TargetConnection,
  type TaskSpec,
} from '../../adapters/contract.ts';
import { Evidence } from '../../scenarios/evidence.ts';
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
  /** The task; its id defaults to `<runId>/<scenarioId>`. */
  task: Omit<TaskSpec, 'id'> & { id?: string };
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
  const pick = (shape: Readonly<Record<string, unknown>>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(options.params).filter(([key]) => key in shape));

  const { runId, scenarioId } = options;
  const secrets = new SecretRegistry();
  const evidence = new Evidence(secrets);
  const task: TaskSpec = { ...options.task, id: options.task.id ?? `${runId}/${scenarioId}` };
  const signal = new AbortController().signal;
  const contextFor = (params: unknown): ScenarioContext<unknown, C> => ({
    runId,
    scenarioId,
    prefix: `jitc-${runId}-${scenarioId}`,
    params,
    client,
    connection,
    task,
    evidence,
    secrets,
    state: new Map(),
    report: () => undefined,
    signal,
  });
  const useCtx = contextFor(point.params.parse(pick(point.params.shape)));
  const grantCtx: GrantContext<unknown, C> = {
    ...contextFor(source.params.parse(pick(source.params.shape))),
    resource: { description: '', terms: {} },
    pointOfUse: { name: `${adapter.name}/${pair.pointOfUse}`, probe: (credential, node) => point.probe(useCtx, credential, node) },
  };
  return { point, source, useCtx, grantCtx };
}
