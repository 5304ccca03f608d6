/**
 * Loading scenario files: YAML in, typed {@link Scenario} out, or one InputError naming the file
 * and the field. Each half's own schema validates its params, so a typo in a TTL is caught here
 * and not half-way through a run; halves that do not fit together are refused here too.
 */
import { readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Adapter, type GrantSource, ownEntry, type PointOfUse } from '../adapters/contract.ts';
import { getAdapter } from '../adapters/registry.ts';
import { loadCatalogue } from './catalogue.ts';
import { scenarioFileSchema, type Scenario } from './schema.ts';
import { describeIssue, displayPath, InputError, PROJECT_ROOT, readYaml } from './input.ts';

export const BUILTIN_DIR = join(PROJECT_ROOT, 'scenarios', 'builtin');
/** Scenario files shipped for the user's own targets (a broker's API, existing roles and groups): never run by default. */
export const EXAMPLES_DIR = join(PROJECT_ROOT, 'examples');

/** Validate a raw scenario object (from a file or a twin merge) into a Scenario. */
export async function toScenario(raw: unknown, source: string): Promise<Scenario> {
  const where = displayPath(source);
  const dir = dirname(resolve(source));
  const file = scenarioFileSchema.safeParse(raw);
  if (!file.success) throw new InputError(`${where}: ${describeIssue(file.error)}`);
  const data = file.data;
  const fail = (message: string): never => {
    throw new InputError(`${where}: ${message}`);
  };
  const adapterNamed = (name: string, field: string): Promise<Adapter> =>
    getAdapter(name).catch((error: Error) => {
      throw new InputError(`${where}: ${field}: ${error.message}`);
    });
  const useAdapter = await adapterNamed(data.adapter, 'adapter');
  for (const need of data.task.needs) if (need.trim() === '') fail('task.needs: empty entry');

  let halves: Halves;
  if (data.mechanism !== undefined) {
    if (data.grant || data.use) fail('mechanism: name either a native pair (mechanism, params) or both halves (grant, use), not both');
    const pair = ownEntry(useAdapter.pairs, data.mechanism) ?? fail(`mechanism: "${data.mechanism}" is not a native pair of adapter ${useAdapter.name} (known: ${Object.keys(useAdapter.pairs).join(', ')})`);
    const grantSource = ownEntry(useAdapter.grantSources, pair.source) ?? fail(`mechanism: adapter ${useAdapter.name} pairs "${data.mechanism}" with a grant source it does not have`);
    const pointOfUse = ownEntry(useAdapter.pointsOfUse, pair.pointOfUse) ?? fail(`mechanism: adapter ${useAdapter.name} pairs "${data.mechanism}" with a point of use it does not have`);
    assertFit(`${useAdapter.name}/${pair.source}`, grantSource, `${useAdapter.name}/${pair.pointOfUse}`, pointOfUse, fail);
    // One params block for both halves of a native pair: each takes the keys its schema declares.
    const params = data.params ?? {};
    for (const key of Object.keys(params)) {
      if (!(key in grantSource.params.shape) && !(key in pointOfUse.params.shape)) fail(`params.${key}: unknown key "${key}" (a typo?)`);
    }
    halves = {
      pair: data.mechanism,
      grant: { adapter: useAdapter, name: pair.source, half: grantSource, params: parseHalf(grantSource, pick(params, grantSource.params.shape), 'params', fail) },
      use: { adapter: useAdapter, name: pair.pointOfUse, half: pointOfUse, params: parseHalf(pointOfUse, pick(params, pointOfUse.params.shape), 'params', fail) },
    };
  } else {
    if (!data.grant && !data.use) fail('mechanism: name a native pair (mechanism) or both halves (grant and use)');
    if (!data.use) fail('use: required beside grant: the point of use where the credential is exercised and observed');
    if (!data.grant) fail('grant: required beside use: the grant source the credential comes from');
    if (data.params !== undefined) fail('params: belongs to a native pair (mechanism); with grant and use, give grant.params and use.params');
    const grant = data.grant!;
    const use = data.use!;
    const grantAdapter = grant.adapter === undefined ? useAdapter : await adapterNamed(grant.adapter, 'grant.adapter');
    const grantSource = ownEntry(grantAdapter.grantSources, grant.source) ?? fail(`grant.source: "${grant.source}" is not a grant source of adapter ${grantAdapter.name} (known: ${Object.keys(grantAdapter.grantSources).join(', ') || 'none'})`);
    const pointOfUse = ownEntry(useAdapter.pointsOfUse, use.point) ?? fail(`use.point: "${use.point}" is not a point of use of adapter ${useAdapter.name} (known: ${Object.keys(useAdapter.pointsOfUse).join(', ') || 'none'})`);
    assertFit(`${grantAdapter.name}/${grant.source}`, grantSource, `${useAdapter.name}/${use.point}`, pointOfUse, fail);
    const grantParams = parseHalf(grantSource, grant.params, 'grant.params', fail);
    // A source whose params say what it hands out (a broker) must hand out what the point of use accepts.
    const issued = grantSource.issuedFor?.(grantParams) ?? grantSource.issues;
    if (issued.length > 0 && !issued.some((type) => pointOfUse.accepts.includes(type))) {
      fail(`grant.params: ${grantAdapter.name}/${grant.source} is set to hand out ${issued.join(', ')}, which the point of use ${useAdapter.name}/${use.point} does not accept (it accepts ${pointOfUse.accepts.join(', ')})`);
    }
    halves = {
      grant: { adapter: grantAdapter, name: grant.source, half: grantSource, params: grantParams },
      use: { adapter: useAdapter, name: use.point, half: pointOfUse, params: parseHalf(pointOfUse, use.params, 'use.params', fail) },
    };
  }
  assertDeclaredChecksKnown(halves);
  for (const [field, { adapter, name, half, params }] of [['grant', halves.grant], ['use', halves.use]] as const) {
    const modes = half.endModes?.(params);
    if (modes && !modes.includes(data.end.mode)) fail(`end.mode: ${adapter.name}/${name} with these ${field}.params can only end by ${modes.join(' or ')}, not ${data.end.mode}`);
    const [problem] = half.problems?.(params, dir) ?? [];
    if (problem !== undefined) fail(`${halves.pair ? '' : `${field}.`}params.${problem}`);
  }
  const { mechanism: _m, params: _p, grant: _g, use: _u, ...rest } = data;
  return {
    ...rest,
    ...(halves.pair ? { pair: halves.pair } : {}),
    grant: { adapter: halves.grant.adapter.name, name: halves.grant.name, params: halves.grant.params },
    use: { adapter: halves.use.adapter.name, name: halves.use.name, params: halves.use.params },
    source: where,
    dir,
  };
}

interface Resolved<H> {
  adapter: Adapter;
  name: string;
  half: H;
  params: unknown;
}
interface Halves {
  pair?: string;
  grant: Resolved<GrantSource>;
  use: Resolved<PointOfUse>;
}

/** The keys of a native pair's one params block that a half's schema declares: that half's raw params. */
export function pick(params: Record<string, unknown>, shape: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([key]) => key in shape));
}

function parseHalf(half: GrantSource | PointOfUse, raw: unknown, prefix: string, fail: (message: string) => never): unknown {
  const parsed = half.params.safeParse(raw);
  return parsed.success ? parsed.data : fail(describeIssue(parsed.error, prefix));
}

/**
 * The two halves must fit, before their params are read: the point of use accepts a credential
 * type the source issues and offers every term the source grants by.
 */
function assertFit(sourceName: string, source: GrantSource, pointName: string, point: PointOfUse, fail: (message: string) => never): void {
  if (!source.issues.some((type) => point.accepts.includes(type))) {
    fail(`grant: ${sourceName} issues ${source.issues.join(', ')}, which the point of use ${pointName} does not accept (it accepts ${point.accepts.join(', ')})`);
  }
  const missing = source.needs.filter((term) => !point.offers.includes(term));
  if (missing.length > 0) fail(`grant: ${sourceName} grants by ${missing.join(', ')}, which the point of use ${pointName} does not offer (it offers ${point.offers.join(', ') || 'nothing'})`);
}

/** Every check either half declares for these params is in the catalogue: an unknown one is refused before anything runs. */
function assertDeclaredChecksKnown({ grant, use }: Halves): void {
  const halves: [string, GrantSource | PointOfUse, unknown][] = [
    [`grant source ${grant.adapter.name}/${grant.name}`, grant.half, grant.params],
    [`point of use ${use.adapter.name}/${use.name}`, use.half, use.params],
  ];
  const known = loadCatalogue().checks;
  for (const [name, half, params] of halves) {
    for (const check of half.checks(params)) if (!known.has(check)) throw new Error(`${name} declares check "${check}", which is not in scenarios/controls.yaml`);
  }
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  return toScenario(readYaml(file), file);
}

// Which suite selects a scenario is the registry's to say (`jitc list` asks without loading scenarios).
export { inSuites, suitedAdapters } from '../adapters/registry.ts';

/** Every built-in scenario of the given adapters (all adapters when the list is empty), sorted by id. */
/** The example scenario files, loaded as a user would load them. */
export async function loadExampleScenarios(): Promise<Scenario[]> {
  if (!existsSync(EXAMPLES_DIR)) return [];
  const files = readdirSync(EXAMPLES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(files.map((f) => loadScenarioFile(join(EXAMPLES_DIR, f))));
}

export async function loadBuiltinScenarios(adapters: readonly string[] = []): Promise<Scenario[]> {
  if (!existsSync(BUILTIN_DIR)) return [];
  const folders = readdirSync(BUILTIN_DIR).filter((f) => adapters.length === 0 || adapters.includes(f));
  const scenarios: Scenario[] = [];
  for (const folder of folders.sort()) {
    const dir = join(BUILTIN_DIR, folder);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
      const scenario = await loadScenarioFile(join(dir, name));
      if (scenario.adapter !== folder) {
        throw new InputError(`${scenario.source}: adapter: "${scenario.adapter}" but the file lives under ${folder}/`);
      }
      scenarios.push(scenario);
    }
  }
  const seen = new Set<string>();
  for (const s of scenarios) {
    const key = `${s.adapter}/${s.id}`;
    if (seen.has(key)) throw new InputError(`${s.source}: id: "${s.id}" is used twice`);
    seen.add(key);
  }
  return scenarios;
}
