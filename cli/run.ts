/**
 * `jitc run`: validate every input first, bring the targets up, run the suites under vitest
 * (scenarios concurrent, waits overlapping), then write the reports, print the table, stop the
 * targets, and return the exit code. Ctrl-C or SIGTERM aborts the scenarios, which tear down
 * against the still-running targets before the targets are stopped.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, join, resolve } from 'node:path';
import type { TestSpecification, Vitest } from 'vitest/node';
import { type Adapter, type StartedTarget, type TargetMode } from '../adapters/contract.ts';
import { installUnderway, venvDir } from '../adapters/install.ts';
import { stopLocalServers, sweepKilledRuns } from '../adapters/local-process.ts';
import { readEvidence } from '../reports/outputs/artifacts.ts';
import { checkDefinition } from '../scenarios/catalogue.ts';
import { parseGateRule, type GateRule } from '../reports/gate.ts';
import { OutputDir } from '../reports/outputs/out-dir.ts';
import { planDigest } from '../reports/outputs/shards.ts';
import { closingLine, renderTable } from '../reports/writers/terminal.ts';
import type { LeftOut } from '../reports/writers/summary.ts';
import { loadWaivers, type Waiver } from '../reports/waivers.ts';
import { inSuites, loadAdapters, suitedAdapters } from '../adapters/registry.ts';
import { loadBuiltinScenarios, loadScenarioFile } from '../scenarios/load.ts';
import { resultSkeleton, type ScenarioResult } from '../scenarios/result.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { post, runChannel, type RunMessage } from '../suites/channel.ts';
import { RUN_ENV, type RunContext } from '../suites/run-context.ts';
import { bringUp, effectiveMode } from '../adapters/bring-up.ts';
import { adapterSections, loadRunConfig } from './config.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_OUT } from './defaults.ts';
import { finishRun } from './finish.ts';
import { plannedHistory } from './history.ts';
import { metricsFile, outputDir } from './output-paths.ts';
import { progressPrinter } from './progress.ts';
import { QuietReporter } from './quiet-reporter.ts';
import { InputError, PROJECT_ROOT } from '../scenarios/input.ts';

export interface RunFlags {
  suite?: string[];
  scenario?: string[];
  target?: TargetMode;
  config?: string;
  out?: string;
  concurrency?: number;
  html?: boolean;
  waivers?: string | false;
  failOn?: string[];
  shard?: string;
  metrics?: string;
  scenarioFile?: string[];
  /** Run history file (default .jitc/history.sqlite in the project). */
  history?: string;
  /** PEM private key that signs manifest.json (manifest.sig). */
  signKey?: string;
  /** Run the break-glass scenarios the selection holds even where they are left out by default (see takesBreakGlass). */
  breakGlass?: boolean;
  /** Set by continuous mode (`--every`): a scheduled run, which leaves break-glass scenarios out unless asked. */
  continuous?: boolean;
}

/**
 * Whether a run takes the break-glass scenarios of its suites without naming them. Their grants are
 * emergency uses of a real path that may page people, so only a one-shot run against the embedded
 * local targets (jitc's own fixtures, paging nobody) takes them by default; a continuous run
 * (`--every`) or one against container or external targets takes them only with `--break-glass`.
 * A scenario named by `--scenario` (or the config's `scenarios:`) or given as a `--scenario-file`
 * always runs: naming it is the opt-in.
 */
/**
 * Against external targets, the scenarios granted through another adapter's target than their point
 * of use's, where nobody named that target: an external run against a Vault alone must not need
 * the identity provider that one scenario federates into it. Left out and said, never an error; a
 * scenario named with --scenario is never left out (its missing target is then bad input), and a
 * point of use's own target stays required.
 */
function grantedThroughUnnamed(
  candidates: Scenario[],
  adapters: Adapter[],
  config: Awaited<ReturnType<typeof loadRunConfig>>,
  configFile: string | undefined,
): { adapter: Adapter; scenarios: Scenario[] }[] {
  const unnamed = adapters.filter(
    (a) =>
      a.targets.external?.configured?.({
        runId: 'plan',
        projectRoot: PROJECT_ROOT,
        workDir: PROJECT_ROOT,
        config: adapterSections(config, [a.name])[a.name] ?? {},
        ...(configFile ? { configFile } : {}),
        log: () => undefined,
      }) === false,
  );
  return unnamed
    .map((adapter) => ({ adapter, scenarios: candidates.filter((s) => s.grant.adapter === adapter.name && s.adapter !== adapter.name) }))
    .filter((u) => u.scenarios.length > 0);
}

export function takesBreakGlass(flags: Pick<RunFlags, 'breakGlass' | 'continuous'>, mode: TargetMode): boolean {
  return flags.breakGlass === true || (!flags.continuous && mode === 'local');
}

/** Waivers the embedded local targets ship with: their documented gaps, accepted and visible. */
export const LOCAL_WAIVERS = join(PROJECT_ROOT, 'waivers', 'local.yaml');

export function suiteFile(name: string): string {
  return join(PROJECT_ROOT, 'suites', `${name}.suite.ts`);
}

/**
 * The local targets' programs (bao) on PATH, after everything else: the reference broker hooks look
 * for them there, and in an installed package they sit in the local state directory, not in the
 * `.targets/` beside the hooks' own place that a checkout has.
 */
function reachLocalPrograms(): void {
  const bin = join(venvDir(PROJECT_ROOT), 'bin');
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  if (!path.includes(bin)) process.env.PATH = [...path, bin].join(delimiter);
}

export function newRunId(): string {
  // Short (names on targets have length limits), time-ordered, unique enough across runs.
  return `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString('hex').slice(0, 3)}`;
}

interface Plan {
  runId: string;
  mode: TargetMode;
  outDir: string;
  /** Adapters whose targets come up: both halves of every scenario. */
  adapters: Adapter[];
  /** Suites that run: the points of use of the scenarios. */
  suites: string[];
  scenarios: Scenario[];
  scenarioFiles: string[];
  waivers: Waiver[];
  gate: GateRule[];
  concurrency: number;
  shard: { index: number; count: number } | undefined;
  metricsFile: string | undefined;
  sections: Record<string, Record<string, unknown>>;
  /** What the engineer should know about the selection, printed with the run's header. */
  notes: string[];
  /** Scenarios the selection held that the run leaves out, and why: recorded in summary.json and summary.md. */
  leftOut: LeftOut[];
}

function parseShard(text: string | undefined): Plan['shard'] {
  if (text === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index < 1 || count < 1 || index > count) throw new InputError(`--shard: "${text}" is not i/n with 1 <= i <= n (e.g. 2/3)`);
  return { index, count };
}

/** Everything that can be wrong with the input is found here, before any target is touched. */
async function plan(flags: RunFlags, log: (l: string) => void): Promise<Plan> {
  const config = await loadRunConfig(flags.config);
  const all = [...(await loadAdapters()).values()];
  const allNames = all.map((a) => a.name).join(', ');
  const asked = flags.suite ?? config.suites;
  for (const name of asked ?? []) {
    if (!all.some((a) => a.name === name)) throw new InputError(`--suite: unknown suite "${name}" (known: ${allNames})`);
  }
  const extraFiles = (flags.scenarioFile ?? []).map((f) => resolve(f));
  const extra = await Promise.all(extraFiles.map((f) => loadScenarioFile(f)));
  const wanted = flags.scenario ?? config.scenarios ?? [];
  const wantedFrom = flags.scenario ? '--scenario' : `${flags.config}: scenarios`;
  // Scenario files on their own run on their own, in the suites of their points of use; built-in
  // scenarios join them when suites or scenario ids are asked for.
  const builtinSuites = asked ?? (extra.length > 0 && wanted.length === 0 ? [] : all.map((a) => a.name));
  const everyBuiltin = await loadBuiltinScenarios();
  const builtin = everyBuiltin.filter((s) => inSuites(s, builtinSuites, suitedAdapters(all)));
  for (const s of extra) {
    // Checked against every built-in of the file's suite, in the run or not: the suite tells them apart by id.
    if (everyBuiltin.some((b) => b.adapter === s.adapter && b.id === s.id)) throw new InputError(`${s.source}: id: "${s.id}" is already a built-in scenario of ${s.adapter}`);
    if (extra.some((o) => o !== s && o.adapter === s.adapter && o.id === s.id)) throw new InputError(`${s.source}: id: "${s.id}" is also the id of another --scenario-file of ${s.adapter}`);
    // A file given to run and then left out by the selection would be a scenario silently not run.
    if (wanted.length > 0 && !wanted.includes(s.id)) throw new InputError(`${s.source}: id: "${s.id}" is not selected by ${wantedFrom} (${wanted.join(', ')}); select it too, or leave the file out`);
  }
  for (const id of wanted) {
    if (!builtin.some((s) => s.id === id) && !extra.some((s) => s.id === id)) {
      throw new InputError(`${wantedFrom}: no scenario "${id}" in ${builtinSuites.length > 0 ? `suites ${builtinSuites.join(', ')}` : 'no suite'}${extra.length > 0 ? ' or the scenario files' : ''}`);
    }
  }
  const mode = await effectiveMode(flags.target ?? config.target ?? 'local', log);
  const selected = builtin.filter((s) => wanted.length === 0 || wanted.includes(s.id));
  const breakGlassOut = takesBreakGlass(flags, mode) ? [] : selected.filter((s) => s.breakGlass && !wanted.includes(s.id));
  const unnamedOut = mode === 'external' ? grantedThroughUnnamed(selected.filter((s) => !wanted.includes(s.id)), all, config, flags.config) : [];
  // Said once the run starts, with its header: bad input stays the one line on stderr.
  const notes = [
    ...(breakGlassOut.length > 0
      ? [`break-glass scenarios left out (${flags.continuous ? 'continuous mode' : `${mode} targets`}; their grants are emergency uses): ${breakGlassOut.map((s) => `${s.adapter}/${s.id}`).join(', ')}; run them with --break-glass or by naming them with --scenario`]
      : []),
    ...unnamedOut.map(({ scenarios: left, adapter }) => `left out, granted through ${adapter.name}, an external target nobody named (${adapter.targets.external?.howToConfigure ?? `a ${adapter.name}: section of the config file`}): ${left.map((s) => `${s.adapter}/${s.id}`).join(', ')}`),
  ];
  const leftOutWhy = [
    ...breakGlassOut.map((s) => ({ adapter: s.adapter, id: s.id, why: `a break-glass scenario, left out in ${flags.continuous ? 'continuous mode' : `a run against ${mode} targets`} unless --break-glass is given or it is named with --scenario` })),
    ...unnamedOut.flatMap(({ scenarios: left, adapter }) => left.map((s) => ({ adapter: s.adapter, id: s.id, why: `granted through ${adapter.name}, an external target nobody named` }))),
  ];
  const leftOut = new Set([...breakGlassOut, ...unnamedOut.flatMap((u) => u.scenarios)]);
  if (selected.length > 0 && extra.length === 0 && selected.every((s) => leftOut.has(s)) && unnamedOut.length > 0) {
    throw new InputError(`--target external: every scenario selected is granted through a target nobody named (${unnamedOut.map((u) => `${u.adapter.name}: ${u.adapter.targets.external?.howToConfigure ?? 'name it in the config file'}`).join('; ')})`);
  }
  const scenarios = [...selected.filter((s) => !leftOut.has(s)), ...extra];
  // A scenario runs in the suite of its point of use; a point of use without a suite is an error, never a silent skip.
  const suites = [...new Set(scenarios.map((s) => s.adapter))].sort();
  for (const name of suites) {
    if (!existsSync(suiteFile(name))) throw new InputError(`${scenarios.find((s) => s.adapter === name)!.source}: adapter: "${name}" has no suite (suites/${name}.suite.ts)`);
  }
  // Both halves' targets come up: the point of use's and the grant source's.
  const adapters = all.filter((a) => scenarios.some((s) => s.adapter === a.name || s.grant.adapter === a.name));
  const concurrency = flags.concurrency ?? config.concurrency ?? DEFAULT_CONCURRENCY;
  const gate = flags.failOn ? flags.failOn.map((r) => parseGateRule(r)) : (config.gate?.failOn ?? []).map((r, i) => parseGateRule(r, `${flags.config}: gate.failOn.${i}`));
  const shard = parseShard(flags.shard);
  const waiverFile = flags.waivers === false ? undefined : (flags.waivers ?? config.waivers ?? (mode === 'local' && existsSync(LOCAL_WAIVERS) ? LOCAL_WAIVERS : undefined));
  const waivers = waiverFile ? loadWaivers(waiverFile) : [];
  return {
    runId: newRunId(),
    mode,
    outDir: outputDir(resolve(flags.out ?? config.out ?? DEFAULT_OUT), flags.out === undefined && config.out !== undefined ? `${flags.config}: out` : '--out'),
    adapters,
    suites,
    scenarios,
    scenarioFiles: extraFiles,
    waivers,
    gate,
    concurrency,
    shard,
    metricsFile: flags.metrics ? metricsFile(resolve(flags.metrics), '--metrics') : undefined,
    sections: adapterSections(config, adapters.map((a) => a.name)),
    notes,
    leftOut: leftOutWhy,
  };
}

async function createSuiteRunner(p: Plan, reporter: QuietReporter, writeTo: string): Promise<Vitest> {
  const signalListeners = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  // Loaded on demand: vitest's runner is most of the CLI's start-up time, and only `run` needs it.
  const { createVitest } = await import('vitest/node');
  const vitest = await createVitest('test', {
    config: false,
    root: PROJECT_ROOT,
    include: ['suites/*.suite.ts'],
    pool: 'threads',
    maxWorkers: Math.max(1, p.suites.length),
    maxConcurrency: p.concurrency,
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
    watch: false,
    passWithNoTests: true,
    // No results cache: vitest would keep it under the package's node_modules/.vite, and a run
    // writes only into the local state directory and its --out.
    cache: false,
    ...(p.shard ? { shard: `${p.shard.index}/${p.shard.count}` } : {}),
    reporters: [['allure-vitest/reporter', { resultsDir: join(writeTo, 'allure-results') }], reporter],
  });
  // Vitest's logger exits the process on SIGINT/SIGTERM; here the harness must first tear down
  // against live targets, so only the harness's own handler may answer those signals.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) if (!signalListeners[signal].includes(listener)) process.off(signal, listener);
  }
  return vitest;
}

/** The suite files this run (or this shard of it) executes, as vitest's own sharding picks them. */
async function suitesToRun(vitest: Vitest, p: Plan): Promise<TestSpecification[]> {
  const specs = await vitest.globTestSpecifications(p.suites.map((name) => suiteFile(name)));
  if (!p.shard) return specs;
  const Sequencer = vitest.config.sequence.sequencer;
  return new Sequencer(vitest).shard(specs);
}

export async function runCommand(flags: RunFlags, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const p = await plan(flags, log);
  const history = await plannedHistory(flags.history, flags.config);
  // A run that would test nothing is not a run: one line, exit 2, nothing touched.
  if (!p.shard && p.scenarios.length === 0) throw new InputError('nothing to run: no scenario matches the suites and scenarios asked for');
  // Claimed before anything runs: a directory jitc does not own, or one another run is writing, is
  // bad input. Everything the run writes goes to the claim's staging directory; only a sealed
  // staging replaces the previous outputs, and on any other ending the directory stays as it was.
  const out = OutputDir.claim(p.outDir, { where: '--out', runId: p.runId, command: 'run', log });
  try {
    return await runClaimed(flags, p, history, out, log);
  } finally {
    out.abandon();
  }
}

async function runClaimed(flags: RunFlags, p: Plan, history: string, out: OutputDir, log: (line: string) => void): Promise<number> {
  const startedAt = new Date().toISOString();
  const reporter = new QuietReporter();
  const vitest = await createSuiteRunner(p, reporter, out.staging);
  const planned = p.suites.map((name) => suiteFile(name));
  const wholePlan = p.scenarios.map((s) => `${s.adapter}/${s.id}`).sort();
  const specs = await suitesToRun(vitest, p);
  const inShard = new Set(specs.map((s) => s.moduleId));
  p.suites = p.suites.filter((name) => inShard.has(suiteFile(name)));
  p.scenarios = p.scenarios.filter((s) => p.suites.includes(s.adapter));
  p.adapters = p.adapters.filter((a) => p.scenarios.some((s) => s.adapter === a.name || s.grant.adapter === a.name));

  const channel = runChannel(p.runId);
  const show = progressPrinter();
  channel.onmessage = (event) => show((event as MessageEvent).data as RunMessage);
  let interrupted: string | undefined;
  let targets: StartedTarget[] = [];
  // Where the run is when a signal comes: what the first Ctrl-C stops depends on it; a second one stops everything at once.
  let phase: 'starting' | 'running' | 'reporting' = 'starting';
  let signals = 0;
  const starting = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      const install = installUnderway();
      log(`${signal} again: stopping the targets now${install ? `; the install under way (${install}) finishes by itself in its own process group` : ''}`);
      // Servers still starting are not in `targets` yet: every server this process started is stopped, by its pid.
      void Promise.allSettled([...targets.map((t) => t.stop()), stopLocalServers()]).then(() => process.exit(2));
      return;
    }
    if (phase === 'reporting') {
      log(`${signal}: the targets are already stopped; finishing the reports (press again to stop at once)`);
      return;
    }
    interrupted = signal;
    if (phase === 'starting') {
      const install = installUnderway();
      log(`${signal}: stopping the targets being started${install ? ` once the install under way (${install}) finishes` : ''}; no scenario runs (press again to stop at once)`);
      starting.abort(signal);
      void stopLocalServers();
    } else {
      log(`${signal}: ending the scenarios; what they created is being removed (press again to stop at once)`);
    }
    // Scenarios not yet started see the abort too and end at once; no vitest cancel is needed.
    post(channel, { type: 'abort', reason: signal });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // Servers of a jitc that died with its watchdogs (kill -9 of both, a crash of the machine's
    // memory manager) are stopped here, by the pids they were recorded with.
    for (const server of await sweepKilledRuns(PROJECT_ROOT)) log(`stopped a server a killed run left: ${server}`);
    reachLocalPrograms();
    try {
      targets = await bringUp(p.adapters, { runId: p.runId, projectRoot: PROJECT_ROOT, mode: p.mode, config: p.sections, ...(flags.config ? { configFile: flags.config } : {}), log, signal: starting.signal });
    } catch (error) {
      // Interrupted while starting, the starts fail as their servers are stopped: that is the interruption, not an error.
      if (interrupted === undefined) throw error;
    }
    phase = 'running';
    const shardNote = p.shard ? `, shard ${p.shard.index}/${p.shard.count}` : '';
    log(`jitc run ${p.runId}: ${p.scenarios.length} scenarios on ${p.suites.join(', ') || 'no suite'} (${p.mode} targets${shardNote}), concurrency ${p.concurrency}`);
    for (const note of p.notes) log(note);
    if (!interrupted && specs.length > 0) {
      const context: RunContext = {
        runId: p.runId,
        startedAt,
        outDir: out.staging,
        connections: Object.fromEntries(targets.map((t) => [t.connection.adapter, t.connection])),
        scenarios: p.scenarios.map((s) => `${s.adapter}/${s.id}`),
        scenarioFiles: p.scenarioFiles,
        waivers: p.waivers,
      };
      process.env[RUN_ENV] = JSON.stringify(context);
      try {
        // start() shards the planned files again, the same way suitesToRun() did.
        await vitest.start(planned);
      } finally {
        delete process.env[RUN_ENV];
      }
    }
  } finally {
    await vitest.close();
    await Promise.allSettled(targets.map((t) => t.stop()));
    channel.close();
    phase = 'reporting';
  }
  log(`targets stopped; writing the reports of run ${p.runId}`);

  const results = withMissing(readEvidence(out.staging), p, interrupted);
  const summary = await finishRun(
    out,
    results,
    {
      runId: p.runId,
      startedAt,
      waivers: p.waivers,
      gate: p.gate,
      doubtful: interrupted !== undefined || reporter.problems.length > 0,
      leftOut: p.leftOut,
      // Each shard records the whole plan it is part of, so merge can tell a complete set of shards.
      ...(p.shard ? { shard: { index: p.shard.index, count: p.shard.count, planned: wholePlan, plan: planDigest(wholePlan) } } : {}),
    },
    { outDir: p.outDir, ...(flags.html ? { html: { title: `jitc run ${p.runId}` } } : {}), signKey: flags.signKey, metricsFile: p.metricsFile, history, command: 'run', log },
  );

  const print = (line = ''): void => {
    process.stdout.write(`${line}\n`);
  };
  print();
  print(renderTable(summary));
  print();
  for (const problem of reporter.problems) print(`error: ${problem}`);
  for (const w of summary.waivers.expired) print(`waiver ${w.waiver} expired on ${w.expired}: ${w.scenario} stays fail`);
  for (const w of summary.waivers.unused) print(`waiver ${w} covered nothing in this run`);
  if (summary.gate.tolerated.length > 0) print(`gate (${summary.gate.rules.join(' or ')}) tolerates: ${summary.gate.tolerated.join(', ')}`);
  if (interrupted) print(`interrupted by ${interrupted}: targets stopped, created objects removed`);
  print(`reports: ${p.outDir} (summary.json, summary.md, junit.xml, allure-results/${flags.html ? ', html/index.html' : ''}${p.metricsFile ? `; metrics ${p.metricsFile}` : ''})`);
  // An empty shard is one part of a sharded run with nothing in it: no verdict of its own.
  print(p.shard && results.length === 0 ? `shard ${p.shard.index}/${p.shard.count}: nothing to run (run ${p.runId}, exit 0)` : closingLine(summary));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return summary.exitCode;
}

/** A planned scenario without an evidence file did not run to a result: it counts as inconclusive. */
function withMissing(results: ScenarioResult[], p: Plan, interrupted: string | undefined): ScenarioResult[] {
  const missing = p.scenarios.filter((s) => !results.some((r) => r.adapter === s.adapter && r.id === s.id));
  const lifecycle = checkDefinition('lifecycle-completed');
  const why = interrupted ? `run interrupted by ${interrupted} before the scenario started` : 'the scenario did not run to a result (see errors above)';
  const now = new Date().toISOString();
  return [
    ...results,
    ...missing.map((scenario): ScenarioResult => ({
      ...resultSkeleton(scenario, p.runId, { mode: p.mode, address: '', facts: {} }, now),
      checks: [{ name: lifecycle.id, title: lifecycle.title, verdict: 'inconclusive', detail: why, severity: lifecycle.severity, controls: lifecycle.controls }],
      controls: lifecycle.controls,
    })),
  ];
}
