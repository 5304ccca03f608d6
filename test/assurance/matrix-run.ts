/**
 * Running the assurance matrix: every setup of an adapter — its conformant built-in scenarios,
 * their broken twins, and the further broken setups under test/mutants/ — against the adapter's
 * real local target, all at once (their waits overlap), then judging each result against what the
 * setup must produce. Shared by the mutants test and the script that writes docs/assurance.md, so
 * both reach a verdict the same way.
 */
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import type { CleanupReport } from '../../adapters/contract.ts';
import { adapterNames } from '../../adapters/registry.ts';
import { loadWaivers, type Waiver } from '../../reports/waivers.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import type { Verdict } from '../../scenarios/verdict.ts';
import { testRunId } from '../support/run-id.ts';
import { loadVariants } from '../support/twins.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { startScenarioTargets } from '../support/scenario-targets.ts';

// Every adapter in the registry: a new adapter joins the matrix without a list to edit.
export const ADAPTERS: readonly string[] = adapterNames();

/** The local targets' documented gaps: the waivers shipped for them, the project's one statement of those gaps. */
export const LOCAL_GAPS_FILE = join(PROJECT_ROOT, 'waivers', 'local.yaml');

export type SetupKind = 'conformant' | 'twin' | 'mutant';

export interface KnownGap {
  waiver: string;
  /** The checks the local target is known to fail for this scenario. */
  checks: string[];
  justification: string;
}

/** One row of the matrix before it ran: a scenario and what it must come out as. */
export interface MatrixSetup {
  kind: SetupKind;
  adapter: string;
  scenario: Scenario;
  /** The built-in scenario it is (conformant) or breaks (twin, mutant). */
  of: string;
  /** The broken setup in words; undefined for a conformant one. */
  broken?: string;
  /** Checks that must fail (twin, mutant); empty for a conformant setup. */
  mustFail: string[];
  /** A conformant setup the local target is documented to fail. */
  knownGap?: KnownGap;
}

/**
 * - `caught`: a broken setup reported `fail` on every check it names;
 * - `missed`: a broken setup that did not — a defect of the harness;
 * - `pass`: a conformant setup that passed;
 * - `known-gap`: a conformant setup failing only the checks its documented local gap names;
 * - `unexpected`: a conformant setup with any other verdict.
 */
export type Outcome = 'caught' | 'missed' | 'pass' | 'known-gap' | 'unexpected';

export interface MatrixRow extends Omit<MatrixSetup, 'scenario'> {
  id: string;
  verdict: Verdict;
  failedChecks: string[];
  inconclusiveChecks: string[];
  outcome: Outcome;
  /** Why the outcome is what it is, in one line (the missing checks of a missed mutant…). */
  note: string;
  durationMs: number;
}

export interface AdapterRun {
  adapter: string;
  runId: string;
  /** What the target says about itself: product, version, mode. */
  facts: Record<string, string>;
  rows: MatrixRow[];
  results: ScenarioResult[];
  /** Every secret value the run knew, to prove none reached a result. */
  secrets: SecretRegistry;
  /** What a sweep by the run id still found after every teardown: must be nothing. */
  leftovers: CleanupReport;
  wallMs: number;
}

function localGaps(adapter: string): Map<string, KnownGap> {
  const gaps = new Map<string, KnownGap>();
  const applies = (w: Waiver): boolean => w.adapter === adapter && (w.target === 'local' || w.target === 'any');
  for (const w of loadWaivers(LOCAL_GAPS_FILE).filter(applies)) {
    gaps.set(w.scenario, { waiver: w.id, checks: w.checks ?? [], justification: w.justification.replace(/\s+/g, ' ').trim() });
  }
  return gaps;
}

/** The setups of one adapter, of the kinds asked for, in the order the matrix lists them. */
export async function loadSetups(adapter: string, kinds: readonly SetupKind[]): Promise<MatrixSetup[]> {
  const setups: MatrixSetup[] = [];
  if (kinds.includes('conformant')) {
    const gaps = localGaps(adapter);
    for (const scenario of await loadBuiltinScenarios([adapter])) {
      const gap = gaps.get(scenario.id);
      setups.push({ kind: 'conformant', adapter, scenario, of: scenario.id, mustFail: [], ...(gap ? { knownGap: gap } : {}) });
    }
  }
  for (const kind of ['twin', 'mutant'] as const) {
    if (!kinds.includes(kind)) continue;
    for (const v of await loadVariants(adapter, kind === 'twin' ? 'twins' : 'mutants')) {
      setups.push({ kind, adapter, scenario: v.scenario, of: v.of, broken: v.broken, mustFail: v.failedChecks });
    }
  }
  return setups;
}

const checksWith = (result: ScenarioResult, verdict: string): string[] => result.checks.filter((c) => c.verdict === verdict).map((c) => c.name);

/** What a result means for its setup. */
export function judgeRow(setup: MatrixSetup, result: ScenarioResult): MatrixRow {
  const failedChecks = [...new Set(checksWith(result, 'fail'))];
  const inconclusiveChecks = [...new Set(checksWith(result, 'inconclusive'))];
  const { scenario: _scenario, ...rest } = setup;
  const row = (outcome: Outcome, note: string): MatrixRow => ({
    ...rest,
    id: result.id,
    verdict: result.verdict,
    failedChecks,
    inconclusiveChecks,
    outcome,
    note,
    durationMs: Date.parse(result.finishedAt) - Date.parse(result.startedAt),
  });
  if (setup.kind !== 'conformant') {
    const missing = setup.mustFail.filter((c) => !failedChecks.includes(c));
    if (result.verdict === 'fail' && missing.length === 0) return row('caught', `fails ${setup.mustFail.join(', ')} as it must`);
    return row('missed', `verdict ${result.verdict}; ${missing.length > 0 ? `not failed: ${missing.join(', ')}` : 'every named check failed, yet the verdict is not fail'}`);
  }
  if (result.verdict === 'pass') return row('pass', 'passes');
  const gap = setup.knownGap;
  if (gap && result.verdict === 'fail' && failedChecks.every((c) => gap.checks.includes(c))) {
    return row('known-gap', `known gap of the local target (${gap.waiver}): ${gap.justification}`);
  }
  return row('unexpected', `a conformant setup reported ${result.verdict}: failed ${failedChecks.join(', ') || 'none'}, inconclusive ${inconclusiveChecks.join(', ') || 'none'}`);
}

/**
 * Start the adapter's real local target (and that of any other half its setups name: a broker),
 * run every setup concurrently, judge each, sweep by the run id for anything the harness left, and
 * stop the targets — always.
 */
export async function runOnLocalTarget(adapterName: string, setups: readonly MatrixSetup[]): Promise<AdapterRun> {
  const runId = testRunId();
  const started = Date.now();
  const up = await startScenarioTargets(adapterName, setups.map((s) => s.scenario), runId);
  try {
    const secrets = new SecretRegistry();
    const signal = new AbortController().signal;
    setMaxListeners(0, signal);
    const results = await Promise.all(setups.map((setup) => runScenario(setup.scenario, { runId, targets: up.targets, signal, secrets })));
    const rows = setups.map((setup, i) => judgeRow(setup, results[i]!));
    const leftovers = await up.own.adapter.cleanup(up.own.client, runId);
    return { adapter: adapterName, runId, facts: up.own.connection.facts, rows, results, secrets, leftovers, wallMs: Date.now() - started };
  } finally {
    await up.stop();
  }
}

/** Every adapter at once: each has its own target, so their waits overlap too. */
export async function runMatrix(kinds: readonly SetupKind[], adapters: readonly string[] = ADAPTERS): Promise<AdapterRun[]> {
  const loaded = await Promise.all(adapters.map((a) => loadSetups(a, kinds)));
  return Promise.all(adapters.map((a, i) => runOnLocalTarget(a, loaded[i]!)));
}

/** Secret values of a run that appear anywhere in its results: must be none. */
export function leakedSecrets(run: AdapterRun): number {
  const text = JSON.stringify(run.results);
  return run.secrets.values().filter((value) => text.includes(value)).length;
}
