/**
 * `jitc run`: validate every input first, bring the targets up, run the suites under vitest
 * (scenarios concurrent, waits overlapping), then write summary.json, junit.xml (and the HTML
 * report with --html), print the table, stop the targets, and return the exit code. Ctrl-C or
 * SIGTERM aborts the scenarios, which tear down against the still-running targets before the
 * targets are stopped.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createVitest } from 'vitest/node';
import { type Adapter, InputError, type StartedTarget, type TargetMode } from '../../adapters/contract.ts';
import { loadAdapters } from '../../adapters/registry.ts';
import { buildHtmlReport } from '../../reports/html.ts';
import { buildSummary } from '../../reports/summary.ts';
import { closingLine, renderTable } from '../../reports/terminal.ts';
import { renderJunit } from '../../reports/junit.ts';
import { applyWaivers, loadWaivers, type Waiver } from '../../reports/waivers.ts';
import { loadBuiltinScenarios, PROJECT_ROOT } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { post, runChannel, type RunMessage } from '../channel.ts';
import { evidenceDir, RUN_ENV, type RunContext } from '../run-context.ts';
import { bringUp, effectiveMode } from '../targets.ts';
import { adapterSections, loadConfig } from './config.ts';
import { progressPrinter } from './progress.ts';
import { QuietReporter } from './quiet-reporter.ts';

export interface RunFlags {
  suite?: string[];
  scenario?: string[];
  target?: TargetMode;
  config?: string;
  out?: string;
  concurrency?: number;
  html?: boolean;
  waivers?: string | false;
}

export const DEFAULT_OUT = 'reports/out';
/** Waivers the embedded local targets ship with: their documented gaps, accepted and visible. */
export const LOCAL_WAIVERS = join(PROJECT_ROOT, 'waivers', 'local.yaml');

export function suiteFile(name: string): string {
  return join(PROJECT_ROOT, 'suites', `${name}.suite.ts`);
}

export function newRunId(): string {
  // Short (names on targets have length limits), time-ordered, unique enough across runs.
  return `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString('hex').slice(0, 3)}`;
}

interface Plan {
  runId: string;
  mode: TargetMode;
  outDir: string;
  adapters: Adapter[];
  scenarios: Scenario[];
  waivers: Waiver[];
  concurrency: number;
  sections: Record<string, Record<string, unknown>>;
}

/** Everything that can be wrong with the input is found here, before any target is touched. */
async function plan(flags: RunFlags, log: (l: string) => void): Promise<Plan> {
  const config = loadConfig(flags.config);
  const known = [...(await loadAdapters()).values()].filter((a) => existsSync(suiteFile(a.name)));
  const names = flags.suite ?? config.suites ?? known.map((a) => a.name);
  for (const name of names) {
    if (!known.some((a) => a.name === name)) throw new InputError(`--suite: unknown suite "${name}" (known: ${known.map((a) => a.name).join(', ')})`);
  }
  const adapters = known.filter((a) => names.includes(a.name));
  const all = await loadBuiltinScenarios(adapters.map((a) => a.name));
  const wanted = flags.scenario ?? config.scenarios ?? [];
  for (const id of wanted) {
    if (!all.some((s) => s.id === id)) throw new InputError(`--scenario: no scenario "${id}" in suites ${names.join(', ')}`);
  }
  const scenarios = all.filter((s) => wanted.length === 0 || wanted.includes(s.id));
  const concurrency = flags.concurrency ?? config.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InputError(`--concurrency: must be a whole number of at least 1`);
  const mode = await effectiveMode(flags.target ?? config.target ?? 'local', log);
  const waiverFile = flags.waivers === false ? undefined : (flags.waivers ?? config.waivers ?? (mode === 'local' && existsSync(LOCAL_WAIVERS) ? LOCAL_WAIVERS : undefined));
  const waivers = waiverFile ? loadWaivers(waiverFile) : [];
  return {
    runId: newRunId(),
    mode,
    outDir: resolve(flags.out ?? config.out ?? DEFAULT_OUT),
    adapters: adapters.filter((a) => scenarios.some((s) => s.adapter === a.name)),
    scenarios,
    waivers,
    concurrency,
    sections: adapterSections(config, adapters.map((a) => a.name)),
  };
}

/** A fresh run owns its output dir: earlier results there would mix into this run's report. */
function prepareOut(outDir: string): void {
  for (const entry of ['allure-results', 'evidence', 'html', 'junit.xml', 'summary.json']) rmSync(join(outDir, entry), { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
}

export async function runCommand(flags: RunFlags, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const p = await plan(flags, log);
  const startedAt = new Date().toISOString();

  const channel = runChannel(p.runId);
  const show = progressPrinter();
  channel.onmessage = (event) => show((event as MessageEvent).data as RunMessage);
  let interrupted: string | undefined;
  let targets: StartedTarget[] = [];
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      log(`${signal} again: stopping the targets now`);
      void Promise.allSettled(targets.map((t) => t.stop())).then(() => process.exit(2));
      return;
    }
    interrupted = signal;
    log(`${signal}: ending the scenarios; what they created is being removed (press again to stop at once)`);
    // Scenarios not yet started see the abort too and end at once; no vitest cancel is needed.
    post(channel, { type: 'abort', reason: signal });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const reporter = new QuietReporter();
  try {
    targets = await bringUp(p.adapters, { runId: p.runId, projectRoot: PROJECT_ROOT, mode: p.mode, config: p.sections, log });
    // Only once every target answers is the output dir touched: bad input leaves nothing behind.
    prepareOut(p.outDir);
    log(`jitc run ${p.runId}: ${p.scenarios.length} scenarios on ${p.adapters.map((a) => a.name).join(', ')} (${p.mode} targets), concurrency ${p.concurrency}`);
    if (!interrupted) {
      const context: RunContext = {
        runId: p.runId,
        startedAt,
        outDir: p.outDir,
        connections: Object.fromEntries(targets.map((t) => [t.connection.adapter, t.connection])),
        scenarios: p.scenarios.map((s) => s.id),
        waivers: p.waivers,
      };
      process.env[RUN_ENV] = JSON.stringify(context);
      const signalListeners = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
      const vitest = await createVitest('test', {
        config: false,
        root: PROJECT_ROOT,
        include: ['suites/*.suite.ts'],
        pool: 'threads',
        maxWorkers: Math.max(1, p.adapters.length),
        maxConcurrency: p.concurrency,
        testTimeout: 3_600_000,
        hookTimeout: 120_000,
        watch: false,
        reporters: [['allure-vitest/reporter', { resultsDir: join(p.outDir, 'allure-results') }], reporter],
      });
      // Vitest's logger exits the process on SIGINT/SIGTERM; here the harness must first tear down
      // against live targets, so only the harness's own handler may answer those signals.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        for (const listener of process.listeners(signal)) if (!signalListeners[signal].includes(listener)) process.off(signal, listener);
      }
      try {
        await vitest.start(p.adapters.map((a) => suiteFile(a.name)));
      } finally {
        await vitest.close();
        delete process.env[RUN_ENV];
      }
    }
  } finally {
    await Promise.allSettled(targets.map((t) => t.stop()));
    channel.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const results = collectResults(p, interrupted);
  const waiverReport = applyWaivers(results, p.waivers);
  const summary = buildSummary(p.runId, startedAt, results, waiverReport);
  if (interrupted || reporter.problems.length > 0) summary.exitCode = Math.max(summary.exitCode, 2) as 2;
  writeFileSync(join(p.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(p.outDir, 'junit.xml'), renderJunit(results, p.runId));
  if (flags.html) {
    const index = await buildHtmlReport(p.outDir, `jitc run ${p.runId}`);
    log(`HTML report: ${index}`);
  }

  process.stdout.write(`\n${renderTable(summary)}\n\n`);
  for (const problem of reporter.problems) process.stdout.write(`error: ${problem}\n`);
  for (const w of waiverReport.expired) process.stdout.write(`waiver ${w.waiver} expired on ${w.expired}: ${w.scenario} stays fail\n`);
  for (const w of waiverReport.unused) process.stdout.write(`waiver ${w} covered nothing in this run\n`);
  if (interrupted) process.stdout.write(`interrupted by ${interrupted}: targets stopped, created objects removed\n`);
  process.stdout.write(`reports: ${p.outDir} (summary.json, junit.xml, allure-results/${flags.html ? ', html/index.html' : ''})\n`);
  process.stdout.write(`${closingLine(summary)}\n`);
  return summary.exitCode;
}

/** Evidence files the suites wrote; a scenario without one did not finish and counts as inconclusive. */
function collectResults(p: Plan, interrupted: string | undefined): ScenarioResult[] {
  const dir = evidenceDir(p.outDir);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  const results = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult);
  for (const scenario of p.scenarios) {
    if (results.some((r) => r.adapter === scenario.adapter && r.id === scenario.id)) continue;
    const now = new Date().toISOString();
    const why = interrupted ? `run interrupted by ${interrupted} before the scenario started` : 'the scenario did not run to a result (see errors above)';
    results.push({
      id: scenario.id,
      title: scenario.title,
      proves: scenario.proves,
      adapter: scenario.adapter,
      mechanism: scenario.mechanism,
      severity: scenario.severity,
      source: scenario.source,
      target: { mode: p.mode, address: '', facts: {} },
      runId: p.runId,
      startedAt: now,
      finishedAt: now,
      verdict: 'inconclusive',
      checks: [{ name: 'lifecycle-completed', title: 'The lifecycle ran to its end', verdict: 'inconclusive', detail: why, severity: 'high', controls: ['NIST-CSF-PR.AC-4'] }],
      controls: ['NIST-CSF-PR.AC-4'],
      metrics: { ttlSeconds: null, ttlRequestedSeconds: null, revocationLatencyMs: null, sessionOutlivedTtlMs: 0, privilegeWidth: null, residue: 0 },
      task: { id: `${p.runId}/${scenario.id}`, approver: scenario.task.approver, windowSeconds: scenario.task.windowSeconds, needs: scenario.task.needs, endMode: scenario.end.mode },
      grant: null,
      residue: [],
      phases: [],
      teardown: { removed: [], errors: [] },
      evidence: [],
    });
  }
  return results;
}
